package dev.fluxerase.cpu;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.function.Function;

import static dev.fluxerase.cpu.TestTensors.assertClose;
import static dev.fluxerase.cpu.TestTensors.copyOf;
import static dev.fluxerase.cpu.TestTensors.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reference backend against finite differences (every backward op), hand-worked values and the contract's conventions.
 *
 * <p>Finite differences: loss(x) = Σ forward(x)⊙G with random G, central differences with step 1e-2. The forward runs in
 * double and rounds its outputs to f32, so a difference carries ≈ n·2⁻²⁴·|y|·|G|/eps ≈ 1e-5 relative rounding noise, and the
 * O(eps²) truncation term is ≈ 1e-4 relative for these smooth ops at unit scale; 1e-2 relative to the largest gradient
 * entry therefore catches any wrong term (which shows up at O(1)) without flagging noise.
 */
class NaiveBackendTest {
    private static final double FD_EPS = 1e-2;
    private static final double FD_TOL = 1e-2;

    private final Backend nb = new NaiveBackend();
    private final Random rnd = new Random(42);

    /** Central-difference gradient of Σ f(x)⊙g with respect to every element of x (x is restored afterwards). */
    private float[] numericGradient(Tensor x, Tensor g, Function<Tensor, Tensor> f) {
        float[] grad = new float[(int) x.numel()];
        for (int i = 0; i < grad.length; i++) {
            float old = x.get(i);
            x.set(i, (float) (old + FD_EPS));
            double plus = nb.dot(f.apply(x), g);
            x.set(i, (float) (old - FD_EPS));
            double minus = nb.dot(f.apply(x), g);
            x.set(i, old);
            grad[i] = (float) ((plus - minus) / (2 * FD_EPS));
        }
        return grad;
    }

    /**
     * Checks an analytic gradient that the backward ADDED into a buffer pre-filled with {@code prefill}: the difference is
     * what the backward contributed, which must match the numeric gradient.
     */
    private static void assertGradient(String what, float[] numeric, Tensor accumulated, float[] prefill) {
        float[] got = Floats.toF32(accumulated);
        float[] contributed = new float[got.length];
        for (int i = 0; i < got.length; i++) {
            contributed[i] = got[i] - prefill[i];
        }
        assertClose(what, numeric, contributed, FD_TOL);
    }

    /** A gradient buffer pre-filled with random values, so that the test also proves the backward adds. */
    private Tensor prefilled(Tensor like) {
        return randn(rnd, 1, like.shape());
    }

    @Test
    void siluGeluSoftmaxBackwardMatchFiniteDifferences() {
        Tensor x = randn(rnd, 1.5, 3, 7);
        Tensor g = randn(rnd, 1, 3, 7);
        record Act(String name, Function<Tensor, Tensor> f) {
        }
        for (Act a : new Act[]{
                new Act("silu", t -> {
                    Tensor y = Tensor.zeros(t.shape());
                    nb.silu(t, y);
                    return y;
                }),
                new Act("gelu", t -> {
                    Tensor y = Tensor.zeros(t.shape());
                    nb.geluTanh(t, y);
                    return y;
                }),
                new Act("softmax", t -> {
                    Tensor y = Tensor.zeros(t.shape());
                    nb.softmax(t, y);
                    return y;
                })}) {
            float[] numeric = numericGradient(x, g, a.f());
            Tensor dx = prefilled(x);
            float[] pre = Floats.toF32(dx);
            switch (a.name()) {
                case "silu" -> nb.siluBackward(g, x, dx);
                case "gelu" -> nb.geluTanhBackward(g, x, dx);
                default -> nb.softmaxBackward(g, a.f().apply(x), dx);
            }
            assertGradient(a.name(), numeric, dx, pre);
        }
    }

    @Test
    void layerNormBackwardMatchesFiniteDifferences() {
        Tensor x = randn(rnd, 2, 4, 9);
        Tensor g = randn(rnd, 1, 4, 9);
        Function<Tensor, Tensor> f = t -> {
            Tensor y = Tensor.zeros(t.shape());
            nb.layerNorm(t, y, null, null, 1e-6f);
            return y;
        };
        Tensor y = Tensor.zeros(4, 9);
        Tensor mean = Tensor.zeros(4);
        Tensor rstd = Tensor.zeros(4);
        nb.layerNorm(x, y, mean, rstd, 1e-6f);
        Tensor dx = prefilled(x);
        float[] pre = Floats.toF32(dx);
        nb.layerNormBackward(g, x, mean, rstd, dx);
        assertGradient("layerNorm dx", numericGradient(x, g, f), dx, pre);
    }

    @Test
    void rmsNormBackwardMatchesFiniteDifferencesForInputAndWeight() {
        Tensor x = randn(rnd, 1, 5, 8);
        Tensor w = randn(rnd, 1, 8);
        Tensor g = randn(rnd, 1, 5, 8);
        Tensor y = Tensor.zeros(5, 8);
        Tensor rr = Tensor.zeros(5);
        nb.rmsNorm(x, w, y, rr, 1e-6f);
        Tensor dx = prefilled(x);
        Tensor dw = prefilled(w);
        float[] preX = Floats.toF32(dx);
        float[] preW = Floats.toF32(dw);
        nb.rmsNormBackward(g, x, w, rr, dx, dw);
        assertGradient("rmsNorm dx", numericGradient(x, g, t -> {
            Tensor o = Tensor.zeros(t.shape());
            nb.rmsNorm(t, w, o, null, 1e-6f);
            return o;
        }), dx, preX);
        assertGradient("rmsNorm dw", numericGradient(w, g, t -> {
            Tensor o = Tensor.zeros(x.shape());
            nb.rmsNorm(x, t, o, null, 1e-6f);
            return o;
        }), dw, preW);

        Tensor dx2 = Tensor.zeros(5, 8);
        nb.rmsNormBackward(g, x, w, rr, dx2, null);
        float[] d1 = Floats.toF32(dx);
        float[] d2 = Floats.toF32(dx2);
        for (int i = 0; i < d1.length; i++) {
            d1[i] -= preX[i];
        }
        assertClose("frozen weight leaves dx unchanged", d1, d2, 1e-6);
    }

    @Test
    void modulateAndGateAddBackwardMatchFiniteDifferences() {
        int b = 2;
        int t = 3;
        int c = 5;
        Tensor x = randn(rnd, 1, b, t, c);
        Tensor mod = randn(rnd, 0.5, b, 3 * c);
        Tensor g = randn(rnd, 1, b, t, c);
        Tensor dx = prefilled(x);
        Tensor dmod = prefilled(mod);
        float[] preX = Floats.toF32(dx);
        float[] preM = Floats.toF32(dmod);
        nb.modulateBackward(g, x, mod, 2, 0, dx, dmod);
        assertGradient("modulate dx", numericGradient(x, g, v -> {
            Tensor y = Tensor.zeros(v.shape());
            nb.modulate(v, mod, 2, 0, y);
            return y;
        }), dx, preX);
        assertGradient("modulate dmod", numericGradient(mod, g, m -> {
            Tensor y = Tensor.zeros(x.shape());
            nb.modulate(x, m, 2, 0, y);
            return y;
        }), dmod, preM);

        Tensor f = randn(rnd, 1, b, t, c);
        Tensor df = prefilled(f);
        Tensor dmod2 = prefilled(mod);
        float[] preF = Floats.toF32(df);
        float[] preM2 = Floats.toF32(dmod2);
        nb.gateAddBackward(g, f, mod, 1, df, dmod2);
        assertGradient("gateAdd df", numericGradient(f, g, v -> {
            Tensor y = copyOf(x);
            nb.gateAdd(y, v, mod, 1);
            return y;
        }), df, preF);
        assertGradient("gateAdd dmod", numericGradient(mod, g, m -> {
            Tensor y = copyOf(x);
            nb.gateAdd(y, f, m, 1);
            return y;
        }), dmod2, preM2);
    }

    @Test
    void ropeBackwardMatchesFiniteDifferences() {
        int l = 3;
        int d = 6;
        Tensor x = randn(rnd, 1, 2, 2, l, d);
        Tensor cos = Tensor.zeros(l, d / 2);
        Tensor sin = Tensor.zeros(l, d / 2);
        for (int i = 0; i < l * d / 2; i++) {
            double th = rnd.nextDouble() * 2 * Math.PI;
            cos.set(i, (float) Math.cos(th));
            sin.set(i, (float) Math.sin(th));
        }
        Tensor g = randn(rnd, 1, x.shape());
        Tensor dx = prefilled(x);
        float[] pre = Floats.toF32(dx);
        nb.ropeBackward(g, cos, sin, dx);
        assertGradient("rope dx", numericGradient(x, g, v -> {
            Tensor y = Tensor.zeros(v.shape());
            nb.rope(v, cos, sin, y);
            return y;
        }), dx, pre);
    }

    @Test
    void attentionBackwardMatchesFiniteDifferences() {
        long[] shape = {2, 1, 5, 4};
        Tensor q = randn(rnd, 1, shape);
        Tensor k = randn(rnd, 1, shape);
        Tensor v = randn(rnd, 1, shape);
        Tensor g = randn(rnd, 1, shape);
        float scale = 0.5f;
        Tensor out = Tensor.zeros(shape);
        Tensor lse = Tensor.zeros(2, 1, 5);
        nb.attention(q, k, v, out, lse, null, scale);
        Tensor dq = prefilled(q);
        Tensor dk = prefilled(k);
        Tensor dv = prefilled(v);
        float[] pq = Floats.toF32(dq);
        float[] pk = Floats.toF32(dk);
        float[] pv = Floats.toF32(dv);
        nb.attentionBackward(g, q, k, v, out, lse, dq, dk, dv, scale);
        Function<Tensor[], Tensor> f = in -> {
            Tensor o = Tensor.zeros(shape);
            nb.attention(in[0], in[1], in[2], o, null, null, scale);
            return o;
        };
        assertGradient("attention dq", numericGradient(q, g, t -> f.apply(new Tensor[]{t, k, v})), dq, pq);
        assertGradient("attention dk", numericGradient(k, g, t -> f.apply(new Tensor[]{q, t, v})), dk, pk);
        assertGradient("attention dv", numericGradient(v, g, t -> f.apply(new Tensor[]{q, k, t})), dv, pv);
    }

    /** The Linear recipes of the gemm javadoc (dx += dy·W, dW += dyᵀ·x) and sumRows as the bias gradient. */
    @Test
    void linearBackwardRecipesMatchFiniteDifferences() {
        Tensor x = randn(rnd, 1, 4, 3);
        Tensor w = randn(rnd, 1, 5, 3);
        Tensor bias = randn(rnd, 1, 5);
        Tensor g = randn(rnd, 1, 4, 5);
        Function<Tensor[], Tensor> linear = in -> {
            Tensor y = Tensor.zeros(4, 5);
            nb.gemm(false, true, 1, in[0], in[1], 0, y);
            nb.addBias(y, in[2]);
            return y;
        };
        Tensor dx = prefilled(x);
        Tensor dw = prefilled(w);
        Tensor db = prefilled(bias);
        float[] px = Floats.toF32(dx);
        float[] pw = Floats.toF32(dw);
        float[] pb = Floats.toF32(db);
        nb.gemm(false, false, 1, g, w, 1, dx);
        nb.gemm(true, false, 1, g, x, 1, dw);
        nb.sumRows(g, db);
        assertGradient("linear dx", numericGradient(x, g, t -> linear.apply(new Tensor[]{t, w, bias})), dx, px);
        assertGradient("linear dW", numericGradient(w, g, t -> linear.apply(new Tensor[]{x, t, bias})), dw, pw);
        assertGradient("linear db", numericGradient(bias, g, t -> linear.apply(new Tensor[]{x, w, t})), db, pb);
    }

    @Test
    void gemmWithBetaZeroIgnoresNaNInC() {
        Tensor a = Tensor.of(new float[]{1, 2, 3, 4}, 2, 2);
        Tensor b = Tensor.of(new float[]{5, 6, 7, 8}, 2, 2);
        Tensor c = Tensor.of(new float[]{Float.NaN, Float.NaN, Float.POSITIVE_INFINITY, Float.NaN}, 2, 2);
        nb.gemm(false, false, 1, a, b, 0, c);
        assertArrayEquals(new float[]{19, 22, 43, 50}, Floats.toF32(c));
        nb.gemm(true, true, 2, a, b, 1, c);
        // aᵀ·bᵀ = [[1,3],[2,4]]·[[5,7],[6,8]] = [[23,31],[34,46]]
        assertArrayEquals(new float[]{19 + 46, 22 + 62, 43 + 68, 50 + 92}, Floats.toF32(c));
    }

    @Test
    void gemmReadsBf16AndF16Weights() {
        Tensor x = randn(rnd, 1, 3, 4);
        Tensor w = randn(rnd, 1, 2, 4);
        for (DType dt : new DType[]{DType.BF16, DType.F16}) {
            Tensor wl = TestTensors.as(dt, w);
            Tensor y = Tensor.zeros(3, 2);
            nb.gemm(false, true, 1, x, wl, 0, y);
            float[] wr = Floats.toF32(wl);
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 2; j++) {
                    double s = 0;
                    for (int p = 0; p < 4; p++) {
                        s += (double) x.get(i * 4 + p) * wr[j * 4 + p];
                    }
                    assertEquals((float) s, y.get(i * 2 + j), 0f, dt + " y[" + i + "," + j + "]");
                }
            }
        }
    }

    @Test
    void ropeRotatesAPairByNinetyDegrees() {
        Tensor x = Tensor.of(new float[]{1, 0, 0, 1, 3, 4, 3, 4}, 1, 1, 2, 4);
        Tensor cos = Tensor.of(new float[]{0, 0, 1, 0}, 2, 2);
        Tensor sin = Tensor.of(new float[]{1, 1, 0, -1}, 2, 2);
        Tensor y = Tensor.zeros(1, 1, 2, 4);
        nb.rope(x, cos, sin, y);
        // position 0 rotates both pairs by +90°: (1,0) → (0,1), (0,1) → (−1,0); position 1: 0° and −90°
        assertArrayEquals(new float[]{0, 1, -1, 0, 3, 4, 4, -3}, Floats.toF32(y));
        Tensor back = Tensor.zeros(1, 1, 2, 4);
        nb.ropeBackward(y, cos, sin, back);
        assertArrayEquals(Floats.toF32(x), Floats.toF32(back));
        nb.rope(x, cos, sin, x);
        assertArrayEquals(Floats.toF32(y), Floats.toF32(x), "in place");
    }

    @Test
    void geluTanhKnownValues() {
        Tensor x = Tensor.of(new float[]{1, -1, 2, 0.5f, -3, 0}, 6);
        nb.geluTanh(x, x);
        // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) evaluated in double
        float[] expected = {0.84119199f, -0.15880801f, 1.95459769f, 0.34571401f, -0.00363739f, 0f};
        assertArrayEquals(expected, Floats.toF32(x), 1e-7f);
    }

    @Test
    void softmaxOfAKnownRow() {
        Tensor x = Tensor.of(new float[]{1, 2, 3, 1000, 1000, 1000}, 2, 3);
        nb.softmax(x, x);
        // e^(x−3)/Σ: e^−2, e^−1, 1 over 1.503214724; the second row proves the max shift (no overflow)
        assertArrayEquals(new float[]{0.09003057f, 0.24472847f, 0.66524096f, 1 / 3f, 1 / 3f, 1 / 3f},
                Floats.toF32(x), 1e-7f);
    }

    @Test
    void attentionLseAndOutputOfAKnownCase() {
        Tensor q = Tensor.of(new float[]{1, 0}, 1, 1, 1, 2);
        Tensor k = Tensor.of(new float[]{1, 0, 0, 1}, 1, 1, 2, 2);
        Tensor v = Tensor.of(new float[]{2, 0, 0, 4}, 1, 1, 2, 2);
        Tensor out = Tensor.zeros(1, 1, 1, 2);
        Tensor lse = Tensor.zeros(1, 1, 1);
        Tensor probs = Tensor.zeros(1, 1, 1, 2);
        nb.attention(q, k, v, out, lse, probs, 1f);
        // scores (1, 0): lse = ln(e + 1), p = (e, 1)/(e + 1)
        double e = Math.E;
        assertEquals(1.3132616875, lse.get(0), 1e-7);
        assertArrayEquals(new float[]{(float) (e / (e + 1)), (float) (1 / (e + 1))}, Floats.toF32(probs), 1e-7f);
        assertArrayEquals(new float[]{(float) (2 * e / (e + 1)), (float) (4 / (e + 1))}, Floats.toF32(out), 1e-6f);
    }

    @Test
    void layerNormOfOneToFour() {
        Tensor x = Tensor.of(new float[]{1, 2, 3, 4}, 1, 4);
        Tensor y = Tensor.zeros(1, 4);
        Tensor mean = Tensor.zeros(1);
        Tensor rstd = Tensor.zeros(1);
        nb.layerNorm(x, y, mean, rstd, 1e-6f);
        // mean 2.5, biased variance 1.25, rstd = 1/√(1.25 + 1e-6)
        assertEquals(2.5f, mean.get(0));
        assertEquals((float) (1 / Math.sqrt(1.25 + 1e-6)), rstd.get(0), 1e-7f);
        assertArrayEquals(new float[]{-1.34164025f, -0.44721342f, 0.44721342f, 1.34164025f}, Floats.toF32(y), 1e-6f);
    }

    /**
     * Hand-worked AdamW (lr 0.1, β 0.9/0.999, eps 1e-8, wd 0.01), p = 1, gradients 0.5 then −1.
     * Step 1: p = 0.999; m = 0.05; v = 0.00025; m̂ = 0.5, √v̂ = 0.5 → p = 0.999 − 0.1·0.5/(0.5 + 1e-8) = 0.899000002.
     * Step 2: p = 0.899·0.999 = 0.898101; m = 0.045 − 0.1 = −0.055; v = 0.00024975 + 0.001 = 0.00124975;
     * m̂ = −0.055/0.19 = −0.28947368; √v̂ = √(0.00124975/0.001999) = 0.79068805 → p = 0.898101 + 0.1·0.36610354 = 0.93471135.
     */
    @Test
    void adamwTwoStepsByHand() {
        adamwTwoStepsByHand(nb);
    }

    /**
     * The hyper-parameters are f32 (0.9f is 0.89999998), so the expected values hold to about 1e-6 relative, the size of
     * that input rounding; v to 3e-5, since 1 − 0.999f is 1.3e-5 relative away from 0.001. A wrong formula (missing bias correction, eps inside the root, coupled decay) is off by far more.
     */
    static void adamwTwoStepsByHand(Backend be) {
        Tensor p = Tensor.of(new float[]{1}, 1);
        Tensor m = Tensor.zeros(1);
        Tensor v = Tensor.zeros(1);
        be.adamw(p, Tensor.of(new float[]{0.5f}, 1), m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 1);
        assertEquals(0.899000002, p.get(0), 1e-6 * 0.9);
        assertEquals(0.05, m.get(0), 1e-6 * 0.05);
        assertEquals(0.00025, v.get(0), 3e-5 * 0.00025);
        be.adamw(p, Tensor.of(new float[]{-1f}, 1), m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 2);
        assertEquals(0.93471135, p.get(0), 1e-6 * 0.93);
        assertEquals(-0.055, m.get(0), 1e-6 * 0.055);
        assertEquals(0.00124975, v.get(0), 3e-5 * 0.00125);
    }

    /** [B, L, H·D] → [B, H, L, D] as one strided copy per batch, and the adjoint (swap, accumulate) putting it back. */
    @Test
    void copyStridedSplitsAndMergesHeads() {
        int b = 2;
        int l = 3;
        int h = 2;
        int d = 4;
        Tensor x = randn(rnd, 1, b, l, h * d);
        Tensor heads = Tensor.zeros(b, h, l, d);
        long[] src = {(long) l * h * d, d, (long) h * d, 1};
        long[] dst = {(long) h * l * d, (long) l * d, d, 1};
        long[] sizes = {b, h, l, d};
        nb.copyStrided(x, 0, src, heads, 0, dst, sizes, false);
        for (int bi = 0; bi < b; bi++) {
            for (int hi = 0; hi < h; hi++) {
                for (int li = 0; li < l; li++) {
                    for (int di = 0; di < d; di++) {
                        assertEquals(x.get(((long) bi * l + li) * h * d + (long) hi * d + di),
                                heads.get((((long) bi * h + hi) * l + li) * d + di));
                    }
                }
            }
        }
        Tensor back = Tensor.zeros(b, l, h * d);
        nb.fill(back, 1f);
        nb.copyStrided(heads, 0, dst, back, 0, src, sizes, true);
        float[] xs = Floats.toF32(x);
        float[] bs = Floats.toF32(back);
        for (int i = 0; i < xs.length; i++) {
            assertEquals(xs[i] + 1f, bs[i], 0f);
        }
        assertThrows(IllegalArgumentException.class,
                () -> nb.copyStrided(x, 1, src, heads, 0, dst, sizes, false), "out-of-range src");
    }

    @Test
    void memoryOpsConvertAndRound() {
        Tensor t = nb.allocate(DType.BF16, 3);
        assertArrayEquals(new float[]{0, 0, 0}, nb.download(t));
        // 1 + 2⁻⁸ is halfway between bf16 neighbours 1 and 1 + 2⁻⁷: ties to even → 1; 1 + 3·2⁻⁸ → 1 + 2⁻⁶ (even)
        Tensor src = nb.upload(new float[]{1 + 0x1p-8f, 1 + 3 * 0x1p-8f, -2.5f}, 3);
        nb.copy(src, t);
        assertArrayEquals(new float[]{1f, 1 + 0x1p-6f, -2.5f}, nb.download(t));
        Tensor h = nb.allocate(DType.F16, 3);
        nb.copy(t, h);
        assertArrayEquals(nb.download(t), nb.download(h));
        nb.fill(h, 0.1f);
        assertEquals(Floats.f16ToF32(Floats.f32ToF16(0.1f)), nb.download(h)[2]);
        Tensor f = nb.allocate(DType.F32, 2, 2);
        assertTrue(f.data().heapBase().isPresent(), "small F32 tensors live on the heap");
        assertThrows(IllegalArgumentException.class, () -> nb.copy(src, f));
    }
}
