package dev.fluxerase.cuda;

import dev.fluxerase.cpu.NaiveBackend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.AttentionBounds;
import dev.fluxerase.testing.BoundedOps;
import dev.fluxerase.testing.ErrorBounds;
import dev.fluxerase.testing.RunningError;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static dev.fluxerase.cuda.CudaGpu.host;
import static dev.fluxerase.testing.BoundedOps.roundBf16;
import static dev.fluxerase.testing.ErrorBounds.U_F32;
import static dev.fluxerase.testing.ErrorBounds.U_TENSOR_CORE;
import static dev.fluxerase.testing.RandomData.gaussian;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Every CudaBackend op against NaiveBackend (f64 reference) on random data, each within the error bound of its kernel
 * derived from the test's own data (BoundedOps, with the derivation beside each check; CudaGpu.SAFETY above it): the
 * bf16 paths against the reference on the same bf16-rounded inputs, so that what is bounded is the kernels' own
 * arithmetic. Every check prints its measured error and bound (a BOUND line). On the stand-in every op runs its host
 * side; only copies, memsets and f32 GEMMs have numbers there, and only those are compared.
 */
@ExtendWith(CudaGpu.class)
class CudaBackendParityTest {
    @CudaGpu.Open
    private static CudaBackend gpu;
    @CudaGpu.Open(CudaBackend.AttentionKernels.REFERENCE_F32)
    private static CudaBackend gpuRef;
    private final NaiveBackend ref = new NaiveBackend();
    private final Random rnd = new Random(20250611);

    private float[] g(long n) {
        return gaussian(rnd, n, 1.0);
    }

    private Tensor dev(float[] v, long... shape) {
        return gpu.upload(v, shape);
    }

    private BoundedOps ops(CudaBackend be) {
        return new BoundedOps(be, CudaGpu.KERNELS, CudaGpu.GEMMS, rnd);
    }

    @Test
    void memoryOps() {
        Tensor z = gpu.allocate(DType.F32, 3, 5);
        assertArrayEquals(new float[15], gpu.download(z));
        float[] v = g(1000);
        Tensor t = dev(v, 10, 100);
        assertArrayEquals(v, gpu.download(t));
        Tensor b = gpu.allocate(DType.BF16, 10, 100);
        gpu.copy(t, b);
        float[] rounded = roundBf16(v);
        float[] bf16 = gpu.download(b);
        CudaGpu.kernelResult("cast to bf16", () -> assertArrayEquals(rounded, bf16));
        Tensor h = gpu.allocate(DType.F16, 1000);
        gpu.copy(t, h);
        float[] half = gpu.download(h);
        CudaGpu.kernelResult("cast to f16", () -> {
            for (int i = 0; i < v.length; i++) {
                assertEquals(Float.float16ToFloat(Float.floatToFloat16(v[i])), half[i], 0, "f16 at " + i);
            }
        });
        Tensor back = gpu.allocate(DType.F32, 1000);
        gpu.copy(b, back);
        float[] widened = gpu.download(back);
        CudaGpu.kernelResult("cast from bf16", () -> assertArrayEquals(rounded, widened));
        gpu.fill(t, 2.5f);
        gpu.fill(b, -1.25f);
        assertEquals(2.5f, gpu.download(t)[999]);
        float[] filled = gpu.download(b);
        CudaGpu.kernelResult("bf16 fill", () -> assertEquals(-1.25f, filled[0]));
        Tensor w = gpu.toDevice(Tensor.wrap(DType.BF16, java.lang.foreign.MemorySegment.ofArray(new short[]{
                Floats.f32ToBf16(1.5f), Floats.f32ToBf16(-3f)}), 2));
        assertArrayEquals(new float[]{1.5f, -3f}, gpu.download(w));
        gpu.free(w);
        assertThrows(IllegalArgumentException.class, () -> gpu.free(t.sliceRows(1, 2)));
    }

    /** write refills a tensor in place: the values arrive, nothing stays allocated, a bf16 tensor gets them rounded. */
    @Test
    void writeRefillsWithoutHoldingMemory() {
        Tensor t = gpu.allocate(DType.F32, 4, 25);
        Tensor b = gpu.allocate(DType.BF16, 100);
        long held = gpu.allocatedBytes();
        float[] v = g(100);
        gpu.write(t, v);
        gpu.write(b, v);
        assertEquals(held, gpu.allocatedBytes());
        assertArrayEquals(v, gpu.download(t));
        float[] rounded = roundBf16(v);
        float[] bf16 = gpu.download(b);
        CudaGpu.kernelResult("write to bf16", () -> assertArrayEquals(rounded, bf16));
        assertThrows(IllegalArgumentException.class, () -> gpu.write(t, new float[99]));
        gpu.free(t);
        gpu.free(b);
        assertEquals(held - 4 * 100 - 2 * 100, gpu.allocatedBytes());
    }

    @Test
    void copyStrided() {
        // split heads: [L=6, H*D=2*4] -> [H, L, D], then merge back with accumulate, and a stride-0 broadcast adjoint
        float[] x = g(48);
        long[] srcStrides = {4, 8, 1, 0};
        long[] dstStrides = {24, 4, 1, 0};
        long[] sizes = {2, 6, 4, 1};
        Tensor hs = host(x, 6, 8), hd = host(g(48), 2, 6, 4);
        Tensor ds = dev(x, 6, 8), dd = dev(Floats.toF32(hd), 2, 6, 4);
        ref.copyStrided(hs, 0, srcStrides, hd, 0, dstStrides, sizes, false);
        gpu.copyStrided(ds, 0, srcStrides, dd, 0, dstStrides, sizes, false);
        float[] split = gpu.download(dd);
        CudaGpu.kernelResult("split heads", () -> assertArrayEquals(Floats.toF32(hd), split));
        ref.copyStrided(hd, 0, dstStrides, hs, 0, srcStrides, sizes, true);
        gpu.copyStrided(dd, 0, dstStrides, ds, 0, srcStrides, sizes, true);
        float[] merged = gpu.download(ds);
        CudaGpu.kernelResult("merge heads", () -> assertArrayEquals(Floats.toF32(hs), merged));
        Tensor hsum = host(new float[4], 4), dsum = dev(new float[4], 4);
        long[] zero = {0, 0, 0, 1};
        ref.copyStrided(hs, 3, new long[]{8, 1, 0, 1}, hsum, 0, zero, new long[]{6, 1, 1, 4}, true);
        gpu.copyStrided(ds, 3, new long[]{8, 1, 0, 1}, dsum, 0, zero, new long[]{6, 1, 1, 4}, true);
        // hsum_j = Σ_{i<6} hs[3 + 8i + j]: both sides add the six terms to 0 in f32 in an order of their own (the
        // reference too, and atomics here), each within γ_5 of the exact sum
        float[] terms = Floats.toF32(hs);
        double[] magnitude = new double[4];
        for (int i = 0; i < 6; i++) {
            for (int j = 0; j < 4; j++) {
                magnitude[j] += Math.abs(terms[3 + 8 * i + j]);
            }
        }
        CudaGpu.checkKernel("broadcast adjoint", hsum, gpu.download(dsum),
                () -> 2 * ErrorBounds.gamma(5, U_F32) * ErrorBounds.max(magnitude));
        assertThrows(IllegalArgumentException.class,
                () -> gpu.copyStrided(ds, 1, srcStrides, dd, 0, dstStrides, sizes, false));
    }

    /** No kernel on this path: the stand-in's cuBLASLt computes the GEMM, so it is compared there too. */
    @Test
    void gemmF32EveryTranspose() {
        ops(gpu).gemmEveryTranspose();
    }

    @Test
    void gemmBf16AndF16WeightsAndBetaZeroIgnoresNaN() {
        long m = 100, n = 96, k = 3072;
        float[] a = g(m * k), w = roundBf16(gaussian(rnd, n * k, 0.02));
        Tensor wb = gpu.allocate(DType.BF16, n, k);
        gpu.copy(dev(w, n, k), wb);
        float[] nan = new float[(int) (m * n)];
        java.util.Arrays.fill(nan, Float.NaN);
        Tensor dc = dev(nan, m, n);
        gpu.gemm(false, true, 1, dev(a, m, k), wb, 0, dc);
        Tensor hc = host(new float[(int) (m * n)], m, n);
        ref.gemm(false, true, 1, host(roundBf16(a), m, k), host(w, n, k), 0, hc);
        // The reference multiplies the same bf16-rounded activations, so what differs is the tensor cores' sum of
        // k = 3072 exact bf16 products in f32 (unit 2⁻²³: their adds truncate).
        float[] zero = new float[(int) (m * n)];
        CudaGpu.checkKernel("linear with bf16 weight", hc, gpu.download(dc), () -> ErrorBounds.gemm(U_TENSOR_CORE, k,
                ErrorBounds.gemmMagnitude(false, true, 1, host(roundBf16(a), m, k), host(w, n, k), 0, zero, m, n)));

        float[] w16 = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            w16[i] = Float.float16ToFloat(Float.floatToFloat16(w[i]));
        }
        Tensor wh = gpu.allocate(DType.F16, n, k);
        gpu.copy(dev(w16, n, k), wh);
        gpu.gemm(false, true, 1, dev(a, m, k), wh, 0, dc);
        ref.gemm(false, true, 1, host(a, m, k), host(w16, n, k), 0, hc);
        // the f16 weight is widened and the GEMM runs in f32 on the unrounded activations
        CudaGpu.checkKernel("linear with f16 weight", hc, gpu.download(dc), () -> ErrorBounds.gemm(U_F32, k,
                ErrorBounds.gemmMagnitude(false, true, 1, host(a, m, k), host(w16, n, k), 0, zero, m, n)));
    }

    /** linear's GEMM runs bf16 × bf16 on tensor cores (the weight is bf16): unit U_TENSOR_CORE. */
    @Test
    void linear() {
        ops(gpu).linear(U_TENSOR_CORE);
    }

    /** BF16 activations in gemm (bf16 × bf16 on tensor cores), the GELU backward and copyStrided. */
    @Test
    void bf16Activations() {
        ops(gpu).bf16Activations(U_TENSOR_CORE);
    }

    @Test
    void biasAndElementwise() {
        ops(gpu).biasAndElementwise();
    }

    @Test
    void activationsAndSoftmax() {
        ops(gpu).activationsAndSoftmax();
    }

    @Test
    void norms() {
        ops(gpu).norms();
    }

    @Test
    void modulationAndGate() {
        ops(gpu).modulationAndGate();
    }

    @Test
    void rope() {
        ops(gpu).rope();
    }

    /**
     * conv2d and groupNorm within BoundedOps' bounds; the convs once more with column tiles of at most 1000 elements,
     * so that a tile holds a few output pixels, tiles end mid-row and mid-image, and the GEMMs write y at offsets that
     * are not 16-byte multiples.
     */
    @Test
    void convAndGroupNorm() {
        ops(gpu).conv2d();
        ops(gpu).conv2d("tiled ", (x, w, bias, y, g, accumulate) -> gpu.conv2d(x, w, bias, y, g, accumulate, 1000));
        ops(gpu).groupNorm();
    }

    /**
     * attn_probs for chosen key columns, against the reference's full probabilities at those columns: the same bound as
     * every probability (the score recomputed in f32, the forward's lse subtracted, expf).
     */
    private void columnProbabilities(CudaBackend be, BoundedOps.Attended a) {
        int[] cols = {0, a.lk() - 1, a.lk() / 2};
        int rows = a.probs().length / a.lk();
        Tensor pc = be.upload(new float[rows * cols.length], 2, 3, rows / 6, cols.length);
        be.attentionColumnProbabilities(a.q(), a.k(), a.lse(), cols, a.scale(), pc);
        float[] chosen = new float[rows * cols.length];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols.length; j++) {
                chosen[r * cols.length + j] = a.probs()[r * a.lk() + cols[j]];
            }
        }
        CudaGpu.checkKernel(a.what() + " chosen columns", chosen, be.download(pc),
                () -> ErrorBounds.max(ErrorBounds.againstF64Reference(a.bounds().probs(chosen, cols.length), chosen)));
    }

    @Test
    void flashAttentionMatchesTheReferenceOnRaggedLengths() {
        for (int[] c : new int[][]{{100, 77}, {64, 200}, {1, 1}}) {
            columnProbabilities(gpu, ops(gpu).attention(AttentionBounds.FLASH_BF16, true, c[0], c[1], 128));
        }
    }

    @Test
    void referenceAttentionKernelsMatchForAnyHeadDim() {
        columnProbabilities(gpuRef, ops(gpuRef).attention(AttentionBounds.REFERENCE_F32, false, 45, 45, 128));
        columnProbabilities(gpuRef, ops(gpuRef).attention(AttentionBounds.REFERENCE_F32, false, 33, 70, 64));
        // head dim 40 is not the tensor-core kernels': the flash backend runs the f32 reference kernels
        columnProbabilities(gpu, ops(gpu).attention(AttentionBounds.REFERENCE_F32, false, 20, 30, 40));
    }

    /**
     * The bf16 AdamW step is exactly determined (every op rounds to bf16, multiply-adds fused as stated), so the kernel
     * must give the reference's bits; both lerp forms (w1 below and above ½) and a parameter near a bf16 tie.
     */
    @Test
    void adamwBf16BitForBit() {
        int n = 3000;
        for (float w1 : new float[]{0.1f, 0.75f}) {
            float[] p = roundBf16(g(n)), gr = g(n), m = roundBf16(gaussian(rnd, n, 0.1)),
                    v = roundBf16(ErrorBounds.abs(gaussian(rnd, n, 0.01)));
            p[0] = 1 + 0x1p-8f;
            Tensor hp = host(p, n), hm = host(m, n), hv = host(v, n);
            Tensor dp = dev(p, n), dm = dev(m, n), dv = dev(v, n);
            for (int step = 1; step <= 3; step++) {
                float bc2Sqrt = (float) Math.sqrt(1 - Math.pow(0.999, step));
                float stepSize = (float) (-1e-3 / (1 - Math.pow(0.9, step)));
                ref.adamwBf16(hp, host(gr, n), hm, hv, 0.99f, w1, 0.999f, 0.001f, bc2Sqrt, 1e-8f, stepSize);
                gpu.adamwBf16(dp, dev(gr, n), dm, dv, 0.99f, w1, 0.999f, 0.001f, bc2Sqrt, 1e-8f, stepSize);
            }
            float[] param = gpu.download(dp), first = gpu.download(dm), second = gpu.download(dv);
            CudaGpu.kernelResult("adamwBf16 bits", () -> {
                assertArrayEquals(Floats.toF32(hp), param, "param, w1 " + w1);
                assertArrayEquals(Floats.toF32(hm), first, "m, w1 " + w1);
                assertArrayEquals(Floats.toF32(hv), second, "v, w1 " + w1);
            });
        }
    }

    @Test
    void adamw() {
        ops(gpu).adamw();

        // one launch over many tensors, including an empty one
        int[] sizes = {7, 0, 300, 1};
        List<float[]> params = new ArrayList<>(), grads = new ArrayList<>();
        List<Tensor> hps = new ArrayList<>(), dps = new ArrayList<>(), dgs = new ArrayList<>(), dms = new ArrayList<>(),
                dvs = new ArrayList<>();
        for (int s : sizes) {
            float[] p = g(s), gr = g(s);
            params.add(p);
            grads.add(gr);
            Tensor hp = host(p, s);
            ref.adamw(hp, host(gr, s), host(new float[s], s), host(new float[s], s), 1e-2f, 0.9f, 0.99f, 1e-8f, 0.1f, 1);
            hps.add(hp);
            dps.add(dev(p, s));
            dgs.add(dev(gr, s));
            dms.add(dev(new float[s], s));
            dvs.add(dev(new float[s], s));
        }
        gpu.adamwAll(dps, dgs, dms, dvs, 1e-2f, 0.9f, 0.99f, 1e-8f, 0.1f, 1);
        for (int i = 0; i < sizes.length; i++) {
            float[] p = params.get(i), gr = grads.get(i);
            CudaGpu.checkKernel("adamwAll param " + i, hps.get(i), gpu.download(dps.get(i)),
                    () -> ErrorBounds.max(RunningError.againstF64Reference(p.length, j -> BoundedOps.AdamwState.step(p[j],
                            gr[j], 0, 0, 1e-2f, 0.9f, 0.99f, 1e-8f, 0.1f, 1).p())));
        }
    }
}
