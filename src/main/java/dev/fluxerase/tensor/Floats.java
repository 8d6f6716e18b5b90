package dev.fluxerase.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/** Scalar conversions between the float formats we read and f32, plus whole-tensor conversion on the host. */
public final class Floats {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED;
    private static final VectorSpecies<Float> FLOAT = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> INT = FLOAT.withLanes(int.class);
    private static final VectorSpecies<Short> SHORTS = ShortVector.SPECIES_PREFERRED;
    /** 16-bit lanes, as many as FLOAT has, so one load widens into exactly one int vector. */
    private static final VectorSpecies<Short> HALF =
            VectorSpecies.of(short.class, VectorShape.forBitSize(FLOAT.length() * Short.SIZE));
    /** All 256 E4M3 values: a lookup is exact and cheaper than decoding. */
    private static final float[] F8_E4M3_TABLE = new float[256];

    static {
        for (int b = 0; b < 256; b++) {
            F8_E4M3_TABLE[b] = f8e4m3ToF32((byte) b);
        }
    }

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

    /** The bf16 value nearest to f (ties to even), as an f32. */
    public static float roundToBf16(float f) {
        return bf16ToF32(f32ToBf16(f));
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
        toF32(t.data(), t.dtype(), 0, out, 0, out.length);
        return out;
    }

    /**
     * Null when every value of a CPU float tensor is finite, else what is wrong: "N of its M values are not finite (the
     * first, at index I, is V)". Weights are checked once when loaded, so the scan looks only at exponent bits, a lane
     * at a time through the Vector API, and reads each mapped byte once (the page cache then serves the first forward).
     */
    public static String nonFinite(Tensor t) {
        if (t.device() != Device.CPU) {
            throw new IllegalArgumentException("host scan of a " + t.device() + " tensor");
        }
        MemorySegment s = t.data();
        long n = t.numel();
        long bad = 0;
        long first = -1;
        switch (t.dtype()) {
            case BF16, F16 -> {
                // all-ones exponent: 0x7f80 in bf16, 0x7c00 in f16
                short exp = (short) (t.dtype() == DType.BF16 ? 0x7f80 : 0x7c00);
                long i = 0;
                for (long bound = n - n % SHORTS.length(); i < bound; i += SHORTS.length()) {
                    VectorMask<Short> m = ShortVector.fromMemorySegment(SHORTS, s, 2 * i, ByteOrder.LITTLE_ENDIAN)
                            .and(exp).eq(exp);
                    if (m.anyTrue()) {
                        first = first < 0 ? i + m.firstTrue() : first;
                        bad += m.trueCount();
                    }
                }
                for (; i < n; i++) {
                    if ((s.getAtIndex(I16, i) & exp) == exp) {
                        first = first < 0 ? i : first;
                        bad++;
                    }
                }
            }
            case F32 -> {
                long i = 0;
                for (long bound = n - n % INT.length(); i < bound; i += INT.length()) {
                    VectorMask<Integer> m = IntVector.fromMemorySegment(INT, s, 4 * i, ByteOrder.LITTLE_ENDIAN)
                            .and(0x7f800000).eq(0x7f800000);
                    if (m.anyTrue()) {
                        first = first < 0 ? i + m.firstTrue() : first;
                        bad += m.trueCount();
                    }
                }
                for (; i < n; i++) {
                    if (!Float.isFinite(s.getAtIndex(F32, i))) {
                        first = first < 0 ? i : first;
                        bad++;
                    }
                }
            }
            default -> {
                for (long i = 0; i < n; i++) {
                    if (!Float.isFinite(read(s, t.dtype(), i))) {
                        first = first < 0 ? i : first;
                        bad++;
                    }
                }
            }
        }
        return bad == 0 ? null : bad + " of its " + n + " values are not finite (the first, at index " + first + ", is "
                + read(s, t.dtype(), first) + ")";
    }

    /** A CPU tensor of any float dtype as a new BF16 host tensor of the same shape, each value rounded to nearest even. */
    public static Tensor toBf16(Tensor t) {
        float[] v = toF32(t);
        short[] bits = new short[v.length];
        for (int i = 0; i < v.length; i++) {
            bits[i] = f32ToBf16(v[i]);
        }
        return new Tensor(Device.CPU, DType.BF16, t.shape(), MemorySegment.ofArray(bits));
    }

    /**
     * dst[dstOff + i] = element (srcIndex + i) of src as f32, for i in [0, n); src holds little-endian values of a float
     * dtype. Exact for every dtype but F64 (rounded to nearest). BF16 and F16 go through the Vector API with a scalar tail.
     */
    public static void toF32(MemorySegment src, DType dtype, long srcIndex, float[] dst, int dstOff, int n) {
        Objects.checkFromIndexSize(dstOff, n, dst.length);
        switch (dtype) {
            case F32 -> MemorySegment.copy(src, F32, srcIndex * 4, dst, dstOff, n);
            case BF16 -> bf16ToF32(src, srcIndex * 2, dst, dstOff, n);
            case F16 -> f16ToF32(src, srcIndex * 2, dst, dstOff, n);
            case F64 -> {
                for (int i = 0; i < n; i++) {
                    dst[dstOff + i] = (float) src.getAtIndex(F64, srcIndex + i);
                }
            }
            case F8_E4M3 -> {
                for (int i = 0; i < n; i++) {
                    dst[dstOff + i] = F8_E4M3_TABLE[src.get(ValueLayout.JAVA_BYTE, srcIndex + i) & 0xff];
                }
            }
            default -> throw new IllegalArgumentException("not a float dtype: " + dtype);
        }
    }

    // bf16 → f32: zero-extend each 16-bit lane to 32 bits and shift it into the upper half
    private static void bf16ToF32(MemorySegment src, long byteOff, float[] dst, int dstOff, int n) {
        int i = 0;
        for (int bound = FLOAT.loopBound(n); i < bound; i += FLOAT.length()) {
            IntVector bits = widen(src, byteOff + 2L * i);
            bits.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, dstOff + i);
        }
        for (; i < n; i++) {
            dst[dstOff + i] = bf16ToF32(src.get(I16, byteOff + 2L * i));
        }
    }

    /*
     * f16 → f32 in integer arithmetic (there is no half-float vector conversion in the incubator API): shift exponent and
     * mantissa into f32 position and rebias the exponent by 127 − 15. Inf/NaN (exponent 31) get the exponent rebias once
     * more so they land on 255, payload kept and NaNs made quiet as Float.float16ToFloat does. Zeros and subnormals get exponent 1 and then 2^-14 subtracted in float
     * arithmetic, which is exact (both values lie in [2^-14, 2^-13)) and leaves m·2^-24.
     */
    private static void f16ToF32(MemorySegment src, long byteOff, float[] dst, int dstOff, int n) {
        int i = 0;
        for (int bound = FLOAT.loopBound(n); i < bound; i += FLOAT.length()) {
            IntVector h = widen(src, byteOff + 2L * i);
            IntVector sign = h.and(0x8000).lanewise(VectorOperators.LSHL, 16);
            IntVector o = h.and(0x7fff).lanewise(VectorOperators.LSHL, 13);
            IntVector exp = o.and(0x0f800000);
            o = o.add(112 << 23);
            VectorMask<Integer> special = exp.eq(0x0f800000);
            o = o.add(112 << 23, special);
            o = o.lanewise(VectorOperators.OR, 0x00400000, special.and(h.and(0x3ff).compare(VectorOperators.NE, 0)));
            VectorMask<Integer> small = exp.eq(0);
            FloatVector f = o.add(1 << 23, small).reinterpretAsFloats();
            f = f.sub(0x1p-14f, small.cast(FLOAT));
            f.reinterpretAsInts().or(sign).reinterpretAsFloats().intoArray(dst, dstOff + i);
        }
        for (; i < n; i++) {
            dst[dstOff + i] = Float.float16ToFloat(src.get(I16, byteOff + 2L * i));
        }
    }

    /** FLOAT.length() little-endian 16-bit values at byteOff, zero-extended into int lanes. */
    private static IntVector widen(MemorySegment src, long byteOff) {
        ShortVector s = ShortVector.fromMemorySegment(HALF, src, byteOff, ByteOrder.LITTLE_ENDIAN);
        return (IntVector) s.convertShape(VectorOperators.ZERO_EXTEND_S2I, INT, 0);
    }
}
