package dev.fluxerase.erase;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The loss arithmetic on hand-worked cases. */
class LossesTest {

    @Test
    void esdTargetIsAnchorMinusEtaTimesConceptMinusAnchor() {
        float[] e0 = {1, 2};
        float[] ep = {3, 1};
        assertArrayEquals(new float[]{-1, 3}, Losses.esdTarget(e0, ep, 1));
        assertArrayEquals(new float[]{-3, 4}, Losses.esdTarget(e0, ep, 2));
        assertArrayEquals(e0, Losses.esdTarget(e0, ep, 0));
        float[] v = {0, 0};
        float[] t = Losses.esdTarget(e0, ep, 1);
        assertEquals(5.0, Losses.mse(v, t), 0);
        // weight · 2(v − T)/n with n = 2
        assertArrayEquals(new float[]{0.5f, -1.5f}, Losses.mseGradient(v, t, 0.5));
    }

    @Test
    void attentionLossIsTheHeadNormSummedOverQueriesAndPositions() {
        // [B=1, H=2, L=2, K=1]: head 0 (0.6, 0.3), head 1 (0.8, 0.4): norms 1 and 0.5
        float[] cols = {0.6f, 0.3f, 0.8f, 0.4f};
        assertEquals(1.5, Losses.attention(cols, 1, 2, 2, 1), 1e-7);
        float[] g = Losses.attentionGradient(cols, 1, 2, 2, 1, 1);
        assertArrayEquals(new float[]{0.6f, 0.6f, 0.8f, 0.8f}, g, 1e-6f);
        float[] g2 = Losses.attentionGradient(cols, 1, 2, 2, 1, 0.001);
        assertEquals(0.0006f, g2[0], 1e-9f);
        // two positions sum; a zero column contributes nothing and gets no gradient
        float[] two = {0.6f, 0, 0.3f, 0, 0.8f, 0, 0.4f, 0};
        assertEquals(1.5, Losses.attention(two, 1, 2, 2, 2), 1e-7);
        assertEquals(0f, Losses.attentionGradient(two, 1, 2, 2, 2, 1)[1]);
        // batch 2: the norm runs over batch and heads together
        float[] batch = {0.3f, 0.4f};
        assertEquals(0.5, Losses.attention(batch, 2, 1, 1, 1), 1e-7);
    }

    @Test
    void featureIsHeadZeroMeanOverPositions() {
        // [1, H=2, L=3, K=2]
        float[] cols = {1, 3, 2, 2, 0, 4, 9, 9, 9, 9, 9, 9};
        assertArrayEquals(new double[]{2, 2, 2}, Losses.feature(cols, 2, 3, 2), 1e-12);
        assertArrayEquals(new double[]{0.6, 0.8}, Losses.normalise(new double[]{3, 4}), 1e-15);
        assertArrayEquals(new double[]{0, 0}, Losses.normalise(new double[]{0, 0}), 0);
    }

    @Test
    void contrastOnKnownFeatures() {
        double tau = 0.07;
        double[] e1 = {1, 0};
        double[] e2 = {0, 1};
        List<double[]> ir = List.of(e2, e2, e2);
        // f_un along the synonym: s_un = 1/τ, s_ir = 0: L = −log(1 + 3e^{−1/τ}), gradient 0 (f_un cannot turn closer)
        Losses.Contrast same = Losses.contrast(new double[]{2, 0}, e1, ir, tau);
        assertEquals(-Math.log1p(3 * Math.exp(-1 / tau)), same.value(), 1e-15);
        assertArrayEquals(new double[]{0, 0}, same.gradUn(), 1e-12);
        // f_un orthogonal to the synonym: all scores 0, L = −log 4; dL/df̂ = (1 − 1/4)·e1/τ, divided by ‖f‖ = 3
        Losses.Contrast orth = Losses.contrast(new double[]{0, 3}, e1, ir, tau);
        assertEquals(-Math.log(4), orth.value(), 1e-15);
        assertArrayEquals(new double[]{0.75 / tau / 3, 0}, orth.gradUn(), 1e-12);
        // METHOD.md §7.3: the loss is higher when the concept's signature equals the synonym's
        assertTrue(same.value() > orth.value());
    }

    @Test
    void contrastGradientMatchesFiniteDifferences() {
        double[] syn = Losses.normalise(new double[]{0.2, 0.5, 0.1, 0.7});
        List<double[]> ir = List.of(Losses.normalise(new double[]{0.9, 0.1, 0.3, 0.1}),
                Losses.normalise(new double[]{0.1, 0.2, 0.8, 0.3}));
        double[] un = {0.3, 0.1, 0.6, 0.2};
        double[] g = Losses.contrast(un, syn, ir, 0.07).gradUn();
        for (int i = 0; i < un.length; i++) {
            double h = 1e-6;
            double[] p = un.clone();
            double[] m = un.clone();
            p[i] += h;
            m[i] -= h;
            double fd = (Losses.contrast(p, syn, ir, 0.07).value() - Losses.contrast(m, syn, ir, 0.07).value()) / (2 * h);
            assertEquals(fd, g[i], 1e-7 * Math.max(1, Math.abs(fd)), "coordinate " + i);
        }
        // the feature gradient spreads gradF/K over batch 0, head 0 of every position
        float[] gc = Losses.featureGradient(new double[]{2, 4}, 1, 2, 2, 2, 0.5);
        assertArrayEquals(new float[]{0.5f, 0.5f, 1f, 1f, 0, 0, 0, 0}, gc);
    }
}
