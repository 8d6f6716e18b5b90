package dev.fluxerase.vae;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each op against a direct float64 evaluation of its PyTorch definition, on odd sizes (vector tails, odd stride-2
 * inputs) and with buffer budgets small enough to force several im2col tiles and attention query blocks.
 */
class VaeOpsTest {
    private final Random random = new Random(11);

    private float[] randoms(int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (scale * random.nextGaussian());
        }
        return a;
    }

    private FeatureMap map(int h, int w, int c) {
        return new FeatureMap(h, w, c, randoms(h * w * c, 1));
    }

    private static double at(FeatureMap m, int ch, int y, int x) {
        return m.data[(y * m.w + x) * m.c + ch];
    }

    private static void assertClose(double[] ref, FeatureMap ours, int oh, int ow, int oc) {
        assertEquals(oh, ours.h, "height");
        assertEquals(ow, ours.w, "width");
        assertEquals(oc, ours.c, "channels");
        double maxDiff = 0;
        double maxRef = 0;
        for (int i = 0; i < ref.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(ours.data[i] - ref[i]));
            maxRef = Math.max(maxRef, Math.abs(ref[i]));
        }
        assertTrue(maxDiff / maxRef < 2e-6, "rel_to_max " + maxDiff / maxRef);
    }

    /** PyTorch layout [cout][cin][k][k] → the loader's [cout][ky][kx][cin]. */
    private static float[] reorder(float[] w, int cout, int cin, int k) {
        float[] r = new float[w.length];
        for (int o = 0; o < cout; o++) {
            for (int i = 0; i < cin; i++) {
                for (int t = 0; t < k * k; t++) {
                    r[(o * k * k + t) * cin + i] = w[(o * cin + i) * k * k + t];
                }
            }
        }
        return r;
    }

    /** out[o, y, x] = b[o] + Σ w[o, i, ky, kx] · in(i, sy + ky − pad, sx + kx − pad), taps outside the input are 0. */
    private static double[] directConv(FeatureMap x, float[] w, float[] b, int cout, int k, Conv2d.Mode mode, int oh,
                                       int ow) {
        int cin = x.c;
        double[] out = new double[oh * ow * cout];
        for (int y = 0; y < oh; y++) {
            for (int xx = 0; xx < ow; xx++) {
                for (int o = 0; o < cout; o++) {
                    double s = b[o];
                    for (int i = 0; i < cin; i++) {
                        for (int ky = 0; ky < k; ky++) {
                            for (int kx = 0; kx < k; kx++) {
                                int vy;
                                int vx;
                                int vh = x.h;
                                int vw = x.w;
                                if (k == 1) {
                                    vy = y;
                                    vx = xx;
                                } else if (mode == Conv2d.Mode.DOWN) {
                                    vy = 2 * y + ky;
                                    vx = 2 * xx + kx;
                                } else {
                                    vy = y + ky - 1;
                                    vx = xx + kx - 1;
                                    if (mode == Conv2d.Mode.UP) {
                                        vh *= 2;
                                        vw *= 2;
                                    }
                                }
                                if (vy < 0 || vx < 0 || vy >= vh || vx >= vw) {
                                    continue;
                                }
                                int sy = mode == Conv2d.Mode.UP && k == 3 ? vy / 2 : vy;
                                int sx = mode == Conv2d.Mode.UP && k == 3 ? vx / 2 : vx;
                                s += (double) w[((o * cin + i) * k + ky) * k + kx] * at(x, i, sy, sx);
                            }
                        }
                    }
                    out[(y * ow + xx) * cout + o] = s;
                }
            }
        }
        return out;
    }

    @Test
    void conv3x3AllGeometriesAcrossTiles() {
        int cin = 5;
        int cout = 6;
        float[] w = randoms(cout * cin * 9, 0.3);
        float[] b = randoms(cout, 0.1);
        Conv2d conv = new Conv2d(cin, cout, 3, reorder(w, cout, cin, 3), b);
        for (int[] hw : new int[][]{{7, 5}, {6, 8}, {2, 3}}) {
            FeatureMap x = map(hw[0], hw[1], cin);
            for (int budget : new int[]{1 << 22, 45 * 4, 1}) {
                assertClose(directConv(x, w, b, cout, 3, Conv2d.Mode.SAME, x.h, x.w),
                        conv.forward(x, Conv2d.Mode.SAME, null, budget), x.h, x.w, cout);
                assertClose(directConv(x, w, b, cout, 3, Conv2d.Mode.UP, 2 * x.h, 2 * x.w),
                        conv.forward(x, Conv2d.Mode.UP, null, budget), 2 * x.h, 2 * x.w, cout);
                // PyTorch: pad (0, 1, 0, 1), then floor((H + 1 − 3) / 2) + 1 rows
                int oh = (x.h + 1 - 3) / 2 + 1;
                int ow = (x.w + 1 - 3) / 2 + 1;
                assertClose(directConv(x, w, b, cout, 3, Conv2d.Mode.DOWN, oh, ow),
                        conv.forward(x, Conv2d.Mode.DOWN, null, budget), oh, ow, cout);
            }
        }
    }

    @Test
    void conv1x1AndFusedResidual() {
        int cin = 9;
        int cout = 19;
        float[] w = randoms(cout * cin, 0.3);
        float[] b = randoms(cout, 0.1);
        FeatureMap x = map(3, 4, cin);
        FeatureMap residual = map(3, 4, cout);
        double[] ref = directConv(x, w, b, cout, 1, Conv2d.Mode.SAME, 3, 4);
        for (int i = 0; i < ref.length; i++) {
            ref[i] += residual.data[i];
        }
        assertClose(ref, new Conv2d(cin, cout, 1, w, b).forward(x, null, residual), 3, 4, cout);
    }

    private static double[] directGroupNorm(FeatureMap x, int groups, float[] gamma, float[] beta, boolean swish) {
        int cg = x.c / groups;
        int n = x.h * x.w;
        double[] out = new double[x.data.length];
        for (int g = 0; g < groups; g++) {
            double sum = 0;
            for (int p = 0; p < n; p++) {
                for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
                    sum += x.data[p * x.c + ch];
                }
            }
            double mean = sum / (n * cg);
            double sq = 0;
            for (int p = 0; p < n; p++) {
                for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
                    sq += Math.pow(x.data[p * x.c + ch] - mean, 2);
                }
            }
            double rstd = 1 / Math.sqrt(sq / (n * cg) + 1e-6);
            for (int p = 0; p < n; p++) {
                for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
                    double v = (x.data[p * x.c + ch] - mean) * rstd * gamma[ch] + beta[ch];
                    out[p * x.c + ch] = swish ? v / (1 + Math.exp(-v)) : v;
                }
            }
        }
        return out;
    }

    @Test
    void groupNormWithAndWithoutSwish() {
        for (int[] cg : new int[][]{{12, 3}, {20, 4}, {32, 32}}) {
            int c = cg[0];
            FeatureMap x = map(9, 7, c);
            for (int i = 0; i < x.data.length; i++) {
                x.data[i] = x.data[i] * 3 + 5; // a large mean, which a one-pass variance would lose digits to
            }
            float[] gamma = randoms(c, 0.1);
            float[] beta = randoms(c, 0.1);
            for (int i = 0; i < c; i++) {
                gamma[i] += 1;
            }
            GroupNorm gn = new GroupNorm(c, cg[1], gamma, beta);
            for (boolean swish : new boolean[]{false, true}) {
                assertClose(directGroupNorm(x, cg[1], gamma, beta, swish), gn.forward(x, swish), 9, 7, c);
            }
        }
    }

    @Test
    void attentionAcrossQueryBlocks() {
        int c = 12;
        FeatureMap x = map(5, 3, c);
        float[] gamma = randoms(c, 0.1);
        for (int i = 0; i < c; i++) {
            gamma[i] += 1;
        }
        float[] beta = randoms(c, 0.1);
        float[][] w = new float[4][];
        float[][] b = new float[4][];
        Conv2d[] lin = new Conv2d[4];
        for (int j = 0; j < 4; j++) {
            w[j] = randoms(c * c, 0.5);
            b[j] = randoms(c, 0.1);
            lin[j] = new Conv2d(c, c, 1, w[j], b[j]);
        }
        SpatialAttention attn = new SpatialAttention(c, new GroupNorm(c, 4, gamma, beta), lin[0], lin[1], lin[2], lin[3]);

        int t = x.h * x.w;
        double[] xn = directGroupNorm(x, 4, gamma, beta, false);
        double[][][] qkv = new double[3][t][c];
        for (int j = 0; j < 3; j++) {
            for (int p = 0; p < t; p++) {
                for (int o = 0; o < c; o++) {
                    double s = b[j][o];
                    for (int i = 0; i < c; i++) {
                        s += w[j][o * c + i] * xn[p * c + i];
                    }
                    qkv[j][p][o] = s;
                }
            }
        }
        double[] ref = new double[t * c];
        for (int p = 0; p < t; p++) {
            double[] s = new double[t];
            double max = Double.NEGATIVE_INFINITY;
            for (int r = 0; r < t; r++) {
                for (int i = 0; i < c; i++) {
                    s[r] += qkv[0][p][i] * qkv[1][r][i];
                }
                s[r] /= Math.sqrt(c);
                max = Math.max(max, s[r]);
            }
            double sum = 0;
            for (int r = 0; r < t; r++) {
                s[r] = Math.exp(s[r] - max);
                sum += s[r];
            }
            double[] o = new double[c];
            for (int r = 0; r < t; r++) {
                for (int i = 0; i < c; i++) {
                    o[i] += s[r] / sum * qkv[2][r][i];
                }
            }
            for (int oc = 0; oc < c; oc++) {
                double v = b[3][oc] + x.data[p * c + oc];
                for (int i = 0; i < c; i++) {
                    v += w[3][oc * c + i] * o[i];
                }
                ref[p * c + oc] = v;
            }
        }
        for (int budget : new int[]{1 << 22, t * 4, 1}) {
            assertClose(ref, attn.forward(x, budget), 5, 3, c);
        }
    }

    @Test
    void layoutConversionsRoundTrip() {
        float[] nchw = randoms(2 * 3 * 4 * 5, 1);
        float[] back = new float[nchw.length];
        for (int b = 0; b < 2; b++) {
            FeatureMap m = FeatureMap.fromNchw(nchw, b, 3, 4, 5);
            assertEquals(nchw[b * 60 + 2 * 20 + 3 * 5 + 1], m.data[(3 * 5 + 1) * 3 + 2], "channel 2, row 3, column 1");
            m.toNchw(back, b);
        }
        org.junit.jupiter.api.Assertions.assertArrayEquals(nchw, back);
    }
}
