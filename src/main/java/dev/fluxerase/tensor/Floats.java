package dev.fluxerase.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Scalar conversions between the float formats we read and f32, plus whole-tensor conversion on the host. */
public final class Floats {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED;

    private Floats() {
    }

    /** bf16 is the upper half of an IEEE f32. */
    public static float bf16ToF32(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** f32 → bf16 with round-to-nearest-even; NaN stays a quiet NaN. */
    public static short f32ToBf16(float f) {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7fffffff) > 0x7f800000) {
            return (short) ((x >>> 16) | 0x40);
        }
        int rounding = 0x7fff + ((x >>> 16) & 1);
        return (short) ((x + rounding) >>> 16);
    }

    public static float f16ToF32(short bits) {
        return Float.float16ToFloat(bits);
    }

    public static short f32ToF16(float f) {
        return Float.floatToFloat16(f);
    }

    /** OCP FP8 E4M3 (the "fn" variant: no infinities, S.1111.111 is NaN), bias 7. */
    public static float f8e4m3ToF32(byte b) {
        int sign = (b & 0x80) != 0 ? -1 : 1;
        int exp = (b >>> 3) & 0xf;
        int man = b & 0x7;
        if (exp == 0xf && man == 0x7) {
            return Float.NaN;
        }
        float mag = exp == 0 ? man / 8f * 0x1p-6f : (1 + man / 8f) * (float) Math.scalb(1.0, exp - 7);
        return sign * mag;
    }

    /** Element i of a host segment holding dtype values, as f32. */
    public static float read(MemorySegment s, DType dtype, long i) {
        return switch (dtype) {
            case F32 -> s.getAtIndex(F32, i);
            case BF16 -> bf16ToF32(s.getAtIndex(I16, i));
            case F16 -> f16ToF32(s.getAtIndex(I16, i));
            case F64 -> (float) s.getAtIndex(F64, i);
            case F8_E4M3 -> f8e4m3ToF32(s.get(ValueLayout.JAVA_BYTE, i));
            default -> throw new IllegalArgumentException("not a float dtype: " + dtype);
        };
    }

    /** A CPU tensor of any float dtype as a new f32 array. */
    public static float[] toF32(Tensor t) {
        if (t.device() != Device.CPU) {
            throw new IllegalArgumentException("host conversion of a " + t.device() + " tensor");
        }
        long n = t.numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("too large for one array: " + t);
        }
        float[] out = new float[(int) n];
        MemorySegment s = t.data();
        if (t.dtype() == DType.F32) {
            MemorySegment.copy(s, F32, 0, out, 0, out.length);
            return out;
        }
        for (int i = 0; i < out.length; i++) {
            out[i] = read(s, t.dtype(), i);
        }
        return out;
    }
}
