package dev.fluxerase.cpu;

import dev.fluxerase.tensor.BackendContract;
import jdk.incubator.vector.FloatVector;

import java.util.Arrays;

import static dev.fluxerase.cpu.Vec.N;
import static dev.fluxerase.cpu.Vec.S;

/**
 * Scaled dot-product attention, streaming over key blocks (FlashAttention-2 style) so no L×L buffer exists unless the
 * caller asks for the probabilities. Saved for the backward: the output O and each query row's log-sum-exp, from which
 * the backward recomputes P = exp(scale·q·k − lse) block by block.
 *
 * <p>Forward: one task per (head, block of BQ queries) keeps a running max m, running sum l and unnormalised output; each
 * key block of BK keys is transposed into scratch so that a score row is a sum of broadcast(q[e])·kᵀ[e, :] vectors (no
 * horizontal reductions), then P·V is a sum of broadcast(p[j])·v[j, :] vectors.
 *
 * <p>Backward, in two passes so that every task owns the gradient rows it writes: pass 1, one task per (head, key block),
 * walks all query blocks and accumulates dV = Pᵀ·dO and dK = scale·dSᵀ·Q; pass 2, one task per (head, query block), walks
 * all key blocks and accumulates dQ = scale·dS·K, with dS = P⊙(dP − rowsum(dO⊙O)) and dP = dO·Vᵀ.
 *
 * <p>exp is {@link DetMath}'s, lane sums are {@link Vec#sumLanes}'s and the lse's log is StrictMath's (fdlibm, specified
 * bit for bit), so the results do not depend on the JIT tier.
 */
final class Attention {
    static final int BQ = 64;
    /** Four vectors: the unrolled width of the score kernel. */
    static final int BK = 4 * N;

    private Attention() {
    }

    // ---- forward ----------------------------------------------------------------------------------------------------------

    /** lse and probs may be null. */
    static void forward(Arr q, Arr k, Arr v, Arr out, Arr lse, Arr probs, float scale, BackendContract.Attn s) {
        int lq = s.lq();
        int lk = s.lk();
        int d = s.dim();
        int qBlocks = (lq + BQ - 1) / BQ;
        Parallel.forRange(s.heads() * qBlocks, 4L * BQ * lk * d, (ch, from, to) -> {
            float[] kt = new float[d * BK];
            float[] sc = new float[BQ * BK];
            float[] o = new float[BQ * d];
            float[] m = new float[BQ];
            float[] l = new float[BQ];
            for (int task = from; task < to; task++) {
                int h = task / qBlocks;
                int i0 = (task % qBlocks) * BQ;
                int nq = Math.min(BQ, lq - i0);
                int qo = q.off + (h * lq + i0) * d;
                int ko = k.off + h * lk * d;
                int vo = v.off + h * lk * d;
                Arrays.fill(m, Float.NEGATIVE_INFINITY);
                Arrays.fill(l, 0f);
                Arrays.fill(o, 0f);
                for (int j0 = 0; j0 < lk; j0 += BK) {
                    int nk = Math.min(BK, lk - j0);
                    transpose(k.a, ko + j0 * d, d, nk, kt);
                    for (int ii = 0; ii < nq; ii++) {
                        int srow = ii * BK;
                        rowTimesT(q.a, qo + ii * d, kt, d, nk, sc, srow, scale);
                        float mNew = Math.max(m[ii], Vec.max(sc, srow, nk));
                        float rowSum = expShift(sc, srow, nk, mNew);
                        float alpha = DetMath.exp(m[ii] - mNew);
                        l[ii] = l[ii] * alpha + rowSum;
                        if (alpha != 1f) {
                            Vec.scale(o, ii * d, d, alpha);
                        }
                        accumRows(sc, srow, 1, nk, v.a, vo + j0 * d, d, o, ii * d, d);
                        m[ii] = mNew;
                    }
                }
                int oo = out.off + (h * lq + i0) * d;
                for (int ii = 0; ii < nq; ii++) {
                    float inv = 1 / l[ii];
                    for (int e = 0; e < d; e++) {
                        out.a[oo + ii * d + e] = o[ii * d + e] * inv;
                    }
                    m[ii] += (float) StrictMath.log(l[ii]);
                    if (lse != null) {
                        lse.a[lse.off + h * lq + i0 + ii] = m[ii];
                    }
                }
                if (probs != null) {
                    writeProbs(q.a, qo, k.a, ko, m, probs, (h * lq + i0) * lk, nq, lk, d, scale, kt, sc);
                }
            }
        });
    }

    /** probs rows of one query block: exp(scale·q·k − lse), a second sweep over the key blocks. */
    private static void writeProbs(float[] q, int qo, float[] k, int ko, float[] lseRows, Arr probs, int po, int nq, int lk,
                                   int d, float scale, float[] kt, float[] sc) {
        for (int j0 = 0; j0 < lk; j0 += BK) {
            int nk = Math.min(BK, lk - j0);
            transpose(k, ko + j0 * d, d, nk, kt);
            for (int ii = 0; ii < nq; ii++) {
                rowTimesT(q, qo + ii * d, kt, d, nk, sc, ii * BK, scale);
                expShift(sc, ii * BK, nk, lseRows[ii]);
                System.arraycopy(sc, ii * BK, probs.a, probs.off + po + ii * lk + j0, nk);
            }
        }
    }

    // ---- backward ---------------------------------------------------------------------------------------------------------

    static void backward(Arr dO, Arr q, Arr k, Arr v, Arr out, Arr lse, Arr dq, Arr dk, Arr dv, float scale,
                         BackendContract.Attn s) {
        int lq = s.lq();
        int lk = s.lk();
        int d = s.dim();
        int heads = s.heads();
        float[] delta = new float[heads * lq];
        Parallel.forRange(heads * lq, 2L * d, (ch, from, to) -> {
            for (int r = from; r < to; r++) {
                delta[r] = Vec.dot(dO.a, dO.off + r * d, out.a, out.off + r * d, d);
            }
        });
        int kBlocks = (lk + BK - 1) / BK;
        Parallel.forRange(heads * kBlocks, 8L * BK * lq * d, (ch, from, to) -> {
            Scratch w = new Scratch(d);
            float[] dkAcc = new float[BK * d];
            float[] dvAcc = new float[BK * d];
            for (int task = from; task < to; task++) {
                int h = task / kBlocks;
                int j0 = (task % kBlocks) * BK;
                int nk = Math.min(BK, lk - j0);
                int ko = k.off + (h * lk + j0) * d;
                int vo = v.off + (h * lk + j0) * d;
                transpose(k.a, ko, d, nk, w.kt);
                transpose(v.a, vo, d, nk, w.vt);
                Arrays.fill(dkAcc, 0f);
                Arrays.fill(dvAcc, 0f);
                for (int i0 = 0; i0 < lq; i0 += BQ) {
                    int nq = Math.min(BQ, lq - i0);
                    int row0 = h * lq + i0;
                    scoresAndGrads(w, q, dO, lse, delta, row0, nq, nk, d, scale);
                    for (int jj = 0; jj < nk; jj++) {
                        accumRows(w.p, jj, BK, nq, dO.a, dO.off + row0 * d, d, dvAcc, jj * d, d);
                        accumRows(w.ds, jj, BK, nq, q.a, q.off + row0 * d, d, dkAcc, jj * d, d);
                    }
                }
                Vec.axpy(scale, dkAcc, 0, dk.a, dk.off + (h * lk + j0) * d, nk * d);
                Vec.add(dvAcc, 0, dv.a, dv.off + (h * lk + j0) * d, nk * d);
            }
        });
        int qBlocks = (lq + BQ - 1) / BQ;
        Parallel.forRange(heads * qBlocks, 6L * BQ * lk * d, (ch, from, to) -> {
            Scratch w = new Scratch(d);
            float[] dqAcc = new float[BQ * d];
            for (int task = from; task < to; task++) {
                int h = task / qBlocks;
                int i0 = (task % qBlocks) * BQ;
                int nq = Math.min(BQ, lq - i0);
                int row0 = h * lq + i0;
                Arrays.fill(dqAcc, 0f);
                for (int j0 = 0; j0 < lk; j0 += BK) {
                    int nk = Math.min(BK, lk - j0);
                    int ko = k.off + (h * lk + j0) * d;
                    transpose(k.a, ko, d, nk, w.kt);
                    transpose(v.a, v.off + (h * lk + j0) * d, d, nk, w.vt);
                    scoresAndGrads(w, q, dO, lse, delta, row0, nq, nk, d, scale);
                    for (int ii = 0; ii < nq; ii++) {
                        accumRows(w.ds, ii * BK, 1, nk, k.a, ko, d, dqAcc, ii * d, d);
                    }
                }
                Vec.axpy(scale, dqAcc, 0, dq.a, dq.off + row0 * d, nq * d);
            }
        });
    }

    /** Per-task scratch of the backward: transposed key and value blocks, P and dS of one (query block, key block) tile. */
    private static final class Scratch {
        final float[] kt;
        final float[] vt;
        final float[] p = new float[BQ * BK];
        final float[] ds = new float[BQ * BK];

        Scratch(int d) {
            kt = new float[d * BK];
            vt = new float[d * BK];
        }
    }

    /**
     * For query rows row0..row0+nq (global row index h·Lq + i) against the key block in w.kt/w.vt:
     * P = exp(scale·q·kᵀ − lse) and dS = P⊙(dO·vᵀ − delta).
     */
    private static void scoresAndGrads(Scratch w, Arr q, Arr dO, Arr lse, float[] delta, int row0, int nq, int nk, int d,
                                       float scale) {
        for (int ii = 0; ii < nq; ii++) {
            int r = row0 + ii;
            int srow = ii * BK;
            rowTimesT(q.a, q.off + r * d, w.kt, d, nk, w.p, srow, scale);
            expShift(w.p, srow, nk, lse.a[lse.off + r]);
            rowTimesT(dO.a, dO.off + r * d, w.vt, d, nk, w.ds, srow, 1f);
            FloatVector dl = FloatVector.broadcast(S, delta[r]);
            int j = 0;
            for (int upper = S.loopBound(nk); j < upper; j += N) {
                FloatVector pv = FloatVector.fromArray(S, w.p, srow + j);
                pv.mul(FloatVector.fromArray(S, w.ds, srow + j).sub(dl)).intoArray(w.ds, srow + j);
            }
            for (; j < nk; j++) {
                w.ds[srow + j] = w.p[srow + j] * (w.ds[srow + j] - delta[r]);
            }
        }
    }

    // ---- kernels ----------------------------------------------------------------------------------------------------------

    /** dst[e·BK + j] = src[so + j·d + e] for j < nk, e < d: a key (or value) block, transposed. */
    private static void transpose(float[] src, int so, int d, int nk, float[] dst) {
        for (int j = 0; j < nk; j++) {
            int row = so + j * d;
            for (int e = 0; e < d; e++) {
                dst[e * BK + j] = src[row + e];
            }
        }
    }

    /** out[oo + j] = mul·Σ_e a[ao + e]·bt[e·BK + j] for j < nk: one row of a·Bᵀ with B given transposed. */
    private static void rowTimesT(float[] a, int ao, float[] bt, int d, int nk, float[] out, int oo, float mul) {
        int j = 0;
        if (nk == BK) {
            FloatVector c0 = FloatVector.zero(S);
            FloatVector c1 = FloatVector.zero(S);
            FloatVector c2 = FloatVector.zero(S);
            FloatVector c3 = FloatVector.zero(S);
            for (int e = 0; e < d; e++) {
                FloatVector x = FloatVector.broadcast(S, a[ao + e]);
                int b = e * BK;
                c0 = FloatVector.fromArray(S, bt, b).fma(x, c0);
                c1 = FloatVector.fromArray(S, bt, b + N).fma(x, c1);
                c2 = FloatVector.fromArray(S, bt, b + 2 * N).fma(x, c2);
                c3 = FloatVector.fromArray(S, bt, b + 3 * N).fma(x, c3);
            }
            c0.mul(mul).intoArray(out, oo);
            c1.mul(mul).intoArray(out, oo + N);
            c2.mul(mul).intoArray(out, oo + 2 * N);
            c3.mul(mul).intoArray(out, oo + 3 * N);
            return;
        }
        for (int upper = S.loopBound(nk); j < upper; j += N) {
            FloatVector c = FloatVector.zero(S);
            for (int e = 0; e < d; e++) {
                c = FloatVector.fromArray(S, bt, e * BK + j).fma(FloatVector.broadcast(S, a[ao + e]), c);
            }
            c.mul(mul).intoArray(out, oo + j);
        }
        for (; j < nk; j++) {
            float c = 0;
            for (int e = 0; e < d; e++) {
                c = Math.fma(a[ao + e], bt[e * BK + j], c);
            }
            out[oo + j] = c * mul;
        }
    }

    /**
     * acc[ao + e] += Σ_c p[po + c·pStride]·v[vo + c·vStride + e] for e < d: a weighted sum of {@code count} rows, with the
     * weights a row (pStride 1) or a column (pStride BK) of a tile.
     */
    private static void accumRows(float[] p, int po, int pStride, int count, float[] v, int vo, int vStride, float[] acc,
                                  int ao, int d) {
        int e = 0;
        for (; e + 4 * N <= d; e += 4 * N) {
            FloatVector a0 = FloatVector.fromArray(S, acc, ao + e);
            FloatVector a1 = FloatVector.fromArray(S, acc, ao + e + N);
            FloatVector a2 = FloatVector.fromArray(S, acc, ao + e + 2 * N);
            FloatVector a3 = FloatVector.fromArray(S, acc, ao + e + 3 * N);
            for (int c = 0; c < count; c++) {
                FloatVector x = FloatVector.broadcast(S, p[po + c * pStride]);
                int r = vo + c * vStride + e;
                a0 = FloatVector.fromArray(S, v, r).fma(x, a0);
                a1 = FloatVector.fromArray(S, v, r + N).fma(x, a1);
                a2 = FloatVector.fromArray(S, v, r + 2 * N).fma(x, a2);
                a3 = FloatVector.fromArray(S, v, r + 3 * N).fma(x, a3);
            }
            a0.intoArray(acc, ao + e);
            a1.intoArray(acc, ao + e + N);
            a2.intoArray(acc, ao + e + 2 * N);
            a3.intoArray(acc, ao + e + 3 * N);
        }
        for (; e + N <= d; e += N) {
            FloatVector a0 = FloatVector.fromArray(S, acc, ao + e);
            for (int c = 0; c < count; c++) {
                a0 = FloatVector.fromArray(S, v, vo + c * vStride + e).fma(FloatVector.broadcast(S, p[po + c * pStride]), a0);
            }
            a0.intoArray(acc, ao + e);
        }
        for (; e < d; e++) {
            float a = acc[ao + e];
            for (int c = 0; c < count; c++) {
                a = Math.fma(p[po + c * pStride], v[vo + c * vStride + e], a);
            }
            acc[ao + e] = a;
        }
    }

    /** x[xo..xo+n) = exp(x − shift); returns the sum. */
    private static float expShift(float[] x, int xo, int n, float shift) {
        FloatVector vs = FloatVector.broadcast(S, shift);
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (int upper = S.loopBound(n); i < upper; i += N) {
            FloatVector e = DetMath.exp(FloatVector.fromArray(S, x, xo + i).sub(vs));
            e.intoArray(x, xo + i);
            acc = acc.add(e);
        }
        float sum = Vec.sumLanes(acc);
        for (; i < n; i++) {
            float e = DetMath.exp(x[xo + i] - shift);
            x[xo + i] = e;
            sum += e;
        }
        return sum;
    }
}
