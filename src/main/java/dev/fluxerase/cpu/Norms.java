package dev.fluxerase.cpu;

import jdk.incubator.vector.FloatVector;

import static dev.fluxerase.cpu.Vec.N;
import static dev.fluxerase.cpu.Vec.S;

/**
 * LayerNorm without affine (saved: mean and rstd per row, x) and RMSNorm with a scale (saved: rrms per row, x). Rows are
 * independent and split across threads; the RMSNorm weight gradient is a column reduction over rows, summed per chunk in
 * f32 and across chunks in double.
 */
final class Norms {
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
}
