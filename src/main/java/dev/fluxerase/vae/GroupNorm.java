package dev.fluxerase.vae;

import dev.fluxerase.cpu.DetMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * GroupNorm with affine scale and shift, eps 1e-6 (every norm of FLUX's VAE), optionally followed by swish
 * x·sigmoid(x), which every norm but the attention's is. Statistics are over all pixels of a group of c/groups
 * consecutive channels, accumulated in double (two passes: mean, then the biased variance), so they are as accurate as
 * the float32 inputs allow. Inference only: nothing is saved for a backward.
 */
final class GroupNorm {
    static final double EPS = 1e-6;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    final int c;
    final int groups;
    private final float[] gamma;
    private final float[] beta;

    GroupNorm(int c, int groups, float[] gamma, float[] beta) {
        if (c % groups != 0 || gamma.length != c || beta.length != c) {
            throw new IllegalArgumentException("GroupNorm(" + groups + ", " + c + ") with " + gamma.length + "/"
                    + beta.length + " affine values");
        }
        this.c = c;
        this.groups = groups;
        this.gamma = gamma;
        this.beta = beta;
    }

    static GroupNorm load(VaeWeights w, String prefix, int c) {
        int groups = w.config().normNumGroups();
        return new GroupNorm(c, groups, w.vector(prefix + ".weight", c), w.vector(prefix + ".bias", c));
    }

    FeatureMap forward(FeatureMap x, boolean swish) {
        if (x.c != c) {
            throw new IllegalArgumentException("GroupNorm over " + c + " channels got " + x.c);
        }
        int pixels = x.pixels();
        int cg = c / groups;
        double count = (double) pixels * cg;
        double[] mean = groupSums(x, null);
        for (int g = 0; g < groups; g++) {
            mean[g] /= count;
        }
        double[] var = groupSums(x, mean);
        float[] scale = new float[c];
        float[] shift = new float[c];
        for (int ch = 0; ch < c; ch++) {
            int g = ch / cg;
            double rstd = 1.0 / Math.sqrt(var[g] / count + EPS);
            scale[ch] = (float) (gamma[ch] * rstd);
            shift[ch] = (float) (beta[ch] - mean[g] * gamma[ch] * rstd);
        }
        FeatureMap y = new FeatureMap(x.h, x.w, c);
        Par.range(pixels, c, (lo, hi) -> apply(x.data, y.data, scale, shift, lo, hi, swish));
        return y;
    }

    /** Σ x per group, or Σ (x − mean[g])² when mean is given; per-channel partial sums per chunk, combined in order. */
    private double[] groupSums(FeatureMap x, double[] mean) {
        int pixels = x.pixels();
        int cg = c / groups;
        int chunks = Math.max(1, Math.min(64, pixels / 256));
        double[][] partial = new double[chunks][];
        Par.range(chunks, (long) pixels / chunks * c, (lo, hi) -> {
            for (int k = lo; k < hi; k++) {
                double[] s = new double[c];
                int p0 = (int) ((long) pixels * k / chunks);
                int p1 = (int) ((long) pixels * (k + 1) / chunks);
                float[] d = x.data;
                if (mean == null) {
                    for (int p = p0; p < p1; p++) {
                        int base = p * c;
                        for (int ch = 0; ch < c; ch++) {
                            s[ch] += d[base + ch];
                        }
                    }
                } else {
                    double[] m = new double[c];
                    for (int ch = 0; ch < c; ch++) {
                        m[ch] = mean[ch / cg];
                    }
                    for (int p = p0; p < p1; p++) {
                        int base = p * c;
                        for (int ch = 0; ch < c; ch++) {
                            double t = d[base + ch] - m[ch];
                            s[ch] += t * t;
                        }
                    }
                }
                partial[k] = s;
            }
        });
        double[] out = new double[groups];
        for (double[] s : partial) {
            for (int ch = 0; ch < c; ch++) {
                out[ch / cg] += s[ch];
            }
        }
        return out;
    }

    private void apply(float[] x, float[] y, float[] scale, float[] shift, int p0, int p1, boolean swish) {
        int bound = F.loopBound(c);
        for (int p = p0; p < p1; p++) {
            int base = p * c;
            int ch = 0;
            for (; ch < bound; ch += F.length()) {
                FloatVector v = FloatVector.fromArray(F, x, base + ch)
                        .fma(FloatVector.fromArray(F, scale, ch), FloatVector.fromArray(F, shift, ch));
                if (swish) {
                    v = DetMath.silu(v);
                }
                v.intoArray(y, base + ch);
            }
            for (; ch < c; ch++) {
                float v = Math.fma(x[base + ch], scale[ch], shift[ch]);
                y[base + ch] = swish ? DetMath.silu(v) : v;
            }
        }
    }
}
