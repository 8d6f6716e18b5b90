package dev.fluxerase.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * exp, tanh, sigmoid and SiLU for float32 built only from IEEE add, multiply, divide and fma plus exact integer and bit
 * steps, in a vector and a scalar form that give the same bits as each other and in every JIT tier.
 *
 * <p>{@code VectorOperators.EXP}/{@code TANH} are not used because their C2 intrinsic (SVML) and their interpreter/C1
 * fallback (Math.exp per lane) round differently, so an op's last bit would depend on how far the JIT had got, and a run
 * with a fixed seed would not reproduce. The scalar forms mirror the vector forms operation for operation (fma where the
 * vector uses fma, the same order everywhere), so a kernel may send any element through either path.
 *
 * <p>exp is Cephes expf: n = round(x·log₂e), r = x − n·ln2 in two parts, a degree-6 polynomial for eʳ, then 2ⁿ through
 * the exponent bits. tanh is Cephes tanhf: an odd polynomial below 0.625, 1 − 2/(e^{2|x|} + 1) above. Measured errors
 * (DetMathTest, against the double-precision library): exp < 1 ulp, tanh < 1.25 ulp, sigmoid and SiLU < 2.4 ulp,
 * where the result is a normal float.
 */
public final class DetMath {
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    // adding and subtracting 1.5·2²³ rounds a float of magnitude < 2²² to the nearest integer (ties to even)
    private static final float ROUND = 12582912f;
    // the clamp keeps n in [−126, 127], so 2ⁿ is a normal float: e^x saturates at e^88.3 ≈ 2.2e38 above and is 0 below
    // −87.33 (the exact value there is below 1.2e-38, subnormal or zero)
    private static final float LO = -87.33f;
    private static final float HI = 88.3f;
    private static final float P0 = 1.9875691500e-4f;
    private static final float P1 = 1.3981999507e-3f;
    private static final float P2 = 8.3334519073e-3f;
    private static final float P3 = 4.1665795894e-2f;
    private static final float P4 = 1.6666665459e-1f;
    private static final float P5 = 5.0000001201e-1f;
    /** tanh: below this |x| the polynomial, above it the exp form (whose cancellation is mild from here on). */
    private static final float TANH_SMALL = 0.625f;
    private static final float T0 = -5.70498872745e-3f;
    private static final float T1 = 2.06390887954e-2f;
    private static final float T2 = -5.37397155531e-2f;
    private static final float T3 = 1.33314422036e-1f;
    private static final float T4 = -3.33332819422e-1f;
    private static final int SIGN = 0x80000000;

    private DetMath() {
    }

    // ---- exp ------------------------------------------------------------------------------------------------------------

    public static FloatVector exp(FloatVector v) {
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
        return e.mul(bits.reinterpretAsFloats()).blend(0f, v.lt(LO));
    }

    public static float exp(float v) {
        if (v < LO) {
            return 0f;
        }
        float x = Math.min(v, HI);
        float n = Math.fma(x, LOG2E, ROUND) - ROUND;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(r, P0, P1), r, P2), r, P3), r, P4), r, P5);
        float e = Math.fma(p * r, r, r) + 1f;
        return e * Float.intBitsToFloat(((int) n + 127) << 23);
    }

    // ---- tanh -----------------------------------------------------------------------------------------------------------

    public static FloatVector tanh(FloatVector x) {
        FloatVector a = x.abs();
        FloatVector s = a.mul(a);
        FloatVector p = s.fma(T0, T1);
        p = p.fma(s, x.broadcast(T2));
        p = p.fma(s, x.broadcast(T3));
        p = p.fma(s, x.broadcast(T4));
        FloatVector small = p.mul(s).fma(a, a);
        FloatVector big = exp(a.add(a)).add(1f);
        big = x.broadcast(1f).sub(x.broadcast(2f).div(big));
        VectorMask<Float> isSmall = a.lt(TANH_SMALL);
        FloatVector t = big.blend(small, isSmall);
        return t.reinterpretAsInts().or(x.reinterpretAsInts().and(SIGN)).reinterpretAsFloats();
    }

    public static float tanh(float x) {
        float a = Math.abs(x);
        float t;
        if (a < TANH_SMALL) {
            float s = a * a;
            float p = Math.fma(Math.fma(Math.fma(Math.fma(s, T0, T1), s, T2), s, T3), s, T4);
            t = Math.fma(p * s, a, a);
        } else {
            t = 1f - 2f / (exp(a + a) + 1f);
        }
        return Float.intBitsToFloat(Float.floatToRawIntBits(t) | (Float.floatToRawIntBits(x) & SIGN));
    }

    // ---- sigmoid and SiLU -----------------------------------------------------------------------------------------------

    /** 1 / (1 + e^−x). */
    public static FloatVector sigmoid(FloatVector x) {
        return x.broadcast(1f).div(exp(x.neg()).add(1f));
    }

    public static float sigmoid(float x) {
        return 1f / (exp(-x) + 1f);
    }

    /** x·sigmoid(x) = x / (1 + e^−x). */
    public static FloatVector silu(FloatVector x) {
        return x.div(exp(x.neg()).add(1f));
    }

    public static float silu(float x) {
        return x / (exp(-x) + 1f);
    }
}
