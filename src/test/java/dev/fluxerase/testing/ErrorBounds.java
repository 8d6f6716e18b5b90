package dev.fluxerase.testing;

import dev.fluxerase.cpu.NaiveBackend;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Forward error bounds for comparing a backend's results with a reference, from the standard model of floating-point
 * arithmetic, fl(a op b) = (a op b)(1 + δ) with |δ| ≤ u (Higham, Accuracy and Stability of Numerical Algorithms, 2nd
 * ed., ch. 2–3), and the check that prints each measured error beside its bound.
 *
 * <p>A sum of n terms t_i (products included, with or without fma) computed in any order and any blocking:
 * <ul>
 *   <li>worst case (Higham eq. 3.4): |ŝ − s| ≤ γ_n·Σ|t_i|, γ_n = n·u / (1 − n·u); always holds.</li>
 *   <li>probabilistic (Higham and Mary, "A new approach to probabilistic rounding error analysis", SISC 41(5), 2019,
 *       Theorem 3.1): if the rounding errors are independent with mean zero, |ŝ − s| ≤ γ̃_n(λ)·Σ|t_i| with
 *       γ̃_n(λ) = exp(λ·√n·u + n·u² / (1 − u)) − 1 ≈ λ·√n·u, with probability at least 1 − 2n·exp(−λ²(1 − u)²/2).</li>
 * </ul>
 * {@link #sumGamma} takes the smaller of the two, with λ chosen so that all the sums of one check together break the
 * probabilistic bound with probability at most {@link #FAILURE_PROBABILITY}: for long sums (k = 3072: 7.96·√k·u
 * against k·u, seven times smaller) it is the realistic one, for short ones the worst case is smaller already.
 * Both bound |ŝ − s| by Σ|t_i|, which for zero-mean random data is about √n times |s| itself, so a correct
 * implementation measures far below them (ratios of 1e-3 for a k = 3072 dot product are normal); what they catch is a
 * wrong result, not a last-bit difference.
 *
 * <p>Bounds are absolute, on max|actual − expected| over a tensor. {@link #check} reports them, as {@link
 * Compare#assertClose} measures, relative to max|expected|, in a line {@code BOUND name measured=… bound=… ratio=…}
 * (ratio = measured / bound; tools/gpu/gpu_check_summary.py collects them), and fails when the ratio exceeds 1.
 */
public final class ErrorBounds {
    /** f32 unit roundoff (round to nearest): half an ulp of 1, 2⁻²⁴. */
    public static final double U_F32 = 0x1p-24;
    public static final double U_F64 = 0x1p-53;
    /** bf16 keeps 8 significant bits: 2⁻⁸ ≈ 3.9e-3. */
    public static final double U_BF16 = 0x1p-8;
    /**
     * Tensor-core f32 accumulation: the products of bf16 inputs are exact, but the additions truncate rather than round
     * (Fasi, Higham, Mikaitis and Pranesh, "Numerical behavior of NVIDIA tensor cores", PeerJ CS 2021: V100, T4 and
     * A100), which doubles the unit: 2⁻²³.
     */
    public static final double U_TENSOR_CORE = 0x1p-23;
    /** Probability that some sum of one check breaks its probabilistic bound, under that bound's model. */
    public static final double FAILURE_PROBABILITY = 1e-6;

    private ErrorBounds() {
    }

    /** γ_n = n·u / (1 − n·u). */
    public static double gamma(double n, double u) {
        double nu = n * u;
        if (nu >= 1) {
            throw new IllegalArgumentException("n·u = " + nu + " ≥ 1: no bound");
        }
        return nu / (1 - nu);
    }

    /** γ̃_n(λ) = exp(λ·√n·u + n·u² / (1 − u)) − 1. */
    public static double gammaProbabilistic(double n, double u, double lambda) {
        return Math.expm1(lambda * Math.sqrt(n) * u + n * u * u / (1 - u));
    }

    /**
     * The λ for which {@code sums} sums of n terms all keep their probabilistic bound with probability at least
     * 1 − {@link #FAILURE_PROBABILITY}: sums · 2n·exp(−λ²(1 − u)²/2) = FAILURE_PROBABILITY.
     */
    public static double lambda(double n, double u, double sums) {
        return Math.sqrt(2 * Math.log(2 * n * Math.max(sums, 1) / FAILURE_PROBABILITY)) / (1 - u);
    }

    /** The smaller of γ_n and γ̃_n(λ) for {@code sums} sums of n terms: a bound on |ŝ − s| / Σ|t_i| for each. */
    public static double sumGamma(double n, double u, double sums) {
        if (n <= 1) {
            return n * u;
        }
        double p = gammaProbabilistic(n, u, lambda(n, u, sums));
        return n * u < 0.5 ? Math.min(gamma(n, u), p) : p;
    }

    /**
     * For every element of C = alpha·op(A)·op(B) + beta·C (row-major, as {@code Backend.gemm}): |alpha|·Σ_p |a_ip||b_pj|
     * + |beta|·|c_ij|, the magnitude a GEMM's rounding errors are proportional to. Computed by NaiveBackend on the
     * absolute values (in double, rounded to f32 once: relative error 2⁻²⁴, nothing beside a bound).
     */
    public static float[] gemmMagnitude(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta,
                                        float[] c, long m, long n) {
        Tensor mag = Tensor.of(abs(c), m, n);
        new NaiveBackend().gemm(transA, transB, Math.abs(alpha), Tensor.of(abs(Floats.toF32(a)), a.shape()),
                Tensor.of(abs(Floats.toF32(b)), b.shape()), Math.abs(beta), mag);
        return Floats.toF32(mag);
    }

    /**
     * The bound on max|GEMM result − f64 reference| for a GEMM whose k-term sums have unit u: {@link #sumGamma}·T for
     * the sums, 3·2⁻²⁴·T for the f32 roundings of alpha·s, beta·c and their sum, and 2⁻²⁴·T for the reference's own
     * rounding of its f64 result to f32, with T = {@link #gemmMagnitude} (every one of these errors is at most its
     * unit times the element's T, so the largest T bounds them all).
     */
    public static double gemm(double u, long k, float[] magnitude) {
        return (sumGamma(k, u, magnitude.length) + 4 * U_F32) * Compare.maxAbs(magnitude);
    }

    public static float[] abs(float[] a) {
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = Math.abs(a[i]);
        }
        return r;
    }

    /**
     * bound_i + 2⁻²⁴·|expected_i|: from a bound against the exact result to one against NaiveBackend, which computes
     * in double and rounds to f32 once.
     */
    public static double[] againstF64Reference(double[] bound, float[] expected) {
        double[] r = new double[bound.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = bound[i] + U_F32 * Math.abs(expected[i]);
        }
        return r;
    }

    /** Element by element a_i + b_i: two implementations' bounds against the exact result bound their difference. */
    public static double[] plus(double[] a, double[] b) {
        double[] r = new double[a.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = a[i] + b[i];
        }
        return r;
    }

    public static double max(double[] a) {
        double m = 0;
        for (double v : a) {
            m = Math.max(m, v);
        }
        return m;
    }

    /** {@link #check(String, float[], float[], double)} with the largest of per-element bounds. */
    public static void check(String name, float[] expected, float[] actual, double[] elementBounds) {
        assertEquals(expected.length, elementBounds.length, name + ": bounds for every element");
        check(name, expected, actual, max(elementBounds));
    }

    /** max|actual − expected| ≤ bound (NaN or an infinity fails), reported relative to max|expected|. */
    public static void check(String name, float[] expected, float[] actual, double bound) {
        assertEquals(expected.length, actual.length, name + ": length");
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.length; i++) {
            double e = Math.abs((double) actual[i] - expected[i]);
            if (!(e <= worst)) {
                worst = Double.isNaN(e) ? Double.POSITIVE_INFINITY : e;
                at = i;
            }
        }
        String where = at < 0 ? "" : " at " + at + " (expected " + expected[at] + ", got " + actual[at] + ")";
        report(name, worst, bound, Compare.maxAbs(expected), where);
    }

    /** |actual − expected| ≤ bound for one value (the double reductions). */
    public static void check(String name, double expected, double actual, double bound) {
        double e = Math.abs(actual - expected);
        report(name, Double.isNaN(e) ? Double.POSITIVE_INFINITY : e, bound, Math.abs(expected),
                " (expected " + expected + ", got " + actual + ")");
    }

    /**
     * Prints {@code BOUND name measured=… bound=… ratio=…} with both relative to {@code scale} (max|expected|; 1 when
     * that is 0), and fails when measured exceeds bound.
     */
    public static void report(String name, double measured, double bound, double scale, String where) {
        double s = scale > 0 ? scale : 1;
        double ratio = measured == 0 ? 0 : measured / bound;
        System.out.println(String.format(Locale.ROOT, "BOUND %s measured=%.3e bound=%.3e ratio=%.3g", name,
                measured / s, bound / s, ratio));
        if (!(ratio <= 1)) {
            fail(String.format(Locale.ROOT, "%s: max error %.4g%s exceeds the bound %.4g (ratio %.3g)", name, measured,
                    where, bound, ratio));
        }
    }
}
