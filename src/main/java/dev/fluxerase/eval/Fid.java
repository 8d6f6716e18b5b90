package dev.fluxerase.eval;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;

/**
 * The Fréchet distance between two feature sets' statistics, as pytorch-fid 0.3.0's {@code calculate_frechet_distance}
 * computes it: ‖mu1 − mu2‖² + tr(sigma1) + tr(sigma2) − 2·tr(sqrtm(sigma1·sigma2)).
 *
 * <p>Only the trace of the principal square root is needed, and that is Σ√λᵢ over the eigenvalues λᵢ of sigma1·sigma2.
 * The product is not symmetric, and it is singular whenever a set has fewer samples than dimensions, where a general
 * matrix square root is ill-conditioned; the trace is instead taken from two symmetric eigen-decompositions
 * ({@link #traceSqrtProduct}). pytorch-fid keeps only the real part of SciPy's complex result and raises when an
 * imaginary part on its diagonal exceeds 1e-3; here the imaginary part is the largest one among the roots of the
 * product's eigenvalues: round-off (about 1e-8) for positive semi-definite covariances, large only for one that is not.
 */
public final class Fid {
    /** pytorch-fid's diagonal offset, added to both covariances when the square root cannot be computed. */
    static final double EPS = 1e-6;
    /** pytorch-fid raises when the square root's imaginary part exceeds this. */
    static final double MAX_IMAGINARY = 1e-3;

    private Fid() {
    }

    /**
     * @param meanTerm     ‖mu1 − mu2‖²
     * @param traceCovmean tr(sqrtm(sigma1·sigma2)), real part
     * @param imaginary    the largest imaginary part of √λ over the product's eigenvalues λ
     * @param offset       whether pytorch-fid's eps·I offset was applied because the plain product failed
     */
    public record Result(double fid, double meanTerm, double traceSigma1, double traceSigma2, double traceCovmean,
                         double imaginary, boolean offset) {
    }

    /** The part of the computation that depends on the covariances only. */
    record SqrtTrace(double trace, double imaginary) {
    }

    public static Result distance(FeatureStats a, FeatureStats b) {
        int d = a.dims();
        if (b.dims() != d) {
            throw new IllegalArgumentException("FID: the two feature sets have different dimensions, " + d + " and "
                    + b.dims() + " (statistics from different feature extractors?)");
        }
        double[] mu1 = a.muView();
        double[] mu2 = b.muView();
        double meanTerm = 0;
        for (int i = 0; i < d; i++) {
            double diff = mu1[i] - mu2[i];
            meanTerm += diff * diff;
        }
        double[] s1 = a.sigmaView();
        double[] s2 = b.sigmaView();
        double tr1 = trace(s1, d);
        double tr2 = trace(s2, d);
        boolean offset = false;
        SqrtTrace t = traceSqrtProduct(s1, s2, d, 0);
        if (t == null) {
            offset = true;
            t = traceSqrtProduct(s1, s2, d, EPS);
            if (t == null) {
                throw new IllegalArgumentException("FID: the eigen-decomposition of the covariances did not converge, even"
                        + " with " + EPS + " added to their diagonals");
            }
        }
        if (t.imaginary() > MAX_IMAGINARY) {
            throw new IllegalArgumentException("FID: the square root of sigma1·sigma2 has an imaginary component "
                    + t.imaginary() + " (above " + MAX_IMAGINARY + ", where pytorch-fid stops): a covariance is not"
                    + " positive semi-definite");
        }
        double fid = meanTerm + tr1 + tr2 - 2 * t.trace();
        return new Result(fid, meanTerm, tr1, tr2, t.trace(), t.imaginary(), offset);
    }

    /**
     * tr(sqrtm((s1 + offset·I)·(s2 + offset·I))), or null when a decomposition does not converge (pytorch-fid's cue to
     * retry with the offset).
     *
     * <p>With R = s1^½ the product is similar to the symmetric M = R·s2·R, so the trace is Σ√max(λ, 0) over M's
     * eigenvalues. On a rank-deficient product M's zero eigenvalues come out as ±ε‖M‖ round-off, and the positive ones
     * add about 1e-8 each to the trace; SciPy's sqrtm, and so pytorch-fid, carries the same noise (its negative ones
     * become the imaginary part that pytorch-fid drops), so this form stays near pytorch-fid: 2e-7 apart on fid_b. The
     * singular values of R1·R2 would give the exact trace (a set's distance to itself 3e-13 instead of −1e-6) but are
     * 7e-7 from pytorch-fid there, close to the golden's 1e-6 tolerance, and would drift further on products of lower
     * rank.
     *
     * <p>R is built from whichever covariance is positive semi-definite (s1·s2 and s2·s1 have the same eigenvalues); the
     * other one may be indefinite, and then M's negative eigenvalues are the imaginary roots pytorch-fid checks.
     */
    static SqrtTrace traceSqrtProduct(double[] s1, double[] s2, int d, double offset) {
        DMatrixRMaj a = symmetric(s1, d, offset);
        DMatrixRMaj b = symmetric(s2, d, offset);
        Eigen ea = Eigen.of(a, true);
        if (ea == null) {
            return null;
        }
        DMatrixRMaj root;
        DMatrixRMaj other;
        if (ea.positiveSemiDefinite()) {
            root = ea.sqrt();
            other = b;
        } else {
            Eigen eb = Eigen.of(b, true);
            if (eb == null) {
                return null;
            }
            if (!eb.positiveSemiDefinite()) {
                throw new IllegalArgumentException("FID: neither covariance is positive semi-definite (smallest"
                        + " eigenvalues " + ea.min() + " and " + eb.min() + ")");
            }
            root = eb.sqrt();
            other = a;
        }
        DMatrixRMaj tmp = new DMatrixRMaj(d, d);
        DMatrixRMaj m = new DMatrixRMaj(d, d);
        CommonOps_DDRM.mult(root, other, tmp);
        CommonOps_DDRM.mult(tmp, root, m);
        Eigen em = Eigen.of(symmetric(m.data, d, 0), false);
        if (em == null) {
            return null;
        }
        double trace = 0;
        for (double l : em.values) {
            trace += Math.sqrt(Math.max(l, 0));
        }
        return new SqrtTrace(trace, Math.sqrt(Math.max(-em.min(), 0)));
    }

    private static double trace(double[] s, int d) {
        double t = 0;
        for (int i = 0; i < d; i++) {
            t += s[i * d + i];
        }
        return t;
    }

    /** (s + sᵀ)/2 + offset·I: exact for a symmetric s, and the symmetric solver must not see round-off asymmetry. */
    private static DMatrixRMaj symmetric(double[] s, int d, double offset) {
        DMatrixRMaj out = new DMatrixRMaj(d, d);
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < d; j++) {
                out.data[i * d + j] = 0.5 * (s[i * d + j] + s[j * d + i]);
            }
            out.data[i * d + i] += offset;
        }
        return out;
    }

    private record Eigen(double[] values, DMatrixRMaj vectors) {
        static Eigen of(DMatrixRMaj m, boolean withVectors) {
            int d = m.numRows;
            EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(d, withVectors, true);
            if (!eig.decompose(m.copy())) {
                return null;
            }
            double[] values = new double[d];
            DMatrixRMaj vectors = withVectors ? new DMatrixRMaj(d, d) : null;
            for (int k = 0; k < d; k++) {
                values[k] = eig.getEigenvalue(k).real;
                if (!Double.isFinite(values[k])) {
                    return null;
                }
                if (withVectors) {
                    DMatrixRMaj v = eig.getEigenVector(k);
                    for (int i = 0; i < d; i++) {
                        vectors.data[i * d + k] = v.data[i];
                    }
                }
            }
            return new Eigen(values, vectors);
        }

        double min() {
            double min = Double.POSITIVE_INFINITY;
            for (double v : values) {
                min = Math.min(min, v);
            }
            return min;
        }

        /** Negative eigenvalues within a symmetric solver's round-off (a few d·ε·‖A‖) count as zero. */
        boolean positiveSemiDefinite() {
            double max = 0;
            for (double v : values) {
                max = Math.max(max, Math.abs(v));
            }
            return min() >= -64.0 * values.length * Math.ulp(1.0) * max;
        }

        /** V·diag(√max(λ, 0))·Vᵀ. */
        DMatrixRMaj sqrt() {
            int d = values.length;
            DMatrixRMaj scaled = vectors.copy();
            for (int k = 0; k < d; k++) {
                double s = Math.sqrt(Math.max(values[k], 0));
                for (int i = 0; i < d; i++) {
                    scaled.data[i * d + k] *= s;
                }
            }
            DMatrixRMaj out = new DMatrixRMaj(d, d);
            CommonOps_DDRM.multTransB(scaled, vectors, out);
            return out;
        }
    }
}
