package dev.fluxerase.cuda;

import dev.fluxerase.cpu.NaiveBackend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.ErrorBounds;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.List;
import java.util.Random;

import static dev.fluxerase.cuda.CudaGpu.assertClose;
import static dev.fluxerase.cuda.CudaGpu.host;
import static dev.fluxerase.cuda.CudaGpu.roundBf16;
import static dev.fluxerase.testing.ErrorBounds.U_F32;
import static dev.fluxerase.testing.ErrorBounds.U_TENSOR_CORE;
import static dev.fluxerase.testing.RandomData.gaussian;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Every CudaBackend op against NaiveBackend (f64 reference) on random data. Tolerances, relative to max|expected|:
 * F32_TOL for f32 kernels (float accumulation and 2-ulp expf/tanhf against double); bf16 GEMM is compared against
 * the reference on bf16-rounded activations, so only f32 accumulation order differs (F32_TOL again); the tensor-core
 * attention rounds q, k, v, P and dS to bf16 and is held to BF16_TOL against the reference on rounded q, k, v.
 * Backward ops start from random gradients on both sides, which checks that they add. On the stand-in every op runs
 * its host side; only copies, memsets and f32 GEMMs have numbers there, and only those are compared.
 */
@ExtendWith(CudaGpu.class)
class CudaBackendParityTest {
    private static final double F32_TOL = 2e-5;
    private static final double BF16_TOL = 1.5e-2;
    private static CudaBackend gpu;
    private static CudaBackend gpuRef;
    private final NaiveBackend ref = new NaiveBackend();
    private final Random rnd = new Random(20250611);

    @BeforeAll
    static void setUp() {
        if (CudaGpu.available()) {
            gpu = CudaGpu.backend(CudaBackend.AttentionKernels.FLASH_BF16);
            gpuRef = CudaGpu.backend(CudaBackend.AttentionKernels.REFERENCE_F32);
        }
    }

    @AfterAll
    static void tearDown() {
        if (gpu != null) {
            gpu.close();
        }
        if (gpuRef != null) {
            gpuRef.close();
        }
    }

    private float[] g(long n) {
        return gaussian(rnd, n, 1.0);
    }

    private Tensor dev(float[] v, long... shape) {
        return gpu.upload(v, shape);
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
        assertClose("broadcast adjoint", hsum, gpu.download(dsum), F32_TOL);
        assertThrows(IllegalArgumentException.class,
                () -> gpu.copyStrided(ds, 1, srcStrides, dd, 0, dstStrides, sizes, false));
    }

    /** No kernel on this path: the stand-in's cuBLASLt computes the GEMM, so it is compared there too. */
    @Test
    void gemmF32EveryTranspose() {
        long m = 67, n = 45, k = 130;
        for (boolean ta : new boolean[]{false, true}) {
            for (boolean tb : new boolean[]{false, true}) {
                float[] a = g(m * k), b = g(k * n), c = g(m * n);
                long[] as = ta ? new long[]{k, m} : new long[]{m, k};
                long[] bs = tb ? new long[]{n, k} : new long[]{k, n};
                Tensor hc = host(c, m, n), dc = dev(c, m, n);
                ref.gemm(ta, tb, 0.75f, host(a, as), host(b, bs), 0.5f, hc);
                gpu.gemm(ta, tb, 0.75f, dev(a, as), dev(b, bs), 0.5f, dc);
                // cuBLASLt's f32 GEMM (CUBLAS_COMPUTE_32F, no TF32) sums k = 130 products in f32, in an order of its own
                float[] mag = ErrorBounds.gemmMagnitude(ta, tb, 0.75f, host(a, as), host(b, bs), 0.5f, c, m, n);
                CudaGpu.check("gemm f32 ta=" + ta + " tb=" + tb, Floats.toF32(hc), gpu.download(dc),
                        ErrorBounds.gemm(U_F32, k, mag));
            }
        }
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

    @Test
    void biasAndElementwise() {
        long r = 33, c = 70;
        float[] y = g(r * c), bias = g(c), x = g(r * c);
        Tensor hy = host(y, r, c), dy = dev(y, r, c);
        ref.addBias(hy, host(bias, c));
        gpu.addBias(dy, dev(bias, c));
        assertClose("addBias", hy, gpu.download(dy), F32_TOL);
        Tensor bb = gpu.allocate(DType.BF16, c);
        gpu.copy(dev(bias, c), bb);
        ref.addBias(hy, host(roundBf16(bias), c));
        gpu.addBias(dy, bb);
        assertClose("addBias bf16", hy, gpu.download(dy), F32_TOL);

        float[] db = g(c);
        Tensor hdb = host(db, c), ddb = dev(db, c);
        ref.sumRows(host(x, r, c), hdb);
        gpu.sumRows(dev(x, r, c), ddb);
        assertClose("sumRows", hdb, gpu.download(ddb), F32_TOL);

        ref.axpy(-0.3f, host(x, r, c), hy);
        gpu.axpy(-0.3f, dev(x, r, c), dy);
        assertClose("axpy", hy, gpu.download(dy), F32_TOL);
        Tensor hm = host(new float[(int) (r * c)], r, c), dm = dev(new float[(int) (r * c)], r, c);
        ref.mul(host(x, r, c), hy, hm);
        gpu.mul(dev(x, r, c), dy, dm);
        assertClose("mul", hm, gpu.download(dm), F32_TOL);
        ref.scale(hm, 1.7f);
        gpu.scale(dm, 1.7f);
        assertClose("scale", hm, gpu.download(dm), F32_TOL);

        float[] big = g(3_000_001);
        Tensor dbig = dev(big, big.length);
        double s = ref.sum(host(big, big.length)), gs = gpu.sum(dbig);
        CudaGpu.kernelResult("sum", () -> assertEquals(s, gs, 1e-9 * big.length));
        double dot = ref.dot(host(big, big.length), host(big, big.length)), gdot = gpu.dot(dbig, dbig);
        CudaGpu.kernelResult("dot", () -> assertEquals(dot, gdot, 1e-12 * dot));
    }

    @Test
    void activationsAndSoftmax() {
        long r = 17, c = 301;
        float[] x = gaussian(rnd, r * c, 3), dy = g(r * c), dx = g(r * c);
        for (String op : List.of("silu", "gelu")) {
            Tensor hy = host(new float[(int) (r * c)], r, c), dyv = dev(new float[(int) (r * c)], r, c);
            Tensor hdx = host(dx, r, c), ddx = dev(dx, r, c);
            if (op.equals("silu")) {
                ref.silu(host(x, r, c), hy);
                gpu.silu(dev(x, r, c), dyv);
                ref.siluBackward(host(dy, r, c), host(x, r, c), hdx);
                gpu.siluBackward(dev(dy, r, c), dev(x, r, c), ddx);
            } else {
                ref.geluTanh(host(x, r, c), hy);
                gpu.geluTanh(dev(x, r, c), dyv);
                ref.geluTanhBackward(host(dy, r, c), host(x, r, c), hdx);
                gpu.geluTanhBackward(dev(dy, r, c), dev(x, r, c), ddx);
            }
            assertClose(op, hy, gpu.download(dyv), F32_TOL);
            assertClose(op + " backward", hdx, gpu.download(ddx), F32_TOL);
        }
        Tensor hy = host(x, r, c), dyv = dev(x, r, c);
        ref.softmax(hy, hy);
        gpu.softmax(dyv, dyv);
        assertClose("softmax in place", hy, gpu.download(dyv), F32_TOL);
        Tensor hdx = host(dx, r, c), ddx = dev(dx, r, c);
        ref.softmaxBackward(host(dy, r, c), hy, hdx);
        gpu.softmaxBackward(dev(dy, r, c), dyv, ddx);
        assertClose("softmax backward", hdx, gpu.download(ddx), F32_TOL);
    }

    @Test
    void norms() {
        long r = 40, c = 3072;
        float[] x = gaussian(rnd, r * c, 2), dy = g(r * c), dx = g(r * c);
        Tensor hy = host(new float[(int) (r * c)], r, c), dyv = dev(new float[(int) (r * c)], r, c);
        Tensor hmean = host(new float[(int) r], r), hrstd = host(new float[(int) r], r);
        Tensor dmean = dev(new float[(int) r], r), drstd = dev(new float[(int) r], r);
        ref.layerNorm(host(x, r, c), hy, hmean, hrstd, 1e-6f);
        gpu.layerNorm(dev(x, r, c), dyv, dmean, drstd, 1e-6f);
        assertClose("layerNorm", hy, gpu.download(dyv), F32_TOL);
        assertClose("layerNorm mean", hmean, gpu.download(dmean), F32_TOL);
        assertClose("layerNorm rstd", hrstd, gpu.download(drstd), F32_TOL);
        gpu.layerNorm(dev(x, r, c), dyv, null, null, 1e-6f);
        assertClose("layerNorm without stats", hy, gpu.download(dyv), F32_TOL);
        Tensor hdx = host(dx, r, c), ddx = dev(dx, r, c);
        ref.layerNormBackward(host(dy, r, c), host(x, r, c), hmean, hrstd, hdx);
        gpu.layerNormBackward(dev(dy, r, c), dev(x, r, c), dmean, drstd, ddx);
        assertClose("layerNorm backward", hdx, gpu.download(ddx), F32_TOL);

        long rows = 24 * 37, d = 128;
        float[] q = gaussian(rnd, rows * d, 3), w = roundBf16(gaussian(rnd, d, 1)), gq = g(rows * d), dq0 = g(rows * d);
        float[] dw0 = g(d);
        Tensor wb = gpu.allocate(DType.BF16, d);
        gpu.copy(dev(w, d), wb);
        Tensor hq = host(new float[(int) (rows * d)], rows, d), dqv = dev(new float[(int) (rows * d)], rows, d);
        Tensor hr = host(new float[(int) rows], rows), dr = dev(new float[(int) rows], rows);
        ref.rmsNorm(host(q, rows, d), host(w, d), hq, hr, 1e-6f);
        gpu.rmsNorm(dev(q, rows, d), wb, dqv, dr, 1e-6f);
        assertClose("rmsNorm bf16 weight", hq, gpu.download(dqv), F32_TOL);
        Tensor hdq = host(dq0, rows, d), ddq = dev(dq0, rows, d), hdw = host(dw0, d), ddw = dev(dw0, d);
        ref.rmsNormBackward(host(gq, rows, d), host(q, rows, d), host(w, d), hr, hdq, hdw);
        gpu.rmsNormBackward(dev(gq, rows, d), dev(q, rows, d), wb, dr, ddq, ddw);
        assertClose("rmsNorm backward dx", hdq, gpu.download(ddq), F32_TOL);
        assertClose("rmsNorm backward dw", hdw, gpu.download(ddw), 1e-4);
        gpu.rmsNormBackward(dev(gq, rows, d), dev(q, rows, d), wb, dr, ddq, null);
    }

    @Test
    void modulationAndGate() {
        long b = 2, t = 150, c = 96, k = 6;
        float[] x = g(b * t * c), mod = gaussian(rnd, b * k * c, 0.5), dy = g(b * t * c), dx = g(b * t * c);
        float[] dmod = g(b * k * c);
        Tensor hy = host(new float[(int) (b * t * c)], b, t, c), dyv = dev(new float[(int) (b * t * c)], b, t, c);
        ref.modulate(host(x, b, t, c), host(mod, b, k * c), 3, 4, hy);
        gpu.modulate(dev(x, b, t, c), dev(mod, b, k * c), 3, 4, dyv);
        assertClose("modulate", hy, gpu.download(dyv), F32_TOL);
        Tensor hdx = host(dx, b, t, c), ddx = dev(dx, b, t, c), hdm = host(dmod, b, k * c), ddm = dev(dmod, b, k * c);
        ref.modulateBackward(host(dy, b, t, c), host(x, b, t, c), host(mod, b, k * c), 3, 4, hdx, hdm);
        gpu.modulateBackward(dev(dy, b, t, c), dev(x, b, t, c), dev(mod, b, k * c), 3, 4, ddx, ddm);
        assertClose("modulate backward dx", hdx, gpu.download(ddx), F32_TOL);
        assertClose("modulate backward dmod", hdm, gpu.download(ddm), 1e-4);
        gpu.modulateBackward(dev(dy, b, t, c), dev(x, b, t, c), dev(mod, b, k * c), 3, 4, null, null);

        Tensor hx = host(x, b, t, c), dxv = dev(x, b, t, c);
        ref.gateAdd(hx, host(dy, b, t, c), host(mod, b, k * c), 5);
        gpu.gateAdd(dxv, dev(dy, b, t, c), dev(mod, b, k * c), 5);
        assertClose("gateAdd", hx, gpu.download(dxv), F32_TOL);
        ref.gateAddBackward(host(dx, b, t, c), host(dy, b, t, c), host(mod, b, k * c), 5, hdx, hdm);
        gpu.gateAddBackward(dev(dx, b, t, c), dev(dy, b, t, c), dev(mod, b, k * c), 5, ddx, ddm);
        assertClose("gateAdd backward df", hdx, gpu.download(ddx), F32_TOL);
        assertClose("gateAdd backward dmod", hdm, gpu.download(ddm), 1e-4);
    }

    @Test
    void rope() {
        long b = 1, h = 3, l = 50, d = 128;
        float[] x = g(b * h * l * d), cos = new float[(int) (l * d / 2)], sin = new float[cos.length], dx = g(x.length);
        for (int i = 0; i < cos.length; i++) {
            double th = rnd.nextDouble() * 6.3;
            cos[i] = (float) Math.cos(th);
            sin[i] = (float) Math.sin(th);
        }
        Tensor hx = host(x, b, h, l, d), dxv = dev(x, b, h, l, d);
        ref.rope(hx, host(cos, l, d / 2), host(sin, l, d / 2), hx);
        gpu.rope(dxv, dev(cos, l, d / 2), dev(sin, l, d / 2), dxv);
        assertClose("rope in place", hx, gpu.download(dxv), F32_TOL);
        Tensor hdx = host(dx, b, h, l, d), ddx = dev(dx, b, h, l, d);
        ref.ropeBackward(hx, host(cos, l, d / 2), host(sin, l, d / 2), hdx);
        gpu.ropeBackward(dxv, dev(cos, l, d / 2), dev(sin, l, d / 2), ddx);
        assertClose("rope backward", hdx, gpu.download(ddx), F32_TOL);
    }

    /** q [2, 3, lq, d], k, v [2, 3, lk, d] against the reference; flash on bf16-rounded inputs. */
    private void attentionCase(CudaBackend be, int lq, int lk, int d, boolean bf16) {
        long bh = 6;
        float scale = (float) (1 / Math.sqrt(d));
        float[] q = gaussian(rnd, bh * lq * d, 1.5), k = gaussian(rnd, bh * lk * d, 1.5), v = g(bh * lk * d);
        float[] dout = g(bh * lq * d), dq0 = g(q.length), dk0 = g(k.length), dv0 = g(v.length);
        float[] rq = bf16 ? roundBf16(q) : q, rk = bf16 ? roundBf16(k) : k, rv = bf16 ? roundBf16(v) : v;
        double tol = bf16 ? BF16_TOL : 1e-4;
        String what = (bf16 ? "flash" : "reference") + " attention lq=" + lq + " lk=" + lk + " d=" + d;
        long[] qs = {2, 3, lq, d}, ks = {2, 3, lk, d};
        Tensor ho = host(new float[q.length], qs), hl = host(new float[(int) (bh * lq)], 2, 3, lq);
        Tensor hp = host(new float[(int) (bh * lq * lk)], 2, 3, lq, lk);
        ref.attention(host(rq, qs), host(rk, ks), host(rv, ks), ho, hl, hp, scale);
        Tensor dqt = be.upload(q, qs), dkt = be.upload(k, ks), dvt = be.upload(v, ks);
        Tensor o = be.upload(new float[q.length], qs), lse = be.upload(new float[(int) (bh * lq)], 2, 3, lq);
        Tensor p = be.upload(new float[(int) (bh * lq * lk)], 2, 3, lq, lk);
        be.attention(dqt, dkt, dvt, o, lse, p, scale);
        assertClose(what + " out", ho, be.download(o), tol);
        assertClose(what + " lse", hl, be.download(lse), bf16 ? 1e-5 : F32_TOL);
        assertClose(what + " probs", hp, be.download(p), bf16 ? 1e-5 : F32_TOL);

        int[] cols = {0, lk - 1, lk / 2};
        Tensor pc = be.upload(new float[(int) (bh * lq * cols.length)], 2, 3, lq, cols.length);
        be.attentionColumnProbabilities(dqt, dkt, lse, cols, scale, pc);
        float[] full = Floats.toF32(hp), chosen = new float[(int) (bh * lq * cols.length)];
        for (int r = 0; r < bh * lq; r++) {
            for (int j = 0; j < cols.length; j++) {
                chosen[r * cols.length + j] = full[r * lk + cols[j]];
            }
        }
        assertClose(what + " chosen columns", chosen, be.download(pc), 1e-5);

        Tensor hdq = host(dq0, qs), hdk = host(dk0, ks), hdv = host(dv0, ks);
        ref.attentionBackward(host(dout, qs), host(rq, qs), host(rk, ks), host(rv, ks), ho, hl, hdq, hdk, hdv, scale);
        Tensor ddq = be.upload(dq0, qs), ddk = be.upload(dk0, ks), ddv = be.upload(dv0, ks);
        be.attentionBackward(be.upload(dout, qs), dqt, dkt, dvt, o, lse, ddq, ddk, ddv, scale);
        // the accumulated grads dwarf the increment: compare the increments
        assertClose(what + " dq", diff(hdq, dq0), diff(be.download(ddq), dq0), bf16 ? 3 * BF16_TOL : 1e-4);
        assertClose(what + " dk", diff(hdk, dk0), diff(be.download(ddk), dk0), bf16 ? 3 * BF16_TOL : 1e-4);
        assertClose(what + " dv", diff(hdv, dv0), diff(be.download(ddv), dv0), bf16 ? 3 * BF16_TOL : 1e-4);
    }

    private static float[] diff(Tensor t, float[] base) {
        return diff(Floats.toF32(t), base);
    }

    private static float[] diff(float[] a, float[] base) {
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = a[i] - base[i];
        }
        return r;
    }

    @Test
    void flashAttentionMatchesTheReferenceOnRaggedLengths() {
        attentionCase(gpu, 100, 77, 128, true);
        attentionCase(gpu, 64, 200, 128, true);
        attentionCase(gpu, 1, 1, 128, true);
    }

    @Test
    void referenceAttentionKernelsMatchForAnyHeadDim() {
        attentionCase(gpuRef, 45, 45, 128, false);
        attentionCase(gpuRef, 33, 70, 64, false);
        attentionCase(gpu, 20, 30, 40, false);
    }

    @Test
    void adamw() {
        int n = 5000;
        float[] p = g(n), gr = g(n), m = gaussian(rnd, n, 0.1), v = roundAbs(gaussian(rnd, n, 0.01));
        Tensor hp = host(p, n), hm = host(m, n), hv = host(v, n);
        Tensor dp = dev(p, n), dm = dev(m, n), dv = dev(v, n);
        for (long step = 1; step <= 3; step++) {
            ref.adamw(hp, host(gr, n), hm, hv, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
            gpu.adamw(dp, dev(gr, n), dm, dv, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
        }
        assertClose("adamw param", hp, gpu.download(dp), 1e-6);
        assertClose("adamw m", hm, gpu.download(dm), F32_TOL);
        assertClose("adamw v", hv, gpu.download(dv), F32_TOL);

        int[] sizes = {7, 0, 300, 1};
        List<Tensor> hps = new java.util.ArrayList<>(), dps = new java.util.ArrayList<>(), hgs = new java.util.ArrayList<>(),
                dgs = new java.util.ArrayList<>(), hms = new java.util.ArrayList<>(), dms = new java.util.ArrayList<>(),
                hvs = new java.util.ArrayList<>(), dvs = new java.util.ArrayList<>();
        for (int s : sizes) {
            float[] a = g(s), b = g(s);
            hps.add(host(a, s));
            dps.add(dev(a, s));
            hgs.add(host(b, s));
            dgs.add(dev(b, s));
            hms.add(host(new float[s], s));
            dms.add(dev(new float[s], s));
            hvs.add(host(new float[s], s));
            dvs.add(dev(new float[s], s));
        }
        for (int i = 0; i < sizes.length; i++) {
            ref.adamw(hps.get(i), hgs.get(i), hms.get(i), hvs.get(i), 1e-2f, 0.9f, 0.99f, 1e-8f, 0.1f, 1);
        }
        gpu.adamwAll(dps, dgs, dms, dvs, 1e-2f, 0.9f, 0.99f, 1e-8f, 0.1f, 1);
        for (int i = 0; i < sizes.length; i++) {
            assertClose("adamwAll param " + i, hps.get(i), gpu.download(dps.get(i)), 1e-6);
        }
    }

    private static float[] roundAbs(float[] a) {
        for (int i = 0; i < a.length; i++) {
            a[i] = Math.abs(a[i]);
        }
        return a;
    }
}
