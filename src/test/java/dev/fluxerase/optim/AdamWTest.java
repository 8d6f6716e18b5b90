package dev.fluxerase.optim;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.cpu.NaiveBackend;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * One AdamW state driven with a different learning rate per step, against PyTorch's formula in double; restore; bf16
 * state against PyTorch's ops on bf16 tensors.
 */
class AdamWTest {
    private static final AdamW.Settings S = new AdamW.Settings(0.9f, 0.999f, 1e-8f, 1e-2f);

    /** torch.optim.AdamW on one parameter vector, in double, with a per-step learning rate. */
    private static double[] reference(double[] p, double[][] grads, double[] lrs) {
        double[] m = new double[p.length];
        double[] v = new double[p.length];
        p = p.clone();
        for (int t = 1; t <= grads.length; t++) {
            double lr = lrs[t - 1];
            for (int i = 0; i < p.length; i++) {
                double g = grads[t - 1][i];
                p[i] *= 1 - lr * S.weightDecay();
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.999 * v[i] + 0.001 * g * g;
                double mh = m[i] / (1 - Math.pow(0.9, t));
                double vh = v[i] / (1 - Math.pow(0.999, t));
                p[i] -= lr * mh / (Math.sqrt(vh) + 1e-8);
            }
        }
        return p;
    }

    @Test
    void alternatingLearningRatesMatchTorchAdamW() {
        for (Backend be : new Backend[]{new NaiveBackend(), new CpuBackend()}) {
            float[] p0 = {0.5f, -1.25f, 2f, 0f};
            float[][] g = {{0.1f, -0.2f, 0.3f, 0.05f}, {-0.4f, 0.1f, 0.2f, 0f}, {0.3f, 0.3f, -0.1f, 1f}};
            double[] lrs = {1e-3, 5e-4, 1e-3};
            Tensor p = be.upload(p0, 4);
            AdamW opt = new AdamW(be, S, List.of(p));
            for (int t = 0; t < g.length; t++) {
                opt.step(List.of(be.upload(g[t], 4)), (float) lrs[t]);
            }
            assertEquals(3, opt.steps());
            double[] pd = new double[4];
            double[][] gd = new double[3][4];
            for (int i = 0; i < 4; i++) {
                pd[i] = p0[i];
                for (int t = 0; t < 3; t++) {
                    gd[t][i] = g[t][i];
                }
            }
            double[] ref = reference(pd, gd, lrs);
            float[] got = be.download(p);
            for (int i = 0; i < 4; i++) {
                assertEquals(ref[i], got[i], 2e-7 * Math.max(1, Math.abs(ref[i])), be.name() + " element " + i);
            }
        }
    }

    @Test
    void restoredStateContinuesExactly() {
        Backend be = new CpuBackend();
        float[][] g = {{0.1f, -0.2f}, {-0.4f, 0.1f}, {0.3f, 0.3f}, {0.2f, -0.1f}};
        Tensor whole = be.upload(new float[]{1, 2}, 2);
        AdamW a = new AdamW(be, S, List.of(whole));
        for (float[] gi : g) {
            a.step(List.of(be.upload(gi, 2)), 1e-3f);
        }
        Tensor half = be.upload(new float[]{1, 2}, 2);
        AdamW b = new AdamW(be, S, List.of(half));
        b.step(List.of(be.upload(g[0], 2)), 1e-3f);
        b.step(List.of(be.upload(g[1], 2)), 1e-3f);
        List<float[]> m = new ArrayList<>();
        List<float[]> v = new ArrayList<>();
        m.add(be.download(b.firstMoments().getFirst()));
        v.add(be.download(b.secondMoments().getFirst()));
        Tensor resumed = be.upload(be.download(half), 2);
        AdamW c = new AdamW(be, S, List.of(resumed));
        c.restore(b.steps(), m, v);
        c.step(List.of(be.upload(g[2], 2)), 1e-3f);
        c.step(List.of(be.upload(g[3], 2)), 1e-3f);
        assertArrayEquals(be.download(whole), be.download(resumed));
        assertEquals(4, c.steps());
    }

    private static final AdamW.Settings NO_DECAY = new AdamW.Settings(0.9, 0.999, 1e-8, 0);

    /**
     * One bf16 step by hand, lr 1e-3, gradient 0.5, for p = 1 and p = bf16(0.01) = 0.010009765625:
     * m = bf16(0.1·0.5) = 0.050048828125 (0.05 = 1.6·2⁻⁵, 1.6 = 1.1001100|11₂ rounds up to 1.1001101₂);
     * v = bf16(0.001·0.25) = 1.0234375·2⁻¹² = 2.498626708984375e-4;
     * d = bf16(bf16(bf16(√v = 0.0158071) = 0.0157470703125 ÷ √(1 − 0.999) = 0.497966) = 0.498046875 + 1e-8)
     * = 0.498046875; the update is −(1e-3/0.1)·m/d = −0.0010049. For p = 1 that is less than half of bf16's spacing
     * below 1 (2⁻⁹ = 0.00195), so p stays 1 (f32 state moves it by lr to 0.999); 0.010009765625 − 0.0010049 = 0.0090049
     * rounds to 1.15625·2⁻⁷ = 0.009033203125. A second step with gradient 0 leaves v as it is: v·0.999 rounds back to v
     * for every bf16 v.
     */
    @Test
    void aBf16StepByHand() {
        Backend be = new CpuBackend();
        Tensor p = be.upload(new float[]{1f, 0.010009765625f}, 2);
        AdamW opt = new AdamW(be, NO_DECAY, List.of(p), DType.BF16);
        opt.step(List.of(be.upload(new float[]{0.5f, 0.5f}, 2)), 1e-3);
        assertArrayEquals(new float[]{1f, 0.009033203125f}, be.download(p));
        assertArrayEquals(new float[]{0.050048828125f, 0.050048828125f}, be.download(opt.firstMoments().getFirst()));
        assertArrayEquals(new float[]{2.498626708984375e-4f, 2.498626708984375e-4f},
                be.download(opt.secondMoments().getFirst()));
        opt.step(List.of(be.upload(new float[]{0f, 0f}, 2)), 1e-3);
        assertArrayEquals(new float[]{2.498626708984375e-4f, 2.498626708984375e-4f},
                be.download(opt.secondMoments().getFirst()));

        Tensor f32 = be.upload(new float[]{1f}, 1);
        new AdamW(be, NO_DECAY, List.of(f32)).step(List.of(be.upload(new float[]{0.5f}, 1)), 1e-3);
        assertEquals(0.999f, be.download(f32)[0], 1e-7f);
    }

    /** x rounded to 8 significant bits, ties to even (normal numbers): bf16 without its bit layout. */
    private static float bf16(float x) {
        if (x == 0) {
            return x;
        }
        int e = Math.getExponent(x) - 7;
        return (float) Math.scalb(Math.rint(Math.scalb((double) x, -e)), e);
    }

    /**
     * Six bf16 steps at alternating rates with a weight decay large enough to move p, against torch.optim.AdamW's ops
     * on bf16 tensors written out one by one, each rounded: bit for bit.
     */
    @Test
    void bf16StepsMatchTorchsOpsRoundedOneByOne() {
        AdamW.Settings s = new AdamW.Settings(0.9, 0.999, 1e-8, 0.1);
        Random rng = new Random(3);
        int n = 16;
        float[] p = new float[n];
        for (int i = 0; i < n; i++) {
            p[i] = bf16((float) rng.nextGaussian() * 0.2f);
        }
        Backend be = new CpuBackend();
        Tensor param = be.upload(p.clone(), n);
        AdamW opt = new AdamW(be, s, List.of(param), DType.BF16);
        float[] m = new float[n];
        float[] v = new float[n];
        for (int t = 1; t <= 6; t++) {
            double lr = t % 2 == 1 ? 0.05 : 0.02;
            float[] g = new float[n];
            for (int i = 0; i < n; i++) {
                g[i] = (float) rng.nextGaussian();
            }
            opt.step(List.of(be.upload(g, n)), lr);
            float bc2 = (float) Math.sqrt(1 - Math.pow(0.999, t));
            float stepSize = (float) (-lr / (1 - Math.pow(0.9, t)));
            for (int i = 0; i < n; i++) {
                float gi = bf16(g[i]);                                         // the bf16 .grad
                p[i] = bf16(p[i] * (float) (1 - lr * 0.1));                    // param.mul_(1 - lr*wd)
                m[i] = bf16(Math.fma((float) (1 - 0.9), gi - m[i], m[i]));     // exp_avg.lerp_(grad, 1 - beta1)
                v[i] = bf16(v[i] * (float) 0.999);                             // exp_avg_sq.mul_(beta2)
                v[i] = bf16(Math.fma((float) (1 - 0.999), gi * gi, v[i]));     // .addcmul_(grad, grad, 1 - beta2)
                float d = bf16((float) Math.sqrt(v[i]));                       // exp_avg_sq.sqrt()
                d = bf16(d / bc2);                                             // / bias_correction2_sqrt
                d = bf16(d + 1e-8f);                                           // .add_(eps)
                p[i] = bf16(Math.fma(stepSize, m[i] / d, p[i]));               // param.addcdiv_(m, d, -step_size)
            }
            assertArrayEquals(p, be.download(param), "step " + t);
            assertArrayEquals(m, be.download(opt.firstMoments().getFirst()), "m, step " + t);
            assertArrayEquals(v, be.download(opt.secondMoments().getFirst()), "v, step " + t);
        }
    }

    @Test
    void badArguments() {
        Backend be = new NaiveBackend();
        AdamW opt = new AdamW(be, S, List.of(be.upload(new float[2], 2)));
        assertEquals("AdamW: gradient 0 has shape [3], its parameter [2]",
                assertThrows(IllegalArgumentException.class, () -> opt.step(List.of(be.upload(new float[3], 3)), 1e-3f))
                        .getMessage());
        assertThrows(IllegalArgumentException.class, () -> opt.step(List.of(), 1e-3f));
        assertThrows(IllegalArgumentException.class, () -> new AdamW.Settings(1f, 0.999f, 1e-8f, 0));
    }
}
