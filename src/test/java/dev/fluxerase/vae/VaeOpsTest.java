package dev.fluxerase.vae;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.cpu.NaiveBackend;
import dev.fluxerase.tensor.Allocations;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.ConvGeometry;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each layer of the VAE against a direct float64 evaluation of its PyTorch definition, on odd sizes (vector tails, odd
 * stride-2 inputs) and with score budgets small enough to force several attention query blocks, on the reference and
 * the CPU backend. (How a backend tiles its conv is its own business, tested with the op in the backend tests.)
 */
class VaeOpsTest {
    private final Random random = new Random(11);

    static Backend[] backends() {
        return new Backend[]{new NaiveBackend(), new CpuBackend()};
    }

    /** A channels-last map [1, h, w, c] of host values, as the layers take it. */
    private record FeatureMap(int h, int w, int c, float[] data) {
        Tensor on(Backend be) {
            return be.upload(data, 1, h, w, c);
        }
    }

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

    private static void assertClose(double[] ref, Backend be, Tensor ours, int oh, int ow, int oc) {
        assertEquals(oh, ours.dim(1), "height");
        assertEquals(ow, ours.dim(2), "width");
        assertEquals(oc, ours.dim(3), "channels");
        float[] got = be.download(ours);
        double maxDiff = 0;
        double maxRef = 0;
        for (int i = 0; i < ref.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(got[i] - ref[i]));
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
    private enum Mode { SAME, DOWN, UP }

    private static double[] directConv(FeatureMap x, float[] w, float[] b, int cout, int k, Mode mode, int oh,
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
                                } else if (mode == Mode.DOWN) {
                                    vy = 2 * y + ky;
                                    vx = 2 * xx + kx;
                                } else {
                                    vy = y + ky - 1;
                                    vx = xx + kx - 1;
                                    if (mode == Mode.UP) {
                                        vh *= 2;
                                        vw *= 2;
                                    }
                                }
                                if (vy < 0 || vx < 0 || vy >= vh || vx >= vw) {
                                    continue;
                                }
                                int sy = mode == Mode.UP && k == 3 ? vy / 2 : vy;
                                int sx = mode == Mode.UP && k == 3 ? vx / 2 : vx;
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

    @ParameterizedTest
    @MethodSource("backends")
    void conv3x3AllGeometries(Backend be) {
        int cin = 5;
        int cout = 6;
        float[] w = randoms(cout * cin * 9, 0.3);
        float[] b = randoms(cout, 0.1);
        Conv2d conv = new Conv2d(new Allocations(be), cin, cout, 3, reorder(w, cout, cin, 3), b);
        for (int[] hw : new int[][]{{7, 5}, {6, 8}, {2, 3}}) {
            FeatureMap x = map(hw[0], hw[1], cin);
            Tensor xt = x.on(be);
            assertClose(directConv(x, w, b, cout, 3, Mode.SAME, x.h, x.w), be,
                    conv.forward(xt, ConvGeometry.SAME), x.h, x.w, cout);
            assertClose(directConv(x, w, b, cout, 3, Mode.UP, 2 * x.h, 2 * x.w), be,
                    conv.forward(xt, ConvGeometry.UP), 2 * x.h, 2 * x.w, cout);
            // PyTorch: pad (0, 1, 0, 1), then floor((H + 1 − 3) / 2) + 1 rows
            int oh = (x.h + 1 - 3) / 2 + 1;
            int ow = (x.w + 1 - 3) / 2 + 1;
            assertClose(directConv(x, w, b, cout, 3, Mode.DOWN, oh, ow), be,
                    conv.forward(xt, ConvGeometry.DOWN), oh, ow, cout);
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void conv1x1AndFusedResidual(Backend be) {
        int cin = 9;
        int cout = 19;
        float[] w = randoms(cout * cin, 0.3);
        float[] b = randoms(cout, 0.1);
        FeatureMap x = map(3, 4, cin);
        FeatureMap residual = map(3, 4, cout);
        double[] ref = directConv(x, w, b, cout, 1, Mode.SAME, 3, 4);
        for (int i = 0; i < ref.length; i++) {
            ref[i] += residual.data[i];
        }
        Tensor y = residual.on(be);
        new Conv2d(new Allocations(be), cin, cout, 1, w, b).accumulate(x.on(be), ConvGeometry.POINTWISE, y);
        assertClose(ref, be, y, 3, 4, cout);
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

    @ParameterizedTest
    @MethodSource("backends")
    void groupNormWithAndWithoutSwish(Backend be) {
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
            GroupNorm gn = new GroupNorm(new Allocations(be), c, cg[1], gamma, beta);
            for (boolean swish : new boolean[]{false, true}) {
                assertClose(directGroupNorm(x, cg[1], gamma, beta, swish), be, gn.forward(x.on(be), swish), 9, 7, c);
                Tensor inPlace = x.on(be);
                gn.inPlace(inPlace, swish);
                assertClose(directGroupNorm(x, cg[1], gamma, beta, swish), be, inPlace, 9, 7, c);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void attentionAcrossQueryBlocks(Backend be) {
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
            lin[j] = new Conv2d(new Allocations(be), c, c, 1, w[j], b[j]);
        }
        SpatialAttention attn = new SpatialAttention(c, new GroupNorm(new Allocations(be), c, 4, gamma, beta), lin[0],
                lin[1], lin[2], lin[3], be);

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
            // the block takes its input over (the residual is accumulated into it), so each run gets a fresh copy
            assertClose(ref, be, attn.forward(x.on(be), budget), 5, 3, c);
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void layoutConversionsRoundTrip(Backend be) {
        float[] nchw = randoms(2 * 3 * 4 * 5, 1);
        Tensor images = be.upload(nchw, 2, 3, 4, 5);
        Tensor back = be.allocate(dev.fluxerase.tensor.DType.F32, 2, 3, 4, 5);
        for (int b = 0; b < 2; b++) {
            Tensor m = Layout.toMap(be, images, b);
            assertEquals(nchw[b * 60 + 2 * 20 + 3 * 5 + 1], be.download(m)[(3 * 5 + 1) * 3 + 2],
                    "channel 2, row 3, column 1");
            Layout.toNchw(be, m, back, b);
        }
        org.junit.jupiter.api.Assertions.assertArrayEquals(nchw, be.download(back));
    }
}
