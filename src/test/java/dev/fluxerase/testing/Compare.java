package dev.fluxerase.testing;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The comparisons the tests make against references, all in double. */
public final class Compare {
    private Compare() {
    }

    /**
     * max|ours − ref| / max|ref|, the goldens' rel_to_max. Every value of ours must be finite and the reference must not be
     * all zeros (either would make the ratio meaningless).
     */
    public static double relToMax(float[] ours, double[] ref) {
        assertEquals(ref.length, ours.length, "element count");
        double maxDiff = 0;
        double maxRef = 0;
        for (int i = 0; i < ref.length; i++) {
            assertTrue(Float.isFinite(ours[i]), "non-finite value at " + i);
            maxDiff = Math.max(maxDiff, Math.abs(ours[i] - ref[i]));
            maxRef = Math.max(maxRef, Math.abs(ref[i]));
        }
        assertTrue(maxRef > 0, "reference is all zeros");
        return maxDiff / maxRef;
    }

    public static double relToMax(float[] ours, float[] ref) {
        return relToMax(ours, widen(ref));
    }

    /** {@link #relToMax(float[], double[])} after checking shapes; an F64 reference keeps its double values. */
    public static double relToMax(Tensor ours, Tensor ref) {
        assertArrayEquals(ref.shape(), ours.shape(), "shape of " + ours + " vs reference " + ref);
        return relToMax(Floats.toF32(ours), doubles(ref));
    }

    /** max|a − ref| over all elements. */
    public static double maxAbsDiff(float[] a, float[] ref) {
        assertEquals(ref.length, a.length, "element count");
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs((double) a[i] - ref[i]));
        }
        return m;
    }

    public static double maxAbs(float[] a) {
        double m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    /**
     * max|actual − expected| ≤ rel · max|expected| (a tiny floor for all-zero references; NaN fails), naming the worst
     * element.
     */
    public static void assertClose(String what, float[] expected, float[] actual, double rel) {
        assertEquals(expected.length, actual.length, what + ": length");
        double bound = rel * Math.max(maxAbs(expected), 1e-30);
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.length; i++) {
            double e = Math.abs((double) actual[i] - expected[i]);
            if (Double.isNaN(e) || e > worst) {
                worst = Double.isNaN(e) ? Double.POSITIVE_INFINITY : e;
                at = i;
            }
        }
        if (!(worst <= bound)) {
            fail(what + ": max error " + worst + " at " + at + " (expected " + expected[at] + ", got " + actual[at]
                    + ") exceeds " + bound + " = " + rel + " · max|expected|");
        }
    }

    /** A float tensor's values as doubles (F64 values kept exact). */
    public static double[] doubles(Tensor t) {
        if (t.dtype() == DType.F64) {
            return t.data().toArray(ValueLayout.JAVA_DOUBLE_UNALIGNED);
        }
        return widen(Floats.toF32(t));
    }

    private static double[] widen(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
