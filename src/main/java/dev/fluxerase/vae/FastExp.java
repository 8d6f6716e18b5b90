package dev.fluxerase.vae;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * exp for float32 built only from IEEE add, multiply and fma plus exact integer steps (Cephes expf: n = round(x·log2 e),
 * r = x − n·ln 2 in two parts, a degree-6 polynomial for e^r, then 2^n through the exponent bits); about 2 ulp.
 * {@code VectorOperators.EXP} is not used because its intrinsic (SVML) and its interpreter fallback (Math.exp per lane)
 * round differently, so a decode would depend on how far the JIT had got; this gives the same bits in every tier, and
 * the vector and scalar forms agree with each other.
 */
final class FastExp {
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    // adding and subtracting 1.5·2^23 rounds a float of magnitude < 2^22 to the nearest integer (ties to even)
    private static final float ROUND = 12582912f;
    // the clamp keeps n in [−126, 127], so 2^n is a normal float; e^x below the range is flushed towards 1e-38
    private static final float LO = -87.33f;
    private static final float HI = 88.3f;
    private static final float P0 = 1.9875691500e-4f;
    private static final float P1 = 1.3981999507e-3f;
    private static final float P2 = 8.3334519073e-3f;
    private static final float P3 = 4.1665795894e-2f;
    private static final float P4 = 1.6666665459e-1f;
    private static final float P5 = 5.0000001201e-1f;

    private FastExp() {
    }

    static FloatVector exp(FloatVector v) {
        FloatVector x = v.max(LO).min(HI);
        FloatVector n = x.fma(LOG2E, ROUND).sub(ROUND);
        FloatVector r = n.fma(v.broadcast(-LN2_HI), x);
        r = n.fma(v.broadcast(-LN2_LO), r);
        FloatVector p = r.fma(P0, P1);
        p = p.fma(r, v.broadcast(P2));
        p = p.fma(r, v.broadcast(P3));
        p = p.fma(r, v.broadcast(P4));
        p = p.fma(r, v.broadcast(P5));
        FloatVector e = p.mul(r).fma(r, r).add(1f);
        IntVector bits = ((IntVector) n.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
        return e.mul(bits.reinterpretAsFloats());
    }

    static float exp(float v) {
        float x = Math.min(Math.max(v, LO), HI);
        float n = Math.fma(x, LOG2E, ROUND) - ROUND;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(r, P0, P1), r, P2), r, P3), r, P4), r, P5);
        float e = Math.fma(p * r, r, r) + 1f;
        return e * Float.intBitsToFloat(((int) n + 127) << 23);
    }

    /** x·sigmoid(x) = x / (1 + e^−x). */
    static FloatVector silu(FloatVector x) {
        return x.div(exp(x.neg()).add(1f));
    }

    static float silu(float x) {
        return x / (1f + exp(-x));
    }
}
