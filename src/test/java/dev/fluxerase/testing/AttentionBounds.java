package dev.fluxerase.testing;

import dev.fluxerase.tensor.Floats;

import java.util.stream.IntStream;

import static dev.fluxerase.testing.ErrorBounds.U_BF16;
import static dev.fluxerase.testing.ErrorBounds.U_F32;
import static dev.fluxerase.testing.ErrorBounds.U_TENSOR_CORE;
import static dev.fluxerase.testing.ErrorBounds.sumGamma;

/**
 * Error bounds of an attention implementation, O = softmax(scale·Q·Kᵀ)·V per head with its log-sum-exp, against the
 * exact result on the same inputs (q, k, v as the implementation multiplies them: the tests round them to bf16 first
 * for the bf16 kernels). Shapes: q, out [heads, lq, d], k, v [heads, lk, d], lse [heads, lq].
 *
 * <p>Forward, per query row i, with z_j = scale·q·k_j, m = max z_j, ℓ = m + ln Σ exp(z_j − m), p_j = exp(z_j − ℓ).
 * Cauchy–Schwarz bounds every score: Σ_e|q_e||k_je| ≤ ‖q‖·max‖k‖ =: A, |z_j| ≤ scale·A =: Z (cheap: O(L·d), so it also
 * serves L = 4608, where the exact Σ|q||k| would cost L²·d; for Gaussian data it is π/2 above the exact sum).
 * <ul>
 *   <li>scores: Δz ≤ scale·γ_d·A (the d-term dot product) + 3u·Z (scale, log₂e and their product, rounded);</li>
 *   <li>lse: the log-sum-exp moves by at most max_j|Δz_j| (its gradient is p, Σp = 1); the exponentials' arguments
 *       z_j − m and the rescale factors' m_old − m_new round within u·2Z each (the maxima only grow, so their steps
 *       add up to at most 2Z); every term of the row sum l = Σ exp(z_j − m) goes through at most n roundings or
 *       exponentials of relative error at most e (exp, the rescales, the block sums: {@link Arithmetic#path}), so l
 *       is off by γ_n(e) relatively, all terms being positive; and the final ln l (|ln l| ≤ ln Lk), the addition of
 *       m (|m| ≤ Z) and the change of log base round within 4u·(|ℓ| + Z + ln Lk);</li>
 *   <li>probabilities, recomputed as exp(scale·q·k − ℓ̂) with the lse ℓ̂ above: exp's condition is 1 in the relative
 *       sense, |Δp/p| ≤ |Δ argument| + e: the recomputed score's error, the lse's, the subtraction's rounding
 *       u·(Z + |ℓ|), and exp's own error;</li>
 *   <li>output o = Σ_j p_j·v_j / Σ_j p_j: each p_j relatively off by the score errors and the argument roundings
 *       (through numerator and denominator: twice), the numerator and the denominator by their path, P by its
 *       rounding to bf16 before P·V where the kernel does so; each weighs Σ_j p_j|v_je| ≤ max_j|v_je|.</li>
 * </ul>
 *
 * <p>Backward (exact P, dP = dO·Vᵀ, δ = rowsum(dO ⊙ O) and dS = P ⊙ (dP − δ) in double, O(L²·d), from the inputs):
 * ΔP = P·(Δz + Δℓ + 3u(|z| + |ℓ|) + e) with Δℓ the forward's lse bound; ΔdP = the rounding of dO to bf16 where the
 * kernel stages it so (the exact |dO − bf16(dO)| of the data) plus γ_d·Σ|dO||v|; Δδ from O's errors projected on dO
 * (each weight p_j of O off by the forward's relative bound moves δ by that times p_j·|dP_j|; the output sums' errors
 * by their γ times Σ_j p_j·Σ|dO||v_j| and |δ|) plus γ_d·Σ|dO||O|; ΔdS = ΔP·|dP − δ| + P·(ΔdP + Δδ + u|dP − δ|) + u|dS|, and P and dS gain their bf16
 * rounding before the products where the kernel rounds them. Then dV = Σ_i P·dO, dK = scale·Σ_i dS·q and dQ =
 * scale·Σ_j dS·k, each added to the gradient already there (the base): the products' errors summed with their
 * magnitudes, plus γ_(n+1) of the sum with the base, plus 2u for the products' and the scale's roundings.
 */
public final class AttentionBounds {
    private static final double U = U_F32;

    /**
     * How an implementation computes: the units of its QKᵀ and dO·Vᵀ sums and of its P·V, dV, dK and dQ sums, the
     * relative error of one exponential, the structure of its online softmax (a row's keys in blocks of blockKeys,
     * blockAdds additions inside a block), the unit of the rounding of P and dS before their products (0 when they stay
     * f32), and whether it rounds dO to bf16.
     */
    public record Arithmetic(String name, double scoreUnit, double sumUnit, double expError, int blockKeys, int blockAdds,
                             double pUnit, boolean roundsDOut) {
        /**
         * Roundings and exponentials on the way of one exp(z_j − m) into the row sum or the output accumulator: each
         * later block rescales it (the factor's exponential, the multiplication) and adds to it (2 more), inside its own
         * block blockAdds additions, then 3 at the end (the cross-thread sums and the division by l).
         */
        int path(int lk) {
            return 4 * ((lk + blockKeys - 1) / blockKeys) + blockAdds + 3;
        }
    }

    /**
     * kernels/attention.cu flash_attn_fwd/bwd: bf16 mma with f32 accumulation (tensor cores), exp2f (2 ulp: CUDA
     * Programming Guide, single-precision mathematical functions), key blocks of 64 (each thread adds 16 exponentials
     * of a block, the mma 64 products), P and dS rounded to bf16 for their products, dO staged as bf16.
     */
    public static final Arithmetic FLASH_BF16 = new Arithmetic("flash bf16", U_TENSOR_CORE, U_TENSOR_CORE, 4 * U, 64, 64,
            U_BF16, true);
    /** attn_ref_fwd/bwd: f32 fma, expf (2 ulp), one key at a time (rescaling after every key). */
    public static final Arithmetic REFERENCE_F32 = new Arithmetic("reference f32", U, U, 4 * U, 1, 0, 0, false);

    public record Shape(int heads, int lq, int lk, int d) {
        int rows() {
            return heads * lq;
        }
    }

    /**
     * Per query row: the bound on the lse, on any probability relative to itself, on each weight p_j of the output
     * relative to itself (score errors, argument roundings, bf16 rounding), and the relative error of the output's sums
     * (numerator and denominator, each); per element of O its bound.
     */
    public record Forward(double[] lse, double[] out, double[] probRelative, double[] weightRelative,
                          double[] sumRelative) {
        /** Per element of probability rows of {@code cols} values (all of a row's or chosen columns). */
        public double[] probs(float[] expected, int cols) {
            double[] b = new double[expected.length];
            for (int i = 0; i < b.length; i++) {
                b[i] = Math.abs(expected[i]) * probRelative[i / cols];
            }
            return b;
        }
    }

    public record Backward(double[] dq, double[] dk, double[] dv) {
    }

    private AttentionBounds() {
    }

    private static double norm(float[] a, int off, int n) {
        double s = 0;
        for (int e = 0; e < n; e++) {
            s += (double) a[off + e] * a[off + e];
        }
        return Math.sqrt(s);
    }

    /** lse: the expected log-sum-exp values, for the magnitudes |ℓ| the bound needs. */
    public static Forward forward(Arithmetic a, Shape s, float[] q, float[] k, float[] v, float[] lse, float scale) {
        int d = s.d();
        double[] lseBound = new double[s.rows()];
        double[] out = new double[s.rows() * d];
        double[] probRel = new double[s.rows()];
        double[] weightRel = new double[s.rows()];
        double[] sumRel = new double[s.rows()];
        double scores = (double) s.rows() * s.lk();
        double dot = sumGamma(d, a.scoreUnit(), scores);
        double probsDot = sumGamma(d, U, scores);
        double path = sumGamma(a.path(s.lk()), a.expError(), s.rows());
        for (int h = 0; h < s.heads(); h++) {
            double kMax = 0;
            double[] vMax = new double[d];
            for (int j = 0; j < s.lk(); j++) {
                int kj = (h * s.lk() + j) * d;
                kMax = Math.max(kMax, norm(k, kj, d));
                for (int e = 0; e < d; e++) {
                    vMax[e] = Math.max(vMax[e], Math.abs(v[kj + e]));
                }
            }
            for (int i = 0; i < s.lq(); i++) {
                int r = h * s.lq() + i;
                double bigA = norm(q, r * d, d) * kMax;
                double z = scale * bigA;
                double dz = scale * dot * bigA + 3 * U * z;
                double args = 4 * U * z;
                double l = Math.abs(lse[r]);
                lseBound[r] = dz + args + path + 4 * U * (l + z + Math.log(s.lk()));
                weightRel[r] = 2 * (dz + args) + a.pUnit();
                sumRel[r] = path;
                double rel = weightRel[r] + 2 * path + U;
                for (int e = 0; e < d; e++) {
                    out[r * d + e] = rel * vMax[e];
                }
                probRel[r] = scale * probsDot * bigA + 2 * U * z + lseBound[r] + U * (z + l) + a.expError();
            }
        }
        return new Forward(lseBound, out, probRel, weightRel, sumRel);
    }

    /**
     * For one head (q from qb, k from kb): z = scale·q_i·k_j and Σ_e|q_ie·k_je| for every pair, and each row's
     * log-sum-exp of z, in double.
     */
    static void scores(float[] q, float[] k, int qb, int kb, Shape s, float scale, double[] z, double[] absDot,
                       double[] lse) {
        int lk = s.lk();
        int d = s.d();
        for (int i = 0; i < s.lq(); i++) {
            double m = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < lk; j++) {
                double sum = 0;
                double abs = 0;
                for (int e = 0; e < d; e++) {
                    double prod = (double) q[qb + i * d + e] * k[kb + j * d + e];
                    sum += prod;
                    abs += Math.abs(prod);
                }
                z[i * lk + j] = scale * sum;
                absDot[i * lk + j] = abs;
                m = Math.max(m, z[i * lk + j]);
            }
            double sum = 0;
            for (int j = 0; j < lk; j++) {
                sum += Math.exp(z[i * lk + j] - m);
            }
            lse[i] = m + Math.log(sum);
        }
    }

    /** Bounds on dq, dk, dv after adding the gradients into dq0, dk0, dv0; dOut as the reference gets it (f32). */
    public static Backward backward(Arithmetic a, Forward f, Shape s, float[] q, float[] k, float[] v, float[] dOut,
                                    float[] dq0, float[] dk0, float[] dv0, float scale) {
        int lq = s.lq();
        int lk = s.lk();
        int d = s.d();
        double[] dq = new double[lq * d * s.heads()];
        double[] dk = new double[lk * d * s.heads()];
        double[] dv = new double[lk * d * s.heads()];
        double dot = sumGamma(d, a.scoreUnit(), (double) s.rows() * lk);
        double deltaDot = sumGamma(d, U, s.rows());
        double overQueries = sumGamma(lq + 1, a.sumUnit(), 2.0 * s.heads() * lk * d);
        double overKeys = sumGamma(lk + 1, a.sumUnit(), (double) s.rows() * d);
        IntStream.range(0, s.heads()).parallel().forEach(h -> {
            int qb = h * lq * d;
            int kb = h * lk * d;
            double[] z = new double[lq * lk];
            double[] absDot = new double[lq * lk];
            double[] lse = new double[lq];
            scores(q, k, qb, kb, s, scale, z, absDot, lse);
            double[] p = new double[lq * lk];
            double[] pBound = new double[lq * lk];
            double[] ds = new double[lq * lk];
            double[] dsBound = new double[lq * lk];
            double[] dOr = new double[lq * d];
            double[] dOerr = new double[lq * d];
            for (int i = 0; i < lq; i++) {
                for (int e = 0; e < d; e++) {
                    float g = dOut[qb + i * d + e];
                    float staged = a.roundsDOut() ? Floats.roundToBf16(g) : g;
                    dOr[i * d + e] = staged;
                    dOerr[i * d + e] = Math.abs((double) staged - g);
                }
            }
            double[] dp = new double[lk];
            double[] dpAbs = new double[lk];
            double[] dpStaged = new double[lk];
            for (int i = 0; i < lq; i++) {
                int r = h * lq + i;
                double[] o = new double[d];
                for (int j = 0; j < lk; j++) {
                    p[i * lk + j] = Math.exp(z[i * lk + j] - lse[i]);
                    for (int e = 0; e < d; e++) {
                        o[e] += p[i * lk + j] * v[kb + j * d + e];
                    }
                }
                double weightedDp = 0;
                double weightedAbs = 0;
                for (int j = 0; j < lk; j++) {
                    double sum = 0;
                    double abs = 0;
                    double absStaged = 0;
                    double staged = 0;
                    for (int e = 0; e < d; e++) {
                        double vv = v[kb + j * d + e];
                        double g = dOut[qb + i * d + e];
                        sum += g * vv;
                        abs += Math.abs(g * vv);
                        absStaged += Math.abs(dOr[i * d + e] * vv);
                        staged += dOerr[i * d + e] * Math.abs(vv);
                    }
                    dp[j] = sum;
                    dpAbs[j] = absStaged;
                    dpStaged[j] = staged;
                    weightedDp += p[i * lk + j] * Math.abs(sum);
                    weightedAbs += p[i * lk + j] * abs;
                }
                // δ = dO·O with O's errors: each weight p_j of O relatively off by weightRelative, which moves δ by
                // Σ_j Δp_j·(dO·v_j) = Σ_j Δp_j·dP_j; the sums' errors, per term, by sumRelative·Σ_j p_j·Σ_e|dO_e||v_je|
                // and the common denominator's by sumRelative·|δ|; then O's division and δ's own d-term sum
                double delta = 0;
                double deltaAbs = 0;
                for (int e = 0; e < d; e++) {
                    double g = dOut[qb + i * d + e];
                    delta += g * o[e];
                    deltaAbs += Math.abs(g * o[e]);
                }
                double deltaBound = f.weightRelative()[r] * weightedDp + f.sumRelative()[r] * (Math.abs(delta) + weightedAbs)
                        + (deltaDot + U) * deltaAbs;
                for (int j = 0; j < lk; j++) {
                    int ij = i * lk + j;
                    double zz = Math.abs(z[ij]);
                    double relP = scale * dot * absDot[ij] + 3 * U * zz + f.lse()[r] + 3 * U * (zz + Math.abs(lse[i]))
                            + a.expError();
                    double dpBound = dpStaged[j] + dot * dpAbs[j];
                    double gap = dp[j] - delta;
                    ds[ij] = p[ij] * gap;
                    double dsErr = p[ij] * relP * Math.abs(gap) + p[ij] * (dpBound + deltaBound + U * Math.abs(gap))
                            + U * Math.abs(ds[ij]);
                    dsBound[ij] = dsErr + a.pUnit() * (Math.abs(ds[ij]) + dsErr);
                    double pErr = p[ij] * relP;
                    pBound[ij] = pErr + a.pUnit() * (p[ij] + pErr);
                }
            }
            // loops with e innermost, over contiguous rows
            double[] absDo = new double[lq * d];
            double[] absQ = new double[lq * d];
            for (int i = 0; i < lq * d; i++) {
                absDo[i] = Math.abs(dOr[i]);
                absQ[i] = Math.abs(q[qb + i]);
            }
            for (int j = 0; j < lk; j++) {
                double[] vErr = new double[d];
                double[] vAbs = new double[d];
                double[] kErr = new double[d];
                double[] kAbs = new double[d];
                for (int i = 0; i < lq; i++) {
                    int ij = i * lk + j;
                    double pb = pBound[ij];
                    double pp = p[ij];
                    double sb = dsBound[ij];
                    double sa = Math.abs(ds[ij]);
                    for (int e = 0; e < d; e++) {
                        double g = absDo[i * d + e];
                        double qq = absQ[i * d + e];
                        vErr[e] += pb * g + pp * dOerr[i * d + e];
                        vAbs[e] += pp * g;
                        kErr[e] += sb * qq;
                        kAbs[e] += sa * qq;
                    }
                }
                for (int e = 0; e < d; e++) {
                    int o = kb + j * d + e;
                    dv[o] = vErr[e] + overQueries * (Math.abs(dv0[o]) + vAbs[e]) + 2 * U * vAbs[e];
                    dk[o] = scale * kErr[e] + overQueries * (Math.abs(dk0[o]) + scale * kAbs[e]) + 2 * U * scale * kAbs[e];
                }
            }
            for (int i = 0; i < lq; i++) {
                double[] err = new double[d];
                double[] abs = new double[d];
                for (int j = 0; j < lk; j++) {
                    double sb = dsBound[i * lk + j];
                    double sa = Math.abs(ds[i * lk + j]);
                    for (int e = 0; e < d; e++) {
                        double kk = Math.abs(k[kb + j * d + e]);
                        err[e] += sb * kk;
                        abs[e] += sa * kk;
                    }
                }
                for (int e = 0; e < d; e++) {
                    int o = qb + i * d + e;
                    dq[o] = scale * err[e] + overKeys * (Math.abs(dq0[o]) + scale * abs[e]) + 2 * U * scale * abs[e];
                }
            }
        });
        return new Backward(dq, dk, dv);
    }
}
