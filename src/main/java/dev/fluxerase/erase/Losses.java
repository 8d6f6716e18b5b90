package dev.fluxerase.erase;

import java.util.List;

/**
 * The arithmetic of EraseAnything's four losses (METHOD.md §2) on host arrays, each value next to its gradient. The
 * attention losses see only the probability columns of the concept's key positions: {@code cols [B, H, L, K]},
 * {@code cols[b, h, q, j] = P[b, h, q, positions[j]]} of one double block's joint attention (text first, so a T5
 * position is its column). Sums are taken in double.
 */
final class Losses {
    /** F.normalize's floor under a norm. */
    static final double NORM_EPS = 1e-12;

    private Losses() {
    }

    // ---- L_esd: ESD in velocity space --------------------------------------------------------------------------------

    /** The ESD target e0 − η(ep − e0) in float32, as torch computes it from e0 (anchor) and ep (concept). */
    static float[] esdTarget(float[] e0, float[] ep, double eta) {
        float[] t = new float[e0.length];
        float h = (float) eta;
        for (int i = 0; i < t.length; i++) {
            t[i] = e0[i] - h * (ep[i] - e0[i]);
        }
        return t;
    }

    /** mean((v − target)²): L_esd, and L_lora with target ε − x0. */
    static double mse(float[] v, float[] target) {
        double s = 0;
        for (int i = 0; i < v.length; i++) {
            double d = (double) v[i] - target[i];
            s += d * d;
        }
        return s / v.length;
    }

    /** weight · d mean((v − target)²) / dv = weight · 2(v − target)/n. */
    static float[] mseGradient(float[] v, float[] target, double weight) {
        float[] g = new float[v.length];
        double c = 2 * weight / v.length;
        for (int i = 0; i < v.length; i++) {
            g[i] = (float) (c * ((double) v[i] - target[i]));
        }
        return g;
    }

    // ---- L_attn: attention-map regulariser -----------------------------------------------------------------------------

    /** Σ_q Σ_j sqrt(Σ_{b,h} cols[b, h, q, j]²). */
    static double attention(float[] cols, int b, int h, int l, int k) {
        double s = 0;
        for (int q = 0; q < l; q++) {
            for (int j = 0; j < k; j++) {
                s += Math.sqrt(sumSquares(cols, b, h, l, k, q, j));
            }
        }
        return s;
    }

    /** weight · dL_attn/dcols = weight · cols / sqrt(Σ_{b,h} cols²) (0 where that norm is 0). */
    static float[] attentionGradient(float[] cols, int b, int h, int l, int k, double weight) {
        float[] g = new float[cols.length];
        for (int q = 0; q < l; q++) {
            for (int j = 0; j < k; j++) {
                double norm = Math.sqrt(sumSquares(cols, b, h, l, k, q, j));
                if (norm == 0) {
                    continue;
                }
                for (int bb = 0; bb < b; bb++) {
                    for (int hh = 0; hh < h; hh++) {
                        int i = index(bb, hh, q, j, h, l, k);
                        g[i] = (float) (weight * cols[i] / norm);
                    }
                }
            }
        }
        return g;
    }

    private static double sumSquares(float[] cols, int b, int h, int l, int k, int q, int j) {
        double s = 0;
        for (int bb = 0; bb < b; bb++) {
            for (int hh = 0; hh < h; hh++) {
                double p = cols[index(bb, hh, q, j, h, l, k)];
                s += p * p;
            }
        }
        return s;
    }

    private static int index(int bb, int hh, int q, int j, int h, int l, int k) {
        return ((bb * h + hh) * l + q) * k + j;
    }

    // ---- L_rsc: reverse self-contrastive loss ----------------------------------------------------------------------------

    /** f = (1/K) Σ_j cols[0, 0, :, j]: head 0 of batch element 0, averaged over the positions (not normalised). */
    static double[] feature(float[] cols, int h, int l, int k) {
        double[] f = new double[l];
        for (int q = 0; q < l; q++) {
            double s = 0;
            for (int j = 0; j < k; j++) {
                s += cols[index(0, 0, q, j, h, l, k)];
            }
            f[q] = s / k;
        }
        return f;
    }

    /** f / max(‖f‖, 1e-12), as torch's F.normalize. */
    static double[] normalise(double[] f) {
        double n = Math.max(Math.sqrt(dot(f, f)), NORM_EPS);
        double[] out = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            out[i] = f[i] / n;
        }
        return out;
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    /** The value of L_rsc and its gradient in the un-normalised concept feature. */
    record Contrast(double value, double[] gradUn) {
    }

    /**
     * L_rsc = log softmax_un(s) with s_m = ⟨f̂_syn, f̂_m⟩/τ over m ∈ {un, ir_1..ir_K} (the code's form, §2.4): the
     * synonym is the anchor, the concept feature the "positive" whose score is minimised. {@code fUn} is the raw
     * feature (the gradient is taken through its normalisation); {@code synHat} and {@code irHat} are normalised and
     * constant. dL/df̂_un = (1 − p_un)·f̂_syn/τ, then through f̂ = f/‖f‖: (g − f̂⟨f̂, g⟩)/‖f‖.
     */
    static Contrast contrast(double[] fUn, double[] synHat, List<double[]> irHat, double tau) {
        double[] unHat = normalise(fUn);
        double[] s = new double[1 + irHat.size()];
        s[0] = dot(synHat, unHat) / tau;
        for (int i = 0; i < irHat.size(); i++) {
            s[1 + i] = dot(synHat, irHat.get(i)) / tau;
        }
        double max = Double.NEGATIVE_INFINITY;
        for (double v : s) {
            max = Math.max(max, v);
        }
        double z = 0;
        for (double v : s) {
            z += Math.exp(v - max);
        }
        double lse = max + Math.log(z);
        double pUn = Math.exp(s[0] - lse);
        double[] gHat = new double[fUn.length];
        for (int i = 0; i < gHat.length; i++) {
            gHat[i] = (1 - pUn) * synHat[i] / tau;
        }
        double norm = Math.sqrt(dot(fUn, fUn));
        double[] g = new double[fUn.length];
        if (norm > NORM_EPS) {
            double along = dot(unHat, gHat);
            for (int i = 0; i < g.length; i++) {
                g[i] = (gHat[i] - unHat[i] * along) / norm;
            }
        } else {
            for (int i = 0; i < g.length; i++) {
                g[i] = gHat[i] / NORM_EPS;
            }
        }
        return new Contrast(s[0] - lse, g);
    }

    /** weight · dL/dcols for a feature gradient: batch 0, head 0, each position gets gradF / K. */
    static float[] featureGradient(double[] gradF, int b, int h, int l, int k, double weight) {
        float[] g = new float[b * h * l * k];
        for (int q = 0; q < l; q++) {
            for (int j = 0; j < k; j++) {
                g[index(0, 0, q, j, h, l, k)] = (float) (weight * gradF[q] / k);
            }
        }
        return g;
    }
}
