package dev.fluxerase.cpu;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.BackendContract;
import dev.fluxerase.tensor.ConvGeometry;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static dev.fluxerase.cpu.TestTensors.assertClose;
import static dev.fluxerase.cpu.TestTensors.randn;
import static dev.fluxerase.testing.Compare.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Every CpuBackend op against NaiveBackend on random data, at sizes that are not multiples of the vector length and at
 * sizes large enough to be split across threads.
 *
 * <p>Tolerances are relative to the largest reference magnitude of each output. The reference rounds once from double; the
 * CPU backend computes in f32 (unit round-off u = 2⁻²⁴ ≈ 6e-8), so:
 * <ul>
 *   <li>{@link #EXACTISH} 1e-6 ≈ 16u: ops with a bounded number of f32 roundings per element (axpy, mul, scale, bias,
 *       modulation, RoPE, AdamW); a few u each, fma versus separate rounding.</li>
 *   <li>{@link #TRANSCENDENTAL} 2e-6: SiLU/GELU and their derivatives, whose vector exp/tanh are ~1 ulp and pass through a few
 *       more roundings.</li>
 *   <li>{@link #REDUCTION} 1e-5: ops that sum up to a few thousand f32 terms per output (norms, softmax, GEMM,
 *       attention, the token sums of the modulation gradients). Summation in f32 lanes has an error of ≈ √n·u relative to
 *       Σ|terms| in practice; these terms are random-signed, so Σ|terms| is up to ~√n times the result, and 1e-5 bounds
 *       n·u at n ≈ 160 with a margin for the typical (not worst-case) growth at larger n.</li>
 *   <li>sum and dot: both backends widen to double, so they agree to 1e-12 relative to Σ|terms|.</li>
 * </ul>
 */
class CpuBackendTest {
    private static final double EXACTISH = 1e-6;
    private static final double TRANSCENDENTAL = 2e-6;
    private static final double REDUCTION = 1e-5;
    private static final int[] FLAT_SIZES = {1, 7, 33, 130, 140_001};
    private static final long[][] MATRICES = {{1, 1}, {3, 7}, {5, 33}, {4, 130}, {2, 3072}, {64, 3072}};

    private static final BackendContract CHECK = BackendContract.on(Device.CPU);

    private final Backend ref = new NaiveBackend();
    private final Backend cpu = new CpuBackend();
    private final Random rnd = new Random(7);

    /** An op on a list of tensors; each backend gets its own deep copies, then the listed outputs are compared. */
    private interface Op {
        void run(Backend b, Tensor[] t);
    }

    private static Tensor deepCopy(Tensor t) {
        if (t == null) {
            return null;
        }
        Tensor c = HostMemory.allocate(t.dtype(), t.shape());
        MemorySegment.copy(t.data(), 0, c.data(), 0, t.byteSize());
        return c;
    }

    private void compare(String what, double tol, Tensor[] tensors, int[] outputs, Op op) {
        Tensor[] a = new Tensor[tensors.length];
        Tensor[] b = new Tensor[tensors.length];
        for (int i = 0; i < tensors.length; i++) {
            a[i] = deepCopy(tensors[i]);
            b[i] = deepCopy(tensors[i]);
        }
        op.run(ref, a);
        op.run(cpu, b);
        for (int o : outputs) {
            assertClose(what + " output " + o, a[o], b[o], tol);
        }
    }

    private static String shape(long... s) {
        return java.util.Arrays.toString(s);
    }

    @Test
    void gemmAllTranspositionsAndWeightDtypes() {
        int[][] mnk = {{1, 1, 1}, {3, 7, 5}, {17, 33, 130}, {64, 40, 96}};
        for (int[] s : mnk) {
            for (DType dt : new DType[]{DType.F32, DType.BF16, DType.F16}) {
                for (int ta = 0; ta < 2; ta++) {
                    for (int tb = 0; tb < 2; tb++) {
                        boolean transA = ta == 1;
                        boolean transB = tb == 1;
                        Tensor a = transA ? randn(rnd, 1, s[2], s[0]) : randn(rnd, 1, s[0], s[2]);
                        Tensor b = TestTensors.as(dt, transB ? randn(rnd, 1, s[1], s[2]) : randn(rnd, 1, s[2], s[1]));
                        Tensor c = randn(rnd, 1, s[0], s[1]);
                        for (float beta : new float[]{0f, 0.5f}) {
                            compare("gemm " + shape(s[0], s[1], s[2]) + " " + dt + " tA " + transA + " tB " + transB
                                            + " beta " + beta, REDUCTION, new Tensor[]{a, b, c}, new int[]{2},
                                    (be, t) -> be.gemm(transA, transB, 1.5f, t[0], t[1], beta, t[2]));
                        }
                    }
                }
            }
        }
    }

    @Test
    void gemmBetaZeroIgnoresNaN() {
        Tensor a = randn(rnd, 1, 3, 5);
        Tensor b = randn(rnd, 1, 4, 5);
        Tensor c = Tensor.zeros(3, 4);
        cpu.fill(c, Float.NaN);
        cpu.gemm(false, true, 1, a, b, 0, c);
        Tensor expected = Tensor.zeros(3, 4);
        ref.gemm(false, true, 1, a, b, 0, expected);
        assertClose("beta 0 over NaN", expected, c, REDUCTION);
    }

    @Test
    void biasAndItsGradient() {
        for (long[] m : MATRICES) {
            for (DType dt : new DType[]{DType.F32, DType.BF16, DType.F16}) {
                Tensor bias = TestTensors.as(dt, randn(rnd, 1, m[1]));
                compare("addBias " + shape(m) + " " + dt, EXACTISH, new Tensor[]{randn(rnd, 1, m), bias},
                        new int[]{0}, (be, t) -> be.addBias(t[0], t[1]));
            }
            compare("sumRows " + shape(m), REDUCTION, new Tensor[]{randn(rnd, 1, m), randn(rnd, 1, m[1])},
                    new int[]{1}, (be, t) -> be.sumRows(t[0], t[1]));
        }
    }

    @Test
    void elementwiseAndReductions() {
        for (int n : FLAT_SIZES) {
            Tensor x = randn(rnd, 1, n);
            Tensor y = randn(rnd, 1, n);
            compare("axpy " + n, EXACTISH, new Tensor[]{x, y}, new int[]{1}, (be, t) -> be.axpy(-0.75f, t[0], t[1]));
            compare("mul " + n, EXACTISH, new Tensor[]{x, y, Tensor.zeros(n)}, new int[]{2},
                    (be, t) -> be.mul(t[0], t[1], t[2]));
            compare("scale " + n, EXACTISH, new Tensor[]{x}, new int[]{0}, (be, t) -> be.scale(t[0], 1.3f));
            double absSum = 0;
            double absDot = 0;
            for (int i = 0; i < n; i++) {
                absSum += Math.abs(x.get(i));
                absDot += Math.abs((double) x.get(i) * y.get(i));
            }
            assertEquals(ref.sum(x), cpu.sum(x), 1e-12 * absSum, "sum " + n);
            assertEquals(ref.dot(x, y), cpu.dot(x, y), 1e-12 * absDot, "dot " + n);
        }
    }

    @Test
    void activationsAndTheirBackwards() {
        for (int n : FLAT_SIZES) {
            Tensor x = randn(rnd, 3, n);
            Tensor dy = randn(rnd, 1, n);
            Tensor dx = randn(rnd, 1, n);
            compare("silu " + n, TRANSCENDENTAL, new Tensor[]{x, Tensor.zeros(n)}, new int[]{1},
                    (be, t) -> be.silu(t[0], t[1]));
            compare("silu in place " + n, TRANSCENDENTAL, new Tensor[]{x}, new int[]{0}, (be, t) -> be.silu(t[0], t[0]));
            compare("siluBackward " + n, TRANSCENDENTAL, new Tensor[]{dy, x, dx}, new int[]{2},
                    (be, t) -> be.siluBackward(t[0], t[1], t[2]));
            compare("gelu " + n, TRANSCENDENTAL, new Tensor[]{x, Tensor.zeros(n)}, new int[]{1},
                    (be, t) -> be.geluTanh(t[0], t[1]));
            compare("gelu in place " + n, TRANSCENDENTAL, new Tensor[]{x}, new int[]{0},
                    (be, t) -> be.geluTanh(t[0], t[0]));
            compare("geluBackward " + n, TRANSCENDENTAL, new Tensor[]{dy, x, dx}, new int[]{2},
                    (be, t) -> be.geluTanhBackward(t[0], t[1], t[2]));
        }
        Tensor extreme = Tensor.of(new float[]{-200, -90, -20, 0, 20, 90, 200}, 7);
        compare("silu extremes", TRANSCENDENTAL, new Tensor[]{extreme, Tensor.zeros(7)}, new int[]{1},
                (be, t) -> be.silu(t[0], t[1]));
        compare("gelu extremes", TRANSCENDENTAL, new Tensor[]{extreme, Tensor.zeros(7)}, new int[]{1},
                (be, t) -> be.geluTanh(t[0], t[1]));
    }

    @Test
    void softmaxAndBackward() {
        for (long[] m : MATRICES) {
            Tensor x = randn(rnd, 4, m);
            compare("softmax " + shape(m), REDUCTION, new Tensor[]{x, Tensor.zeros(m)}, new int[]{1},
                    (be, t) -> be.softmax(t[0], t[1]));
            compare("softmax in place " + shape(m), REDUCTION, new Tensor[]{x}, new int[]{0},
                    (be, t) -> be.softmax(t[0], t[0]));
            Tensor y = Tensor.zeros(m);
            ref.softmax(x, y);
            compare("softmaxBackward " + shape(m), REDUCTION, new Tensor[]{randn(rnd, 1, m), y, randn(rnd, 1, m)},
                    new int[]{2}, (be, t) -> be.softmaxBackward(t[0], t[1], t[2]));
        }
    }

    @Test
    void layerNormAndBackward() {
        for (long[] m : MATRICES) {
            Tensor x = randn(rnd, 2, m);
            for (int i = 0; i < x.numel(); i++) {
                x.set(i, x.get(i) + 3);
            }
            long rows = m[0];
            compare("layerNorm " + shape(m), REDUCTION,
                    new Tensor[]{x, Tensor.zeros(m), Tensor.zeros(rows), Tensor.zeros(rows)}, new int[]{1, 2, 3},
                    (be, t) -> be.layerNorm(t[0], t[1], t[2], t[3], 1e-6f));
            compare("layerNorm without stats " + shape(m), REDUCTION, new Tensor[]{x}, new int[]{0},
                    (be, t) -> be.layerNorm(t[0], t[0], null, null, 1e-6f));
            Tensor mean = Tensor.zeros(rows);
            Tensor rstd = Tensor.zeros(rows);
            ref.layerNorm(x, Tensor.zeros(m), mean, rstd, 1e-6f);
            compare("layerNormBackward " + shape(m), REDUCTION,
                    new Tensor[]{randn(rnd, 1, m), x, mean, rstd, randn(rnd, 1, m)}, new int[]{4},
                    (be, t) -> be.layerNormBackward(t[0], t[1], t[2], t[3], t[4]));
        }
    }

    @Test
    void rmsNormAndBackwardWithEveryWeightDtype() {
        long[][] shapes = {{1, 1}, {3, 7}, {5, 33}, {4, 130}, {48, 128}, {600, 128}};
        for (long[] m : shapes) {
            Tensor x = randn(rnd, 1.5, m);
            long rows = m[0];
            for (DType dt : new DType[]{DType.F32, DType.BF16, DType.F16}) {
                Tensor w = TestTensors.as(dt, randn(rnd, 1, m[1]));
                compare("rmsNorm " + shape(m) + " " + dt, REDUCTION,
                        new Tensor[]{x, w, Tensor.zeros(m), Tensor.zeros(rows)}, new int[]{2, 3},
                        (be, t) -> be.rmsNorm(t[0], t[1], t[2], t[3], 1e-6f));
                Tensor rr = Tensor.zeros(rows);
                ref.rmsNorm(x, w, Tensor.zeros(m), rr, 1e-6f);
                compare("rmsNormBackward " + shape(m) + " " + dt, REDUCTION,
                        new Tensor[]{randn(rnd, 1, m), x, w, rr, randn(rnd, 1, m), randn(rnd, 1, m[1])},
                        new int[]{4, 5}, (be, t) -> be.rmsNormBackward(t[0], t[1], t[2], t[3], t[4], t[5]));
                compare("rmsNormBackward frozen " + shape(m) + " " + dt, REDUCTION,
                        new Tensor[]{randn(rnd, 1, m), x, w, rr, randn(rnd, 1, m)}, new int[]{4},
                        (be, t) -> be.rmsNormBackward(t[0], t[1], t[2], t[3], t[4], null));
            }
        }
    }

    /** A conv's shapes: batch, input size, channels in and out, kernel size, geometry. */
    private record ConvCase(int batch, int h, int w, int cin, int cout, int kh, int kw, ConvGeometry g) {
        long[] x() {
            return new long[]{batch, h, w, cin};
        }

        long[] weight() {
            return new long[]{cout, kh, kw, cin};
        }

        long[] y() {
            return new long[]{batch, g.outSize(h, kh), g.outSize(w, kw), cout};
        }

        @Override
        public String toString() {
            return "conv " + shape(x()) + " * " + shape(weight()) + " at " + g;
        }
    }

    /**
     * The VAE's four geometries and a few others (a kernel wider than tall, stride 2 with padding on both sides, odd
     * sizes), at channel counts below, at and off the vector width.
     */
    private static final ConvCase[] CONVS = {
            new ConvCase(1, 1, 1, 1, 1, 1, 1, ConvGeometry.POINTWISE),
            new ConvCase(2, 5, 7, 3, 5, 1, 1, ConvGeometry.POINTWISE),
            new ConvCase(2, 9, 6, 33, 20, 1, 1, ConvGeometry.POINTWISE),
            new ConvCase(1, 1, 1, 2, 3, 3, 3, ConvGeometry.SAME),
            new ConvCase(2, 5, 7, 3, 5, 3, 3, ConvGeometry.SAME),
            new ConvCase(1, 12, 10, 17, 16, 3, 3, ConvGeometry.SAME),
            new ConvCase(2, 5, 7, 3, 5, 3, 3, ConvGeometry.DOWN),
            new ConvCase(1, 8, 9, 17, 7, 3, 3, ConvGeometry.DOWN),
            new ConvCase(1, 1, 1, 4, 3, 3, 3, ConvGeometry.UP),
            new ConvCase(2, 3, 5, 3, 5, 3, 3, ConvGeometry.UP),
            new ConvCase(1, 6, 4, 33, 9, 3, 3, ConvGeometry.UP),
            new ConvCase(2, 6, 7, 5, 4, 1, 3, new ConvGeometry(1, 0, 2, 1)),
            new ConvCase(1, 7, 7, 6, 3, 3, 3, new ConvGeometry(2, 1, 1, 1)),
            new ConvCase(1, 4, 5, 3, 2, 2, 2, new ConvGeometry(2, 0, 0, 2)),
            new ConvCase(2, 3, 3, 0, 2, 3, 3, ConvGeometry.SAME),
    };

    @Test
    void conv2dInEveryGeometryWeightDtypeAndMode() {
        for (ConvCase cc : CONVS) {
            Tensor x = randn(rnd, 1, cc.x());
            for (DType dt : new DType[]{DType.F32, DType.BF16, DType.F16}) {
                Tensor w = TestTensors.as(dt, randn(rnd, 0.3, cc.weight()));
                Tensor bias = TestTensors.as(dt, randn(rnd, 1, cc.cout()));
                for (boolean accumulate : new boolean[]{false, true}) {
                    compare(cc + " " + dt + " accumulate " + accumulate, REDUCTION,
                            new Tensor[]{x, w, bias, randn(rnd, 1, cc.y())}, new int[]{3},
                            (be, t) -> be.conv2d(t[0], t[1], t[2], t[3], cc.g(), accumulate));
                    compare(cc + " " + dt + " no bias, accumulate " + accumulate, REDUCTION,
                            new Tensor[]{x, w, randn(rnd, 1, cc.y())}, new int[]{2},
                            (be, t) -> be.conv2d(t[0], t[1], null, t[2], cc.g(), accumulate));
                }
            }
        }
    }

    /**
     * The conv's GEMM with its column panels cut anywhere (one sliver, a few rows that end mid-image, whole images) and
     * its k blocks ending inside a tap's channels give the reference's result, with the weight packed per GEMM or,
     * frozen, packed once for every panel and call.
     */
    @Test
    void conv2dPanelsAndKBlocksOfAnySize() {
        ConvCase cc = new ConvCase(2, 9, 7, 19, 11, 3, 3, ConvGeometry.SAME);
        Tensor x = randn(rnd, 1, cc.x());
        Tensor w = randn(rnd, 0.3, cc.weight());
        Tensor bias = randn(rnd, 1, cc.cout());
        Tensor expected = randn(rnd, 1, cc.y());
        Tensor start = TestTensors.copyOf(expected);
        ref.conv2d(x, w, bias, expected, cc.g(), true);
        int taps = 9 * cc.cin();
        Tensor frozen = w.frozen();
        PackedWeights cache = new PackedWeights();
        for (int kc : new int[]{7, 19, 64, CpuGemm.DEFAULT.kc()}) {
            for (int panelFloats : new int[]{1, 5 * taps * GemmKernel.MR, 1 << 22}) {
                CpuGemm.Blocking blocking = new CpuGemm.Blocking(kc, 2, panelFloats, 3);
                for (boolean packOnce : new boolean[]{false, true}) {
                    Tensor weight = packOnce ? frozen : w;
                    Tensor y = TestTensors.copyOf(start);
                    Conv.conv2d(x, weight, bias, y, cc.g(), true, CHECK.conv2d(x, weight, bias, y, cc.g()),
                            packOnce ? cache : null, blocking);
                    assertClose(cc + " with kc " + kc + ", panels of " + panelFloats + " floats"
                            + (packOnce ? ", packed once" : ""), expected, y, REDUCTION);
                }
            }
        }
        // one view of the frozen kernel for every call, so one entry (its panels remade only when kc changes)
        assertEquals(1, cache.size(), "the frozen weight's panels");
    }

    /** x, y [B, P, C] and the group count. */
    private static final int[][] GROUP_NORMS = {{1, 1, 1, 1}, {2, 7, 6, 3}, {2, 33, 40, 8}, {1, 130, 64, 32},
            {2, 1000, 96, 32}, {1, 4096, 19, 19}};

    @Test
    void groupNormWithEveryAffineDtypeAndSwish() {
        for (int[] s : GROUP_NORMS) {
            long[] shape = {s[0], s[1], s[2]};
            Tensor x = randn(rnd, 2, shape);
            for (int i = 0; i < x.numel(); i++) {
                x.set(i, x.get(i) + 3);
            }
            for (DType dt : new DType[]{DType.F32, DType.BF16, DType.F16}) {
                Tensor gamma = TestTensors.as(dt, randn(rnd, 1, s[2]));
                Tensor beta = TestTensors.as(dt, randn(rnd, 1, s[2]));
                for (boolean swish : new boolean[]{false, true}) {
                    String what = "groupNorm " + shape(shape) + " in " + s[3] + " groups " + dt + " swish " + swish;
                    compare(what, REDUCTION, new Tensor[]{x, gamma, beta, Tensor.zeros(shape)}, new int[]{3},
                            (be, t) -> be.groupNorm(t[0], t[1], t[2], t[3], s[3], 1e-6f, swish));
                    compare(what + " in place", REDUCTION, new Tensor[]{x, gamma, beta}, new int[]{0},
                            (be, t) -> be.groupNorm(t[0], t[1], t[2], t[0], s[3], 1e-6f, swish));
                }
            }
        }
    }

    @Test
    void modulationAndGatedResidual() {
        int[][] btc = {{1, 1, 1}, {2, 3, 7}, {2, 5, 33}, {1, 4, 130}, {2, 64, 3072}};
        for (int[] s : btc) {
            long[] xs = {s[0], s[1], s[2]};
            long[] ms = {s[0], 6L * s[2]};
            Tensor x = randn(rnd, 1, xs);
            Tensor mod = randn(rnd, 0.5, ms);
            String name = shape(xs);
            compare("modulate " + name, EXACTISH, new Tensor[]{x, mod, Tensor.zeros(xs)}, new int[]{2},
                    (be, t) -> be.modulate(t[0], t[1], 3, 4, t[2]));
            compare("modulateBackward " + name, REDUCTION,
                    new Tensor[]{randn(rnd, 1, xs), x, mod, randn(rnd, 1, xs), randn(rnd, 1, ms)}, new int[]{3, 4},
                    (be, t) -> be.modulateBackward(t[0], t[1], t[2], 0, 1, t[3], t[4]));
            compare("modulateBackward dx only " + name, EXACTISH,
                    new Tensor[]{randn(rnd, 1, xs), x, mod, randn(rnd, 1, xs)}, new int[]{3},
                    (be, t) -> be.modulateBackward(t[0], t[1], t[2], 0, 1, t[3], null));
            compare("modulateBackward dmod only " + name, REDUCTION,
                    new Tensor[]{randn(rnd, 1, xs), x, mod, randn(rnd, 1, ms)}, new int[]{3},
                    (be, t) -> be.modulateBackward(t[0], t[1], t[2], 5, 2, null, t[3]));
            compare("gateAdd " + name, EXACTISH, new Tensor[]{x, randn(rnd, 1, xs), mod}, new int[]{0},
                    (be, t) -> be.gateAdd(t[0], t[1], t[2], 2));
            compare("gateAddBackward " + name, REDUCTION,
                    new Tensor[]{randn(rnd, 1, xs), randn(rnd, 1, xs), mod, randn(rnd, 1, xs), randn(rnd, 1, ms)},
                    new int[]{3, 4}, (be, t) -> be.gateAddBackward(t[0], t[1], t[2], 5, t[3], t[4]));
            compare("gateAddBackward df only " + name, EXACTISH,
                    new Tensor[]{randn(rnd, 1, xs), randn(rnd, 1, xs), mod, randn(rnd, 1, xs)},
                    new int[]{3}, (be, t) -> be.gateAddBackward(t[0], t[1], t[2], 5, t[3], null));
        }
    }

    @Test
    void ropeAndBackward() {
        long[][] shapes = {{1, 1, 1, 2}, {2, 3, 5, 8}, {1, 2, 24, 34}, {2, 2, 67, 128}, {1, 8, 64, 128}};
        for (long[] s : shapes) {
            int l = (int) s[2];
            int half = (int) s[3] / 2;
            Tensor cos = Tensor.zeros(l, half);
            Tensor sin = Tensor.zeros(l, half);
            for (int i = 0; i < l * half; i++) {
                double th = rnd.nextDouble() * 20 - 10;
                cos.set(i, (float) Math.cos(th));
                sin.set(i, (float) Math.sin(th));
            }
            Tensor x = randn(rnd, 1, s);
            compare("rope " + shape(s), EXACTISH, new Tensor[]{x, cos, sin, Tensor.zeros(s)}, new int[]{3},
                    (be, t) -> be.rope(t[0], t[1], t[2], t[3]));
            compare("rope in place " + shape(s), EXACTISH, new Tensor[]{x, cos, sin}, new int[]{0},
                    (be, t) -> be.rope(t[0], t[1], t[2], t[0]));
            compare("ropeBackward " + shape(s), EXACTISH, new Tensor[]{x, cos, sin, randn(rnd, 1, s)}, new int[]{3},
                    (be, t) -> be.ropeBackward(t[0], t[1], t[2], t[3]));
        }
    }

    @Test
    void attentionForwardAndBackward() {
        int[] lengths = {1, 5, 24, 67};
        int[] dims = {8, 32, 128};
        for (int l : lengths) {
            for (int d : dims) {
                long[] s = {2, 3, l, d};
                float scale = (float) (1 / Math.sqrt(d));
                Tensor q = randn(rnd, 1.5, s);
                Tensor k = randn(rnd, 1.5, s);
                Tensor v = randn(rnd, 1, s);
                String name = shape(s);
                Tensor out = Tensor.zeros(s);
                Tensor lse = Tensor.zeros(2, 3, l);
                Tensor probs = Tensor.zeros(2, 3, l, l);
                ref.attention(q, k, v, out, lse, probs, scale);
                Tensor cOut = Tensor.zeros(s);
                Tensor cLse = Tensor.zeros(2, 3, l);
                Tensor cProbs = Tensor.zeros(2, 3, l, l);
                cpu.attention(q, k, v, cOut, cLse, cProbs, scale);
                assertClose("attention out " + name, out, cOut, REDUCTION);
                assertClose("attention lse " + name, lse, cLse, REDUCTION);
                assertClose("attention probs " + name, probs, cProbs, REDUCTION);
                Tensor bare = Tensor.zeros(s);
                cpu.attention(q, k, v, bare, null, null, scale);
                assertClose("attention without lse and probs " + name, out, bare, REDUCTION);
                compare("attentionBackward " + name, REDUCTION,
                        new Tensor[]{randn(rnd, 1, s), q, k, v, out, lse, randn(rnd, 1, s), randn(rnd, 1, s),
                                randn(rnd, 1, s)}, new int[]{6, 7, 8},
                        (be, t) -> be.attentionBackward(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], scale));
            }
        }
    }

    @Test
    void crossAttentionWithFewerKeysThanQueries() {
        long[] qs = {1, 2, 70, 32};
        long[] ks = {1, 2, 9, 32};
        Tensor q = randn(rnd, 1, qs);
        Tensor k = randn(rnd, 1, ks);
        Tensor v = randn(rnd, 1, ks);
        compare("cross attention", REDUCTION,
                new Tensor[]{q, k, v, Tensor.zeros(qs), Tensor.zeros(1, 2, 70), Tensor.zeros(1, 2, 70, 9)},
                new int[]{3, 4, 5}, (be, t) -> be.attention(t[0], t[1], t[2], t[3], t[4], t[5], 0.2f));
        Tensor out = Tensor.zeros(qs);
        Tensor lse = Tensor.zeros(1, 2, 70);
        ref.attention(q, k, v, out, lse, null, 0.2f);
        compare("cross attention backward", REDUCTION,
                new Tensor[]{randn(rnd, 1, qs), q, k, v, out, lse, Tensor.zeros(qs), Tensor.zeros(ks), Tensor.zeros(ks)},
                new int[]{6, 7, 8},
                (be, t) -> be.attentionBackward(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], 0.2f));
    }

    @Test
    void adamwSeveralSteps() {
        for (int n : FLAT_SIZES) {
            Tensor[] state = {randn(rnd, 1, n), Tensor.zeros(n), Tensor.zeros(n)};
            Tensor[] a = {deepCopy(state[0]), deepCopy(state[1]), deepCopy(state[2])};
            Tensor[] b = {deepCopy(state[0]), deepCopy(state[1]), deepCopy(state[2])};
            for (int step = 1; step <= 3; step++) {
                Tensor g = randn(rnd, 0.1, n);
                ref.adamw(a[0], g, a[1], a[2], 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
                cpu.adamw(b[0], g, b[1], b[2], 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
            }
            for (int i = 0; i < 3; i++) {
                assertClose("adamw " + n + " tensor " + i, a[i], b[i], EXACTISH);
            }
        }
        new HandWorkedCasesTest().adamwTwoStepsByHand(cpu);
    }

    @Test
    void copyStridedHeadSplitTransposeAndAccumulate() {
        int b = 2;
        int l = 37;
        int h = 3;
        int d = 24;
        Tensor x = randn(rnd, 1, b, l, h * d);
        long[] src = {(long) l * h * d, d, (long) h * d, 1};
        long[] dst = {(long) h * l * d, (long) l * d, d, 1};
        long[] sizes = {b, h, l, d};
        compare("head split", 0, new Tensor[]{x, Tensor.zeros(b, h, l, d)}, new int[]{1},
                (be, t) -> be.copyStrided(t[0], 0, src, t[1], 0, dst, sizes, false));
        compare("head merge (adjoint, accumulate)", EXACTISH, new Tensor[]{randn(rnd, 1, b, h, l, d), x}, new int[]{1},
                (be, t) -> be.copyStrided(t[0], 0, dst, t[1], 0, src, sizes, true));
        Tensor m = randn(rnd, 1, 40, 50);
        compare("transpose", 0, new Tensor[]{m, Tensor.zeros(50, 40)}, new int[]{1},
                (be, t) -> be.copyStrided(t[0], 0, new long[]{0, 0, 1, 50}, t[1], 0, new long[]{0, 0, 40, 1},
                        new long[]{1, 1, 50, 40}, false));
        compare("column range into an offset", 0, new Tensor[]{m, randn(rnd, 1, 45, 20)}, new int[]{1},
                (be, t) -> be.copyStrided(t[0], 7, new long[]{0, 0, 50, 1}, t[1], 100, new long[]{0, 0, 20, 1},
                        new long[]{1, 1, 40, 13}, false));
        Tensor row = randn(rnd, 1, 16);
        compare("broadcast adjoint sums into one row", EXACTISH, new Tensor[]{randn(rnd, 1, 300, 16), row}, new int[]{1},
                (be, t) -> be.copyStrided(t[0], 0, new long[]{0, 0, 16, 1}, t[1], 0, new long[]{0, 0, 0, 1},
                        new long[]{1, 1, 300, 16}, true));
    }

    /** adamwAll is adamw on each tensor in turn (bit for bit), write is copy from an upload, toHost a separate copy. */
    @Test
    void listAdamwWriteAndToHost() {
        int[] sizes = {3, 70};
        List<Tensor> ps = new ArrayList<>();
        List<Tensor> gs = new ArrayList<>();
        List<Tensor> ms = new ArrayList<>();
        List<Tensor> vs = new ArrayList<>();
        List<Tensor[]> one = new ArrayList<>();
        for (int n : sizes) {
            Tensor p = randn(rnd, 1, n);
            Tensor g = randn(rnd, 0.1, n);
            ps.add(p);
            gs.add(g);
            ms.add(Tensor.zeros(n));
            vs.add(Tensor.zeros(n));
            one.add(new Tensor[]{deepCopy(p), g, Tensor.zeros(n), Tensor.zeros(n)});
        }
        for (int step = 1; step <= 2; step++) {
            cpu.adamwAll(ps, gs, ms, vs, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
            for (Tensor[] t : one) {
                cpu.adamw(t[0], t[1], t[2], t[3], 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
            }
        }
        for (int i = 0; i < sizes.length; i++) {
            assertArrayEquals(cpu.download(one.get(i)[0]), cpu.download(ps.get(i)), "param " + i);
            assertArrayEquals(cpu.download(one.get(i)[3]), cpu.download(vs.get(i)), "v " + i);
        }
        assertThrows(IllegalArgumentException.class, () -> cpu.adamwAll(ps, gs.subList(0, 1), ms, vs, 1e-3f, 0.9f,
                0.999f, 1e-8f, 0, 1));

        float[] v = {1.5f, 1 + 0x1p-9f, -3f};
        Tensor b = cpu.allocate(DType.BF16, 3);
        cpu.write(b, v);
        assertArrayEquals(new float[]{1.5f, 1f, -3f}, cpu.download(b));
        Tensor h = cpu.toHost(b);
        cpu.fill(b, 0f);
        assertArrayEquals(new float[]{1.5f, 1f, -3f}, Floats.toF32(h));
    }

    @Test
    void memoryOpsAgree() {
        Tensor src = cpu.upload(new float[]{1.5f, -2.25f, 1 + 0x1p-8f, 65504f, 1e-8f}, 5);
        for (DType dt : new DType[]{DType.F32, DType.BF16, DType.F16, DType.F64}) {
            Tensor a = ref.allocate(dt, 5);
            Tensor b = cpu.allocate(dt, 5);
            assertArrayEquals(new float[5], cpu.download(b));
            ref.copy(src, a);
            cpu.copy(src, b);
            assertArrayEquals(ref.download(a), cpu.download(b), dt.toString());
        }
    }

    /**
     * Operands over native memory, read-only views and mapped-like segments go through staging; results must be identical
     * to the same op on heap arrays, and the read-only inputs untouched.
     */
    @Test
    void nativeAndReadOnlyOperandsGiveIdenticalResults() {
        long[] s = {2, 3, 21, 32};
        Tensor q = randn(rnd, 1, s);
        Tensor k = randn(rnd, 1, s);
        Tensor v = randn(rnd, 1, s);
        Tensor heapOut = Tensor.zeros(s);
        Tensor heapLse = Tensor.zeros(2, 3, 21);
        cpu.attention(q, k, v, heapOut, heapLse, null, 0.3f);
        try (Arena arena = Arena.ofConfined()) {
            Tensor nq = Tensor.wrap(DType.F32, nativeCopy(arena, q).asReadOnly(), s);
            Tensor nk = Tensor.wrap(DType.F32, nativeCopy(arena, k), s);
            Tensor nv = Tensor.wrap(DType.F32, MemorySegment.ofArray(Floats.toF32(v)).asReadOnly(), s);
            Tensor nOut = Tensor.wrap(DType.F32, arena.allocate(q.byteSize()), s);
            Tensor nLse = Tensor.wrap(DType.F32, arena.allocate(heapLse.byteSize()), 2, 3, 21);
            cpu.attention(nq, nk, nv, nOut, nLse, null, 0.3f);
            assertArrayEquals(Floats.toF32(heapOut), Floats.toF32(nOut));
            assertArrayEquals(Floats.toF32(heapLse), Floats.toF32(nLse));
            assertArrayEquals(Floats.toF32(q), Floats.toF32(nq));

            Tensor dx = randn(rnd, 1, s);
            Tensor ndx = Tensor.wrap(DType.F32, nativeCopy(arena, dx), s);
            cpu.siluBackward(q, k, dx);
            cpu.siluBackward(nq, nk, ndx);
            assertArrayEquals(Floats.toF32(dx), Floats.toF32(ndx), "accumulated native gradient");

            Tensor w = TestTensors.as(DType.BF16, randn(rnd, 1, 32));
            Tensor mappedW = Tensor.wrap(DType.BF16, nativeCopyBytes(arena, w).asReadOnly(), 32);
            Tensor y1 = Tensor.zeros(s);
            Tensor y2 = Tensor.wrap(DType.F32, arena.allocate(q.byteSize()), s);
            cpu.rmsNorm(q, w, y1, null, 1e-6f);
            cpu.rmsNorm(nq, mappedW, y2, null, 1e-6f);
            assertArrayEquals(Floats.toF32(y1), Floats.toF32(y2), "rmsNorm with a read-only bf16 weight");

            // the conv's GEMMs read x's columns from a heap tile but write straight into y's confined native memory
            long[] ys = {2, 1, 10, 5};
            Tensor cw = TestTensors.as(DType.BF16, randn(rnd, 0.3, 5, 3, 3, 32));
            Tensor nw = Tensor.wrap(DType.BF16, nativeCopyBytes(arena, cw).asReadOnly(), 5, 3, 3, 32);
            Tensor cb = randn(rnd, 1, 5);
            Tensor c1 = randn(rnd, 1, ys);
            Tensor c2 = Tensor.wrap(DType.F32, nativeCopy(arena, c1), ys);
            ConvGeometry down = ConvGeometry.DOWN;
            cpu.conv2d(q, cw, cb, c1, down, true);
            cpu.conv2d(nq, nw, cb, c2, down, true);
            assertArrayEquals(Floats.toF32(c1), Floats.toF32(c2), "conv2d of native operands");
            Tensor g1 = Tensor.zeros(2, 63, 32);
            Tensor g2 = Tensor.wrap(DType.F32, arena.allocate(q.byteSize()), 2, 63, 32);
            cpu.groupNorm(q.view(2, 63, 32), w, w, g1, 4, 1e-6f, true);
            cpu.groupNorm(nq.view(2, 63, 32), mappedW, mappedW, g2, 4, 1e-6f, true);
            assertArrayEquals(Floats.toF32(g1), Floats.toF32(g2), "groupNorm of native operands");

            Tensor sliced = Tensor.of(new float[]{9, 9, 1, 2, 3, 4, 9}, 7).sliceRows(2, 4);
            cpu.scale(sliced, 2);
            assertArrayEquals(new float[]{2, 4, 6, 8}, Floats.toF32(sliced), "a slice of a heap array is updated in place");
        }
    }

    private static MemorySegment nativeCopy(Arena arena, Tensor t) {
        MemorySegment seg = arena.allocate(t.byteSize(), 4);
        MemorySegment.copy(Floats.toF32(t), 0, seg, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, (int) t.numel());
        return seg;
    }

    private static MemorySegment nativeCopyBytes(Arena arena, Tensor t) {
        MemorySegment seg = arena.allocate(t.byteSize(), 2);
        MemorySegment.copy(t.data(), 0, seg, 0, t.byteSize());
        return seg;
    }

    @Test
    void rejectsWhatTheReferenceRejects() {
        Tensor x = Tensor.zeros(2, 8);
        Tensor bf = TestTensors.as(DType.BF16, Tensor.zeros(2, 8));
        for (Backend be : new Backend[]{ref, cpu}) {
            assertThrows(IllegalArgumentException.class, () -> be.silu(bf, x), be.name() + ": bf16 activation");
            assertThrows(IllegalArgumentException.class, () -> be.axpy(1, x, Tensor.zeros(15)), be.name() + ": sizes");
            assertThrows(IllegalArgumentException.class,
                    () -> be.modulate(x.view(1, 2, 8), Tensor.zeros(1, 16), 0, 2, x.view(1, 2, 8)),
                    be.name() + ": chunk outside mod");
            assertThrows(IllegalArgumentException.class,
                    () -> be.rope(x, Tensor.zeros(2, 3), Tensor.zeros(2, 3), x), be.name() + ": rope table width");
        }
    }
}
