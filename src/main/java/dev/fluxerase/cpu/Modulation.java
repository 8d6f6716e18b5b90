package dev.fluxerase.cpu;

import dev.fluxerase.tensor.BackendContract;
import jdk.incubator.vector.FloatVector;

import static dev.fluxerase.cpu.Vec.N;
import static dev.fluxerase.cpu.Vec.S;

/**
 * adaLN modulation y = (1 + scale)⊙x + shift (saved: x, mod) and the gated residual x += gate⊙f (saved: f, mod), on the
 * [B·T, C] row view with mod row b = row / T. Forward and input gradients split rows across threads; the mod gradients are
 * sums over tokens, accumulated per chunk in an f32 partial [B, k·C] and added into dmod in double, in chunk order.
 */
final class Modulation {
    private Modulation() {
    }

    // ---- modulate: y = (1 + scale)⊙x + shift ---------------------------------------------------------------------------

    static void modulate(Arr x, Arr mod, int shiftChunk, int scaleChunk, Arr y, BackendContract.Mod s) {
        int c = s.channels();
        int t = (int) s.tokens();
        int modRow = (int) s.modRow();
        Parallel.forRange(s.batch() * t, 2L * c, (ch, from, to) -> {
            for (int r = from; r < to; r++) {
                int b = r / t;
                int xo = x.off + r * c;
                int yo = y.off + r * c;
                int sco = mod.off + b * modRow + scaleChunk * c;
                int sho = mod.off + b * modRow + shiftChunk * c;
                int i = 0;
                for (int upper = S.loopBound(c); i < upper; i += N) {
                    FloatVector sc = FloatVector.fromArray(S, mod.a, sco + i).add(1f);
                    FloatVector.fromArray(S, x.a, xo + i).fma(sc, FloatVector.fromArray(S, mod.a, sho + i))
                            .intoArray(y.a, yo + i);
                }
                for (; i < c; i++) {
                    y.a[yo + i] = Math.fma(x.a[xo + i], 1 + mod.a[sco + i], mod.a[sho + i]);
                }
            }
        });
    }

    /** dx += dy⊙(1 + scale); dmod[scale] += Σ_t dy⊙x; dmod[shift] += Σ_t dy. dx or dmod may be null. */
    static void modulateBackward(Arr dy, Arr x, Arr mod, int shiftChunk, int scaleChunk, Arr dx, Arr dmod,
                                 BackendContract.Mod s) {
        int c = s.channels();
        int t = (int) s.tokens();
        int modRow = (int) s.modRow();
        int rows = s.batch() * t;
        int chunks = Parallel.reductionChunks(rows, 4L * c);
        float[][] part = dmod == null ? null : new float[chunks][s.batch() * modRow];
        Parallel.run(chunks, rows, (ch, from, to) -> {
            for (int r = from; r < to; r++) {
                int b = r / t;
                int xo = x.off + r * c;
                int go = dy.off + r * c;
                if (dx != null) {
                    int sco = mod.off + b * modRow + scaleChunk * c;
                    int dxo = dx.off + r * c;
                    int i = 0;
                    for (int upper = S.loopBound(c); i < upper; i += N) {
                        FloatVector sc = FloatVector.fromArray(S, mod.a, sco + i).add(1f);
                        FloatVector.fromArray(S, dy.a, go + i).fma(sc, FloatVector.fromArray(S, dx.a, dxo + i))
                                .intoArray(dx.a, dxo + i);
                    }
                    for (; i < c; i++) {
                        dx.a[dxo + i] += dy.a[go + i] * (1 + mod.a[sco + i]);
                    }
                }
                if (part != null) {
                    float[] p = part[ch];
                    int pso = b * modRow + scaleChunk * c;
                    int pho = b * modRow + shiftChunk * c;
                    int i = 0;
                    for (int upper = S.loopBound(c); i < upper; i += N) {
                        FloatVector g = FloatVector.fromArray(S, dy.a, go + i);
                        g.fma(FloatVector.fromArray(S, x.a, xo + i), FloatVector.fromArray(S, p, pso + i))
                                .intoArray(p, pso + i);
                        g.add(FloatVector.fromArray(S, p, pho + i)).intoArray(p, pho + i);
                    }
                    for (; i < c; i++) {
                        float g = dy.a[go + i];
                        p[pso + i] += g * x.a[xo + i];
                        p[pho + i] += g;
                    }
                }
            }
        });
        if (dmod != null) {
            Bias.addColumns(part, dmod, s.batch() * modRow);
        }
    }

    // ---- gated residual: x += gate⊙f ---------------------------------------------------------------------------------------

    static void gateAdd(Arr x, Arr f, Arr mod, int gateChunk, BackendContract.Mod s) {
        int c = s.channels();
        int t = (int) s.tokens();
        int modRow = (int) s.modRow();
        Parallel.forRange(s.batch() * t, 2L * c, (ch, from, to) -> {
            for (int r = from; r < to; r++) {
                int go = mod.off + (r / t) * modRow + gateChunk * c;
                int xo = x.off + r * c;
                int fo = f.off + r * c;
                int i = 0;
                for (int upper = S.loopBound(c); i < upper; i += N) {
                    FloatVector.fromArray(S, mod.a, go + i).fma(FloatVector.fromArray(S, f.a, fo + i),
                            FloatVector.fromArray(S, x.a, xo + i)).intoArray(x.a, xo + i);
                }
                for (; i < c; i++) {
                    x.a[xo + i] = Math.fma(mod.a[go + i], f.a[fo + i], x.a[xo + i]);
                }
            }
        });
    }

    /** df += dy⊙gate; dmod[gate] += Σ_t dy⊙f. df or dmod may be null. */
    static void gateAddBackward(Arr dy, Arr f, Arr mod, int gateChunk, Arr df, Arr dmod, BackendContract.Mod s) {
        int c = s.channels();
        int t = (int) s.tokens();
        int modRow = (int) s.modRow();
        int rows = s.batch() * t;
        int chunks = Parallel.reductionChunks(rows, 4L * c);
        float[][] part = dmod == null ? null : new float[chunks][s.batch() * modRow];
        Parallel.run(chunks, rows, (ch, from, to) -> {
            for (int r = from; r < to; r++) {
                int b = r / t;
                int go = dy.off + r * c;
                if (df != null) {
                    int gto = mod.off + b * modRow + gateChunk * c;
                    int dfo = df.off + r * c;
                    int i = 0;
                    for (int upper = S.loopBound(c); i < upper; i += N) {
                        FloatVector.fromArray(S, dy.a, go + i).fma(FloatVector.fromArray(S, mod.a, gto + i),
                                FloatVector.fromArray(S, df.a, dfo + i)).intoArray(df.a, dfo + i);
                    }
                    for (; i < c; i++) {
                        df.a[dfo + i] += dy.a[go + i] * mod.a[gto + i];
                    }
                }
                if (part != null) {
                    float[] p = part[ch];
                    int po = b * modRow + gateChunk * c;
                    int fo = f.off + r * c;
                    int i = 0;
                    for (int upper = S.loopBound(c); i < upper; i += N) {
                        FloatVector.fromArray(S, dy.a, go + i).fma(FloatVector.fromArray(S, f.a, fo + i),
                                FloatVector.fromArray(S, p, po + i)).intoArray(p, po + i);
                    }
                    for (; i < c; i++) {
                        p[po + i] += dy.a[go + i] * f.a[fo + i];
                    }
                }
            }
        });
        if (dmod != null) {
            Bias.addColumns(part, dmod, s.batch() * modRow);
        }
    }
}
