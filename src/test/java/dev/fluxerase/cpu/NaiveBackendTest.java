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
import static dev.fluxerase.testing.Compare.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

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
}
