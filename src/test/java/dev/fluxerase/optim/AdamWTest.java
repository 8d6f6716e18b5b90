package dev.fluxerase.optim;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.cpu.NaiveBackend;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** One AdamW state driven with a different learning rate per step, against PyTorch's formula in double; restore. */
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
