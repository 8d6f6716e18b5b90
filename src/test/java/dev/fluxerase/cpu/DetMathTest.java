package dev.fluxerase.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

import java.util.function.DoubleUnaryOperator;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * DetMath against the double-precision library functions over a sweep of every 1021st float bit pattern in each range (about a
 * million arguments per function), with the vector form required to equal the scalar form bit for bit at every
 * argument. Errors are in ulp of the correctly rounded float result; the bounds are the measured maxima (exp 0.99, tanh
 * 1.23, sigmoid 2.32, silu 2.38 over finer sweeps) rounded up.
 */
class DetMathTest {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int STEP = 1021;

    /** Largest error in ulp over the floats in [lo, hi] (same sign), stepping STEP bit patterns. */
    private static double maxUlp(String what, float lo, float hi, UnaryOperator<FloatVector> vec,
                                 DoubleUnaryOperator scalar, DoubleUnaryOperator exact) {
        int a = Float.floatToIntBits(lo);
        int b = Float.floatToIntBits(hi);
        int from = Math.min(a, b);
        int to = Math.max(a, b);
        int count = (to - from) / STEP + 1;
        float[] x = new float[(count + F.length() - 1) / F.length() * F.length()];
        for (int i = 0; i < x.length; i++) {
            x[i] = Float.intBitsToFloat(Math.min(to, from + i * STEP));
        }
        float[] v = new float[x.length];
        for (int i = 0; i < x.length; i += F.length()) {
            vec.apply(FloatVector.fromArray(F, x, i)).intoArray(v, i);
        }
        double worst = 0;
        for (int i = 0; i < x.length; i++) {
            float s = (float) scalar.applyAsDouble(x[i]);
            assertEquals(Float.floatToRawIntBits(s), Float.floatToRawIntBits(v[i]), what + ": vector ≠ scalar at " + x[i]);
            double e = exact.applyAsDouble(x[i]);
            worst = Math.max(worst, Math.abs(s - e) / Math.ulp((float) e));
        }
        return worst;
    }

    @Test
    void expWithin1Ulp() {
        double neg = maxUlp("exp", -87.33f, -0f, DetMath::exp, x -> DetMath.exp((float) x), Math::exp);
        double pos = maxUlp("exp", 0f, 88.3f, DetMath::exp, x -> DetMath.exp((float) x), Math::exp);
        System.out.printf("DetMath.exp max error: %.3f ulp on [-87.33, 0], %.3f ulp on [0, 88.3]%n", neg, pos);
        assertTrue(neg <= 1 && pos <= 1, neg + " / " + pos);
        assertEquals(1f, DetMath.exp(0f));
        assertEquals(1f, DetMath.exp(-0f));
    }

    @Test
    void expEdges() {
        assertEquals(0f, DetMath.exp(Float.NEGATIVE_INFINITY));
        assertEquals(0f, DetMath.exp(-88f));
        assertTrue(Float.isNaN(DetMath.exp(Float.NaN)));
        float top = DetMath.exp(Float.POSITIVE_INFINITY);
        assertTrue(Float.isFinite(top) && top > 2e38f, "saturates at e^88.3: " + top);
        float[] in = new float[F.length()];
        float[] special = {Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, -88f, -87.33f, 88.3f, 100f, -0f};
        System.arraycopy(special, 0, in, 0, Math.min(special.length, in.length));
        float[] out = new float[in.length];
        DetMath.exp(FloatVector.fromArray(F, in, 0)).intoArray(out, 0);
        for (int i = 0; i < in.length; i++) {
            assertEquals(DetMath.exp(in[i]), out[i], "x = " + in[i]);
        }
    }

    @Test
    void tanhWithinOneAndAHalfUlp() {
        double worst = 0;
        // from 1e-30 (where tanh x = x in float) to 10 (where it rounds to 1), both signs
        for (float sign : new float[]{1f, -1f}) {
            worst = Math.max(worst, maxUlp("tanh", sign * 1e-30f, sign * 10f, DetMath::tanh,
                    x -> DetMath.tanh((float) x), Math::tanh));
        }
        System.out.printf("DetMath.tanh max error: %.3f ulp on ±[1e-30, 10]%n", worst);
        assertTrue(worst <= 1.5, "tanh " + worst);
        assertEquals(1f, DetMath.tanh(10f));
        assertEquals(-1f, DetMath.tanh(-1000f));
        assertEquals(1f, DetMath.tanh(Float.POSITIVE_INFINITY));
        assertEquals(0f, DetMath.tanh(0f));
        assertEquals(Float.floatToIntBits(-0f), Float.floatToIntBits(DetMath.tanh(-0f)));
        assertTrue(Float.isNaN(DetMath.tanh(Float.NaN)));
    }

    @Test
    void sigmoidWithinTwoAndAHalfUlp() {
        double neg = maxUlp("sigmoid", -87f, -0f, DetMath::sigmoid, x -> DetMath.sigmoid((float) x),
                x -> 1 / (1 + Math.exp(-x)));
        double pos = maxUlp("sigmoid", 0f, 20f, DetMath::sigmoid, x -> DetMath.sigmoid((float) x),
                x -> 1 / (1 + Math.exp(-x)));
        System.out.printf("DetMath.sigmoid max error: %.3f ulp on [-87, 0], %.3f ulp on [0, 20]%n", neg, pos);
        assertTrue(neg <= 2.5 && pos <= 2.5, neg + " / " + pos);
        assertEquals(1f, DetMath.sigmoid(100f));
        assertEquals(0.5f, DetMath.sigmoid(0f));
    }

    @Test
    void siluWithinTwoAndAHalfUlpAndFiniteAtTheExtremes() {
        double neg = maxUlp("silu", -87f, -1e-30f, DetMath::silu, x -> DetMath.silu((float) x),
                x -> x / (1 + Math.exp(-x)));
        double pos = maxUlp("silu", 1e-30f, 100f, DetMath::silu, x -> DetMath.silu((float) x),
                x -> x / (1 + Math.exp(-x)));
        System.out.printf("DetMath.silu max error: %.3f ulp on [-87, -1e-30], %.3f ulp on [1e-30, 100]%n", neg, pos);
        assertTrue(neg <= 2.5 && pos <= 2.5, neg + " / " + pos);
        assertEquals(1000f, DetMath.silu(1000f));
        float negBig = DetMath.silu(-1000f);
        assertTrue(negBig <= 0 && negBig > -1e-30, "silu(−1000) = " + negBig);
        assertEquals(0f, DetMath.silu(0f));
        float[] big = {Float.MAX_VALUE, -Float.MAX_VALUE, 90f, -90f, 1e-30f, -1e-30f, 5f, -5f, 1f, 2f, 3f, 4f, 6f, 7f, 8f,
                9f};
        float[] out = new float[F.length()];
        float[] in = new float[F.length()];
        System.arraycopy(big, 0, in, 0, Math.min(big.length, in.length));
        DetMath.silu(FloatVector.fromArray(F, in, 0)).intoArray(out, 0);
        for (int i = 0; i < in.length; i++) {
            assertEquals(Float.floatToIntBits(DetMath.silu(in[i])), Float.floatToIntBits(out[i]), "x = " + in[i]);
            assertTrue(Float.isFinite(out[i]), "x = " + in[i]);
        }
    }
}
