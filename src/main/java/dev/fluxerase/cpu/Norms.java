package dev.fluxerase.cpu;

import dev.fluxerase.tensor.BackendContract;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import static dev.fluxerase.cpu.Vec.N;
import static dev.fluxerase.cpu.Vec.S;

/**
 * LayerNorm without affine (saved: mean and rstd per row, x) and RMSNorm with a scale (saved: rrms per row, x). Rows are
 * independent and split across threads; the RMSNorm weight gradient is a column reduction over rows, summed per chunk in
 * f32 and across chunks in double. GroupNorm (the VAE's, inference only) normalises per (image, group of channels) over
 * all pixels.
 */
final class Norms {
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;

    private Norms() {
    }

    // ---- LayerNorm: y = (x − μ)·rstd; saved: mean, rstd ------------------------------------------------------------------

    /** mean and rstd may be null (inference). */
    static void layerNorm(Arr x, Arr y, Arr mean, Arr rstd, float eps, int rows, int cols) {
        Parallel.forRange(rows, 4L * cols, (c, from, to) -> {
            for (int r = from; r < to; r++) {
                int xo = x.off + r * cols;
                int yo = y.off + r * cols;
                float mu = Vec.sum(x.a, xo, cols) / cols;
                FloatVector vmu = FloatVector.broadcast(S, mu);
                FloatVector acc = FloatVector.zero(S);
                int i = 0;
                for (int upper = S.loopBound(cols); i < upper; i += N) {
                    FloatVector d = FloatVector.fromArray(S, x.a, xo + i).sub(vmu);
                    acc = d.fma(d, acc);
                }
                float var = Vec.sumLanes(acc);
                for (; i < cols; i++) {
                    float d = x.a[xo + i] - mu;
                    var += d * d;
                }
                float rs = (float) (1 / Math.sqrt((double) var / cols + eps));
                i = 0;
                for (int upper = S.loopBound(cols); i < upper; i += N) {
                    FloatVector.fromArray(S, x.a, xo + i).sub(vmu).mul(rs).intoArray(y.a, yo + i);
                }
                for (; i < cols; i++) {
                    y.a[yo + i] = (x.a[xo + i] - mu) * rs;
                }
                if (mean != null) {
                    mean.a[mean.off + r] = mu;
                }
                if (rstd != null) {
                    rstd.a[rstd.off + r] = rs;
                }
            }
        });
    }

    /** dx += (dy − mean(dy) − x̂·mean(dy⊙x̂))·rstd with x̂ = (x − μ)·rstd. */
    static void layerNormBackward(Arr dy, Arr x, Arr mean, Arr rstd, Arr dx, int rows, int cols) {
        Parallel.forRange(rows, 8L * cols, (c, from, to) -> {
            for (int r = from; r < to; r++) {
                int xo = x.off + r * cols;
                int go = dy.off + r * cols;
                int dxo = dx.off + r * cols;
                float mu = mean.a[mean.off + r];
                float rs = rstd.a[rstd.off + r];
                FloatVector vmu = FloatVector.broadcast(S, mu);
                FloatVector sg = FloatVector.zero(S);
                FloatVector sgx = FloatVector.zero(S);
                int i = 0;
                for (int upper = S.loopBound(cols); i < upper; i += N) {
                    FloatVector g = FloatVector.fromArray(S, dy.a, go + i);
                    FloatVector xh = FloatVector.fromArray(S, x.a, xo + i).sub(vmu).mul(rs);
                    sg = sg.add(g);
                    sgx = g.fma(xh, sgx);
                }
                float mg = Vec.sumLanes(sg);
                float mgx = Vec.sumLanes(sgx);
                for (; i < cols; i++) {
                    float g = dy.a[go + i];
                    mg += g;
                    mgx += g * (x.a[xo + i] - mu) * rs;
                }
                mg /= cols;
                mgx /= cols;
                FloatVector vmg = FloatVector.broadcast(S, mg);
                FloatVector vmgx = FloatVector.broadcast(S, mgx);
                i = 0;
                for (int upper = S.loopBound(cols); i < upper; i += N) {
                    FloatVector xh = FloatVector.fromArray(S, x.a, xo + i).sub(vmu).mul(rs);
                    FloatVector g = FloatVector.fromArray(S, dy.a, go + i).sub(vmg).sub(xh.mul(vmgx));
                    g.mul(rs).add(FloatVector.fromArray(S, dx.a, dxo + i)).intoArray(dx.a, dxo + i);
                }
                for (; i < cols; i++) {
                    float xh = (x.a[xo + i] - mu) * rs;
                    dx.a[dxo + i] += (dy.a[go + i] - mg - xh * mgx) * rs;
                }
            }
        });
    }

    // ---- RMSNorm: y = x·r·w, r = 1/√(mean(x²) + eps); saved: rrms ---------------------------------------------------------

    /** rrms may be null (inference). w is the f32 weight row. */
    static void rmsNorm(Arr x, Arr w, Arr y, Arr rrms, float eps, int rows, int cols) {
        Parallel.forRange(rows, 4L * cols, (c, from, to) -> {
            for (int r = from; r < to; r++) {
                int xo = x.off + r * cols;
                int yo = y.off + r * cols;
                float ss = Vec.dot(x.a, xo, x.a, xo, cols);
                float rr = (float) (1 / Math.sqrt((double) ss / cols + eps));
                int i = 0;
                for (int upper = S.loopBound(cols); i < upper; i += N) {
                    FloatVector.fromArray(S, x.a, xo + i).mul(rr).mul(FloatVector.fromArray(S, w.a, w.off + i))
                            .intoArray(y.a, yo + i);
                }
                for (; i < cols; i++) {
                    y.a[yo + i] = x.a[xo + i] * rr * w.a[w.off + i];
                }
                if (rrms != null) {
                    rrms.a[rrms.off + r] = rr;
                }
            }
        });
    }

    /** dw += Σ_rows dy⊙x·r (dw may be null); with u = dy⊙w: dx += r·(u − x·r²·mean(u⊙x)). */
    static void rmsNormBackward(Arr dy, Arr x, Arr w, Arr rrms, Arr dx, Arr dw, int rows, int cols) {
        int chunks = Parallel.reductionChunks(rows, 8L * cols);
        float[][] part = dw == null ? null : new float[chunks][cols];
        Parallel.run(chunks, rows, (c, from, to) -> {
            for (int r = from; r < to; r++) {
                int xo = x.off + r * cols;
                int go = dy.off + r * cols;
                int dxo = dx.off + r * cols;
                float rr = rrms.a[rrms.off + r];
                FloatVector acc = FloatVector.zero(S);
                int i = 0;
                for (int upper = S.loopBound(cols); i < upper; i += N) {
                    FloatVector u = FloatVector.fromArray(S, dy.a, go + i).mul(FloatVector.fromArray(S, w.a, w.off + i));
                    acc = u.fma(FloatVector.fromArray(S, x.a, xo + i), acc);
                }
                float mux = Vec.sumLanes(acc);
                for (; i < cols; i++) {
                    mux += dy.a[go + i] * w.a[w.off + i] * x.a[xo + i];
                }
                float k = rr * rr * mux / cols;
                FloatVector vk = FloatVector.broadcast(S, k);
                i = 0;
                for (int upper = S.loopBound(cols); i < upper; i += N) {
                    FloatVector g = FloatVector.fromArray(S, dy.a, go + i);
                    FloatVector xv = FloatVector.fromArray(S, x.a, xo + i);
                    FloatVector u = g.mul(FloatVector.fromArray(S, w.a, w.off + i));
                    u.sub(xv.mul(vk)).mul(rr).add(FloatVector.fromArray(S, dx.a, dxo + i)).intoArray(dx.a, dxo + i);
                    if (part != null) {
                        g.mul(xv).mul(rr).add(FloatVector.fromArray(S, part[c], i)).intoArray(part[c], i);
                    }
                }
                for (; i < cols; i++) {
                    float g = dy.a[go + i];
                    float xv = x.a[xo + i];
                    dx.a[dxo + i] += rr * (g * w.a[w.off + i] - xv * k);
                    if (part != null) {
                        part[c][i] += g * xv * rr;
                    }
                }
            }
        });
        if (dw != null) {
            Bias.addColumns(part, dw, cols);
        }
    }
    // ---- GroupNorm: y = (x − μ)·rstd·gamma + beta per (image, group), then swish; inference only -----------------------

    /**
     * x, y [B, P, C]; gamma, beta the f32 [C] rows. The statistics are per-channel sums in double over chunks of pixels,
     * added per group afterwards, in two passes (mean, then Σ(x − μ)²), so a group of millions of values is as accurate
     * as its f32 inputs allow; the chunk count depends only on the size, so the bits do not depend on the machine.
     */
    static void groupNorm(Arr x, Arr gamma, Arr beta, Arr y, float eps, boolean swish, BackendContract.Groups s) {
        int c = s.channels();
        int pixels = (int) s.pixels();
        int cg = s.groupSize();
        double count = (double) pixels * cg;
        float[][] mean = new float[s.batch()][c];
        float[][] scale = new float[s.batch()][c];
        for (int b = 0; b < s.batch(); b++) {
            int base = x.off + b * pixels * c;
            double[] sums = groupSums(x.a, base, pixels, c, cg, s.groups(), null);
            double[] mu = new double[c];
            for (int ch = 0; ch < c; ch++) {
                mu[ch] = sums[ch / cg] / count;
            }
            double[] var = groupSums(x.a, base, pixels, c, cg, s.groups(), mu);
            for (int ch = 0; ch < c; ch++) {
                mean[b][ch] = (float) mu[ch];
                scale[b][ch] = (float) (gamma.a[gamma.off + ch] / Math.sqrt(var[ch / cg] / count + eps));
            }
        }
        // (x − μ)·scale + beta rather than x·scale + (beta − μ·scale): a group of nearly equal values has a huge rstd,
        // and only the difference taken first keeps its result near beta (exactly beta for a constant group)
        Parallel.forRange(s.batch() * pixels, 4L * c, (chunk, from, to) -> {
            for (int r = from; r < to; r++) {
                float[] mu = mean[r / pixels];
                float[] sc = scale[r / pixels];
                int xo = x.off + r * c;
                int yo = y.off + r * c;
                int i = 0;
                for (int upper = S.loopBound(c); i < upper; i += N) {
                    FloatVector v = FloatVector.fromArray(S, x.a, xo + i).sub(FloatVector.fromArray(S, mu, i))
                            .fma(FloatVector.fromArray(S, sc, i), FloatVector.fromArray(S, beta.a, beta.off + i));
                    (swish ? DetMath.silu(v) : v).intoArray(y.a, yo + i);
                }
                for (; i < c; i++) {
                    float v = Math.fma(x.a[xo + i] - mu[i], sc[i], beta.a[beta.off + i]);
                    y.a[yo + i] = swish ? DetMath.silu(v) : v;
                }
            }
        });
    }

    /**
     * Per group: Σ x over the image's pixels, or Σ (x − mean[c])² when the per-channel means are given, each f32 value
     * widened to double exactly; every chunk of pixels sums per channel, and the chunks are added in order.
     */
    private static double[] groupSums(float[] x, int base, int pixels, int c, int cg, int groups, double[] mean) {
        int chunks = Parallel.reductionChunks(pixels, c);
        double[][] partial = new double[chunks][c];
        int lanes = D.length();
        Parallel.run(chunks, pixels, (chunk, from, to) -> {
            double[] acc = partial[chunk];
            for (int p = from; p < to; p++) {
                int o = base + p * c;
                int i = 0;
                for (int upper = S.loopBound(c); i < upper; i += N) {
                    FloatVector v = FloatVector.fromArray(S, x, o + i);
                    for (int part = 0; part < N / lanes; part++) {
                        int j = i + part * lanes;
                        DoubleVector d = (DoubleVector) v.convertShape(VectorOperators.F2D, D, part);
                        DoubleVector a = DoubleVector.fromArray(D, acc, j);
                        if (mean == null) {
                            a = a.add(d);
                        } else {
                            d = d.sub(DoubleVector.fromArray(D, mean, j));
                            a = d.fma(d, a);
                        }
                        a.intoArray(acc, j);
                    }
                }
                for (; i < c; i++) {
                    double d = mean == null ? x[o + i] : x[o + i] - mean[i];
                    acc[i] = mean == null ? acc[i] + d : Math.fma(d, d, acc[i]);
                }
            }
        });
        double[] out = new double[groups];
        for (double[] part : partial) {
            for (int ch = 0; ch < c; ch++) {
                out[ch / cg] += part[ch];
            }
        }
        return out;
    }
}
