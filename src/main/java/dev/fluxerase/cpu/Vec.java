package dev.fluxerase.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API building blocks over float[] windows (offsets in floats). Every loop runs whole vectors of the preferred
 * species and finishes with a scalar tail.
 *
 * <p>Lanes are summed by {@link #sumLanes}, a fixed tree of lane swaps and adds, never by {@code reduceLanes(ADD)}: its
 * C2 intrinsic and its Java fallback add the lanes in different orders, so a sum's last bit would depend on the JIT tier.
 */
final class Vec {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int N = S.length();
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    /** SWAP_F[k] exchanges lanes i and i ^ (1 << k): log₂N steps of "add the lanes of the other half" sum all lanes. */
    private static final VectorShuffle<Float>[] SWAP_F = swaps(S);
    private static final VectorShuffle<Double>[] SWAP_D = swaps(D);

    private Vec() {
    }

    @SuppressWarnings("unchecked")
    private static <E> VectorShuffle<E>[] swaps(VectorSpecies<E> species) {
        int steps = Integer.numberOfTrailingZeros(species.length());
        VectorShuffle<E>[] s = new VectorShuffle[steps];
        for (int k = 0; k < steps; k++) {
            int bit = 1 << k;
            s[k] = VectorShuffle.fromOp(species, i -> i ^ bit);
        }
        return s;
    }

    /** Σ of the lanes in a fixed order: pairs (i, i ^ N/2) first, then (i, i ^ N/4), …; the same bits in every tier. */
    static float sumLanes(FloatVector v) {
        for (int k = SWAP_F.length - 1; k >= 0; k--) {
            v = v.add(v.rearrange(SWAP_F[k]));
        }
        return v.lane(0);
    }

    /** {@link #sumLanes(FloatVector)} for double lanes. */
    static double sumLanes(DoubleVector v) {
        for (int k = SWAP_D.length - 1; k >= 0; k--) {
            v = v.add(v.rearrange(SWAP_D[k]));
        }
        return v.lane(0);
    }

    /** y[yo..yo+n) += alpha · x[xo..xo+n). */
    static void axpy(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        FloatVector va = FloatVector.broadcast(S, alpha);
        int i = 0;
        for (int upper = S.loopBound(n); i < upper; i += N) {
            FloatVector.fromArray(S, x, xo + i).fma(va, FloatVector.fromArray(S, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] = Math.fma(x[xo + i], alpha, y[yo + i]);
        }
    }

    /** y[yo..yo+n) += x[xo..xo+n). */
    static void add(float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        for (int upper = S.loopBound(n); i < upper; i += N) {
            FloatVector.fromArray(S, y, yo + i).add(FloatVector.fromArray(S, x, xo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] += x[xo + i];
        }
    }

    /** Σ a·b over n floats, f32 lanes reduced once (short rows: head dims, norm rows). */
    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (int upper = S.loopBound(n); i < upper; i += N) {
            acc = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc);
        }
        float s = sumLanes(acc);
        for (; i < n; i++) {
            s = Math.fma(a[ao + i], b[bo + i], s);
        }
        return s;
    }

    /** Σ x over n floats in f32 lanes. */
    static float sum(float[] x, int xo, int n) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (int upper = S.loopBound(n); i < upper; i += N) {
            acc = acc.add(FloatVector.fromArray(S, x, xo + i));
        }
        float s = sumLanes(acc);
        for (; i < n; i++) {
            s += x[xo + i];
        }
        return s;
    }

    /** Σ x in double lanes (each f32 lane widened exactly). */
    static double sumDouble(float[] x, int xo, int n) {
        DoubleVector acc = DoubleVector.zero(D);
        int i = 0;
        int parts = N / D.length();
        for (int upper = S.loopBound(n); i < upper; i += N) {
            FloatVector v = FloatVector.fromArray(S, x, xo + i);
            for (int p = 0; p < parts; p++) {
                acc = acc.add((DoubleVector) v.convertShape(VectorOperators.F2D, D, p));
            }
        }
        double s = sumLanes(acc);
        for (; i < n; i++) {
            s += x[xo + i];
        }
        return s;
    }

    /** Σ a·b with both factors widened to double, so every product is exact. */
    static double dotDouble(float[] a, int ao, float[] b, int bo, int n) {
        DoubleVector acc = DoubleVector.zero(D);
        int i = 0;
        int parts = N / D.length();
        for (int upper = S.loopBound(n); i < upper; i += N) {
            FloatVector va = FloatVector.fromArray(S, a, ao + i);
            FloatVector vb = FloatVector.fromArray(S, b, bo + i);
            for (int p = 0; p < parts; p++) {
                DoubleVector da = (DoubleVector) va.convertShape(VectorOperators.F2D, D, p);
                DoubleVector db = (DoubleVector) vb.convertShape(VectorOperators.F2D, D, p);
                acc = da.fma(db, acc);
            }
        }
        double s = sumLanes(acc);
        for (; i < n; i++) {
            s += (double) a[ao + i] * b[bo + i];
        }
        return s;
    }

    /** max of x over n ≥ 1 floats. */
    static float max(float[] x, int xo, int n) {
        FloatVector acc = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (int upper = S.loopBound(n); i < upper; i += N) {
            acc = acc.max(FloatVector.fromArray(S, x, xo + i));
        }
        // unlike ADD, MAX gives the same result in any lane order (Math.max semantics), so every tier agrees
        float m = acc.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            m = Math.max(m, x[xo + i]);
        }
        return m;
    }

    /** x[xo..xo+n) *= alpha. */
    static void scale(float[] x, int xo, int n, float alpha) {
        int i = 0;
        for (int upper = S.loopBound(n); i < upper; i += N) {
            FloatVector.fromArray(S, x, xo + i).mul(alpha).intoArray(x, xo + i);
        }
        for (; i < n; i++) {
            x[xo + i] *= alpha;
        }
    }
}
