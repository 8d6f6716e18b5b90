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
 * horizontal reductions), then P·V is a sum of broadcast(p[j])·v[j, :] vectors. Rows go in pairs through both, so that
 * every key and value vector loaded serves two rows: one row at a time, the loads (five per four FMAs) and four
 * dependent FMA chains bounded the rate. Each output element keeps its own chain in the same order, so pairing changes
 * no bit of the result; the backward's dS, dV, dK and dQ rows are paired the same way.
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
                    int ii = 0;
                    for (; ii + 1 < nq; ii += 2) {
                        rowPairTimesT(q.a, qo + ii * d, qo + (ii + 1) * d, kt, d, nk, sc, ii * BK, (ii + 1) * BK, scale);
                        online(sc, ii, nk, m, l, o, d);
                        online(sc, ii + 1, nk, m, l, o, d);
                        accumRowPair(sc, ii * BK, (ii + 1) * BK, 1, nk, v.a, vo + j0 * d, d, o, ii * d, (ii + 1) * d, d);
                    }
                    if (ii < nq) {
                        rowTimesT(q.a, qo + ii * d, kt, d, nk, sc, ii * BK, scale);
                        online(sc, ii, nk, m, l, o, d);
                        accumRows(sc, ii * BK, 1, nk, v.a, vo + j0 * d, d, o, ii * d, d);
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

    /**
     * Query row ii's running softmax after its scores against one key block are in sc[ii·BK ...]: the scores become
     * exp(s − m) with the new running max m, and l and the unnormalised output row o are rescaled to it.
     */
    private static void online(float[] sc, int ii, int nk, float[] m, float[] l, float[] o, int d) {
        int srow = ii * BK;
        float mNew = Math.max(m[ii], Vec.max(sc, srow, nk));
        float rowSum = expShift(sc, srow, nk, mNew);
        float alpha = DetMath.exp(m[ii] - mNew);
        l[ii] = l[ii] * alpha + rowSum;
        if (alpha != 1f) {
            Vec.scale(o, ii * d, d, alpha);
        }
        m[ii] = mNew;
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
                    int jj = 0;
                    for (; jj + 1 < nk; jj += 2) {
                        accumRowPair(w.p, jj, jj + 1, BK, nq, dO.a, dO.off + row0 * d, d, dvAcc, jj * d, (jj + 1) * d, d);
                        accumRowPair(w.ds, jj, jj + 1, BK, nq, q.a, q.off + row0 * d, d, dkAcc, jj * d, (jj + 1) * d, d);
                    }
                    if (jj < nk) {
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
                    int ii = 0;
                    for (; ii + 1 < nq; ii += 2) {
                        accumRowPair(w.ds, ii * BK, (ii + 1) * BK, 1, nk, k.a, ko, d, dqAcc, ii * d, (ii + 1) * d, d);
                    }
                    if (ii < nq) {
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
        int ii = 0;
        for (; ii + 1 < nq; ii += 2) {
            int r = row0 + ii;
            rowPairTimesT(q.a, q.off + r * d, q.off + (r + 1) * d, w.kt, d, nk, w.p, ii * BK, (ii + 1) * BK, scale);
            expShift(w.p, ii * BK, nk, lse.a[lse.off + r]);
            expShift(w.p, (ii + 1) * BK, nk, lse.a[lse.off + r + 1]);
            rowPairTimesT(dO.a, dO.off + r * d, dO.off + (r + 1) * d, w.vt, d, nk, w.ds, ii * BK, (ii + 1) * BK, 1f);
            softmaxGrad(w, ii * BK, nk, delta[r]);
            softmaxGrad(w, (ii + 1) * BK, nk, delta[r + 1]);
        }
        if (ii < nq) {
            int r = row0 + ii;
            rowTimesT(q.a, q.off + r * d, w.kt, d, nk, w.p, ii * BK, scale);
            expShift(w.p, ii * BK, nk, lse.a[lse.off + r]);
            rowTimesT(dO.a, dO.off + r * d, w.vt, d, nk, w.ds, ii * BK, 1f);
            softmaxGrad(w, ii * BK, nk, delta[r]);
        }
    }

    /** One row of dS = P⊙(dP − delta), dP given in w.ds and overwritten. */
    private static void softmaxGrad(Scratch w, int srow, int nk, float delta) {
        FloatVector dl = FloatVector.broadcast(S, delta);
        int j = 0;
        for (int upper = S.loopBound(nk); j < upper; j += N) {
            FloatVector pv = FloatVector.fromArray(S, w.p, srow + j);
            pv.mul(FloatVector.fromArray(S, w.ds, srow + j).sub(dl)).intoArray(w.ds, srow + j);
        }
        for (; j < nk; j++) {
            w.ds[srow + j] = w.p[srow + j] * (w.ds[srow + j] - delta);
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
     * Two rows of a·Bᵀ at once, rows ao0 and ao1 of a into out[oo0 ...] and out[oo1 ...], each B vector loaded once for
     * both: half the loads per FMA of {@link #rowTimesT}, and eight independent FMA chains instead of four. Each output
     * element's chain (over e, in order) is the one rowTimesT computes, so the result is the same bit for bit.
     */
    private static void rowPairTimesT(float[] a, int ao0, int ao1, float[] bt, int d, int nk, float[] out, int oo0,
                                      int oo1, float mul) {
        if (nk != BK) {
            rowTimesT(a, ao0, bt, d, nk, out, oo0, mul);
            rowTimesT(a, ao1, bt, d, nk, out, oo1, mul);
            return;
        }
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        for (int e = 0; e < d; e++) {
            int b = e * BK;
            FloatVector b0 = FloatVector.fromArray(S, bt, b);
            FloatVector b1 = FloatVector.fromArray(S, bt, b + N);
            FloatVector b2 = FloatVector.fromArray(S, bt, b + 2 * N);
            FloatVector b3 = FloatVector.fromArray(S, bt, b + 3 * N);
            FloatVector x = FloatVector.broadcast(S, a[ao0 + e]);
            c00 = b0.fma(x, c00);
            c01 = b1.fma(x, c01);
            c02 = b2.fma(x, c02);
            c03 = b3.fma(x, c03);
            x = FloatVector.broadcast(S, a[ao1 + e]);
            c10 = b0.fma(x, c10);
            c11 = b1.fma(x, c11);
            c12 = b2.fma(x, c12);
            c13 = b3.fma(x, c13);
        }
        c00.mul(mul).intoArray(out, oo0);
        c01.mul(mul).intoArray(out, oo0 + N);
        c02.mul(mul).intoArray(out, oo0 + 2 * N);
        c03.mul(mul).intoArray(out, oo0 + 3 * N);
        c10.mul(mul).intoArray(out, oo1);
        c11.mul(mul).intoArray(out, oo1 + N);
        c12.mul(mul).intoArray(out, oo1 + 2 * N);
        c13.mul(mul).intoArray(out, oo1 + 3 * N);
    }

    /**
     * {@link #accumRows} for two accumulator rows at once (acc[ao0 ...] with weights p[po0 + c·pStride], acc[ao1 ...] with
     * p[po1 + c·pStride]) over the same rows of v, each v vector loaded once for both; per element the same chain, so the
     * same bits, as two calls of accumRows.
     */
    private static void accumRowPair(float[] p, int po0, int po1, int pStride, int count, float[] v, int vo, int vStride,
                                     float[] acc, int ao0, int ao1, int d) {
        int e = 0;
        for (; e + 4 * N <= d; e += 4 * N) {
            FloatVector a0 = FloatVector.fromArray(S, acc, ao0 + e);
            FloatVector a1 = FloatVector.fromArray(S, acc, ao0 + e + N);
            FloatVector a2 = FloatVector.fromArray(S, acc, ao0 + e + 2 * N);
            FloatVector a3 = FloatVector.fromArray(S, acc, ao0 + e + 3 * N);
            FloatVector b0 = FloatVector.fromArray(S, acc, ao1 + e);
            FloatVector b1 = FloatVector.fromArray(S, acc, ao1 + e + N);
            FloatVector b2 = FloatVector.fromArray(S, acc, ao1 + e + 2 * N);
            FloatVector b3 = FloatVector.fromArray(S, acc, ao1 + e + 3 * N);
            for (int c = 0; c < count; c++) {
                int r = vo + c * vStride + e;
                FloatVector v0 = FloatVector.fromArray(S, v, r);
                FloatVector v1 = FloatVector.fromArray(S, v, r + N);
                FloatVector v2 = FloatVector.fromArray(S, v, r + 2 * N);
                FloatVector v3 = FloatVector.fromArray(S, v, r + 3 * N);
                FloatVector x = FloatVector.broadcast(S, p[po0 + c * pStride]);
                a0 = v0.fma(x, a0);
                a1 = v1.fma(x, a1);
                a2 = v2.fma(x, a2);
                a3 = v3.fma(x, a3);
                x = FloatVector.broadcast(S, p[po1 + c * pStride]);
                b0 = v0.fma(x, b0);
                b1 = v1.fma(x, b1);
                b2 = v2.fma(x, b2);
                b3 = v3.fma(x, b3);
            }
            a0.intoArray(acc, ao0 + e);
            a1.intoArray(acc, ao0 + e + N);
            a2.intoArray(acc, ao0 + e + 2 * N);
            a3.intoArray(acc, ao0 + e + 3 * N);
            b0.intoArray(acc, ao1 + e);
            b1.intoArray(acc, ao1 + e + N);
            b2.intoArray(acc, ao1 + e + 2 * N);
            b3.intoArray(acc, ao1 + e + 3 * N);
        }
        if (e < d) {
            accumRows(p, po0, pStride, count, v, vo, vStride, acc, ao0, d, e);
            accumRows(p, po1, pStride, count, v, vo, vStride, acc, ao1, d, e);
        }
    }

    /**
     * acc[ao + e] += Σ_c p[po + c·pStride]·v[vo + c·vStride + e] for e < d: a weighted sum of {@code count} rows, with the
     * weights a row (pStride 1) or a column (pStride BK) of a tile.
     */
    private static void accumRows(float[] p, int po, int pStride, int count, float[] v, int vo, int vStride, float[] acc,
                                  int ao, int d) {
        accumRows(p, po, pStride, count, v, vo, vStride, acc, ao, d, 0);
    }

    /** The same for the elements e from e0 on. */
    private static void accumRows(float[] p, int po, int pStride, int count, float[] v, int vo, int vStride, float[] acc,
                                  int ao, int d, int e0) {
        int e = e0;
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
