package dev.fluxerase.tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FloatsConversionTest {

    private static MemorySegment shorts(int... bits) {
        short[] s = new short[bits.length];
        for (int i = 0; i < bits.length; i++) {
            s[i] = (short) bits[i];
        }
        return MemorySegment.ofArray(s);
    }

    private static float[] convert(MemorySegment src, DType dtype, int n) {
        float[] out = new float[n];
        Floats.toF32(src, dtype, 0, out, 0, n);
        return out;
    }

    @Test
    void bf16HandWorkedValues() {
        // 0x3f80 = 1.0, 0xc040 = -3.0, 0x3dcd ≈ 0.1 (0x3dcd0000 = 0.10009765625), 0x7f80 = +inf, 0x0001 = smallest subnormal
        float[] v = convert(shorts(0x3f80, 0xc040, 0x3dcd, 0x7f80, 0xff80, 0x0001, 0x8000, 0x7fc0), DType.BF16, 8);
        assertEquals(1.0f, v[0]);
        assertEquals(-3.0f, v[1]);
        assertEquals(0.10009765625f, v[2]);
        assertEquals(Float.POSITIVE_INFINITY, v[3]);
        assertEquals(Float.NEGATIVE_INFINITY, v[4]);
        assertEquals(Float.intBitsToFloat(0x00010000), v[5]);
        assertEquals(0x80000000, Float.floatToRawIntBits(v[6]));
        assertTrue(Float.isNaN(v[7]));
    }

    @Test
    void f32ToBf16RoundsToNearestEven() {
        // 1 + 2^-8 is halfway between 1.0 (0x3f80, even) and 1.0078125 (0x3f81, odd): goes to even
        assertEquals((short) 0x3f80, Floats.f32ToBf16(1f + 0x1p-8f));
        // 1 + 3·2^-8 is halfway between 0x3f81 (odd) and 0x3f82 (even): goes up to even
        assertEquals((short) 0x3f82, Floats.f32ToBf16(1f + 3 * 0x1p-8f));
        // just above the halfway point rounds up
        assertEquals((short) 0x3f81, Floats.f32ToBf16(Math.nextUp(1f + 0x1p-8f)));
        // largest finite f32 rounds to infinity, NaN stays NaN
        assertEquals((short) 0x7f80, Floats.f32ToBf16(Float.MAX_VALUE));
        assertTrue(Float.isNaN(Floats.bf16ToF32(Floats.f32ToBf16(Float.NaN))));
    }

    @Test
    void f16HandWorkedValues() {
        // 0x3c00 = 1, 0xc000 = -2, 0x7bff = 65504 (max), 0x0001 = 2^-24 (smallest subnormal), 0x03ff = 1023·2^-24
        // (largest subnormal), 0x0400 = 2^-14 (smallest normal), 0x8001 = -2^-24, 0x7c00 = inf, 0x7e00 = NaN, 0x8000 = -0
        float[] v = convert(shorts(0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x8001, 0x7c00, 0x7e00, 0x8000,
                0x3555, 0xfc00), DType.F16, 12);
        assertEquals(1f, v[0]);
        assertEquals(-2f, v[1]);
        assertEquals(65504f, v[2]);
        assertEquals(0x1p-24f, v[3]);
        assertEquals(1023 * 0x1p-24f, v[4]);
        assertEquals(0x1p-14f, v[5]);
        assertEquals(-0x1p-24f, v[6]);
        assertEquals(Float.POSITIVE_INFINITY, v[7]);
        assertTrue(Float.isNaN(v[8]));
        assertEquals(0x80000000, Float.floatToRawIntBits(v[9]));
        // 0x3555 = 2^-2 · (1 + 341/1024) = 0.333251953125
        assertEquals(0.333251953125f, v[10]);
        assertEquals(Float.NEGATIVE_INFINITY, v[11]);
    }

    @Test
    void f8e4m3HandWorkedValues() {
        // 0x7e = exp 15, mantissa 6: 1.75·2^8 = 448 (max); 0x7f and 0xff are NaN (no infinities); 0x01 = 2^-9 (subnormal);
        // 0x38 = exp 7 → 1.0; 0xb8 = -1.0; 0x08 = 2^-6 (smallest normal); 0x80 = -0
        byte[] b = {0x7e, 0x7f, (byte) 0xff, 0x01, 0x38, (byte) 0xb8, 0x08, (byte) 0x80, (byte) 0xfe, 0x07};
        float[] v = convert(MemorySegment.ofArray(b), DType.F8_E4M3, b.length);
        assertEquals(448f, v[0]);
        assertTrue(Float.isNaN(v[1]));
        assertTrue(Float.isNaN(v[2]));
        assertEquals(0x1p-9f, v[3]);
        assertEquals(1f, v[4]);
        assertEquals(-1f, v[5]);
        assertEquals(0x1p-6f, v[6]);
        assertEquals(0x80000000, Float.floatToRawIntBits(v[7]));
        assertEquals(-448f, v[8]);
        assertEquals(7 * 0x1p-9f, v[9]);
    }

    @Test
    void f64RoundsToNearestF32() {
        double[] d = {0.1, -1e300, 1.0 + 0x1p-24, 1.0 + 0x1p-24 + 0x1p-40};
        float[] v = convert(MemorySegment.ofArray(d), DType.F64, d.length);
        assertEquals(0.1f, v[0]);
        assertEquals(Float.NEGATIVE_INFINITY, v[1]);
        assertEquals(1f, v[2]);  // tie to even
        assertEquals(Math.nextUp(1f), v[3]);
    }

    /** Every 16-bit pattern through the vector path, at an odd offset and with a scalar tail, against the scalar code. */
    @Test
    void bulk16BitConversionsMatchScalarForEveryPattern() {
        int n = 65536 + 13;
        short[] all = new short[n + 3];
        for (int i = 0; i < all.length; i++) {
            all[i] = (short) (i - 3);
        }
        MemorySegment src = MemorySegment.ofArray(all);
        for (DType d : new DType[]{DType.BF16, DType.F16}) {
            float[] out = new float[n + 5];
            Floats.toF32(src, d, 3, out, 5, n);
            for (int i = 0; i < n; i++) {
                short bits = all[3 + i];
                float want = d == DType.BF16 ? Floats.bf16ToF32(bits) : Float.float16ToFloat(bits);
                assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(out[5 + i]),
                        d + " pattern 0x" + Integer.toHexString(bits & 0xffff));
            }
            assertEquals(0f, out[4]);
        }
    }

    @Test
    void bulkConversionOfUnalignedByteOffsets() {
        // one byte of padding so every 16-bit value sits at an odd address
        byte[] b = new byte[1 + 2 * 37];
        MemorySegment s = MemorySegment.ofArray(b);
        for (int i = 0; i < 37; i++) {
            s.set(ValueLayout.JAVA_SHORT_UNALIGNED, 1 + 2L * i, Floats.f32ToBf16(i - 18.5f));
        }
        float[] out = new float[37];
        Floats.toF32(s.asSlice(1), DType.BF16, 0, out, 0, 37);
        for (int i = 0; i < 37; i++) {
            assertEquals(i - 18.5f, out[i]);
        }
    }

    @Test
    void tensorConversionUsesEveryDtype() {
        float[] values = {0f, 1f, -2.5f, 0.375f, 448f, -0.0625f};
        short[] bf = new short[values.length];
        short[] hf = new short[values.length];
        byte[] f8 = {0x00, 0x38, (byte) 0xc2, 0x2c, 0x7e, (byte) 0xa8};
        double[] f64 = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            bf[i] = Floats.f32ToBf16(values[i]);
            hf[i] = Floats.f32ToF16(values[i]);
            f64[i] = values[i];
        }
        long[] shape = {2, 3};
        assertArrayEquals(values, Floats.toF32(Tensor.of(values.clone(), shape)));
        assertArrayEquals(values, Floats.toF32(Tensor.wrap(DType.BF16, MemorySegment.ofArray(bf), shape)));
        assertArrayEquals(values, Floats.toF32(Tensor.wrap(DType.F16, MemorySegment.ofArray(hf), shape)));
        assertArrayEquals(values, Floats.toF32(Tensor.wrap(DType.F64, MemorySegment.ofArray(f64), shape)));
        // E4M3: 0xc2 = -(1 + 2/8)·2^(8-7) = -2.5, 0x2c = (1 + 4/8)·2^(5-7) = 0.375, 0xa8 = -2^(5-7) = -0.25
        float[] f8v = Floats.toF32(Tensor.wrap(DType.F8_E4M3, MemorySegment.ofArray(f8), shape));
        assertArrayEquals(new float[]{0f, 1f, -2.5f, 0.375f, 448f, -0.25f}, f8v);
        assertThrows(IllegalArgumentException.class,
                () -> Floats.toF32(Tensor.wrap(DType.I32, MemorySegment.ofArray(new int[6]), shape)));
    }

    @Test
    void rangeChecksOnTheDestination() {
        MemorySegment src = shorts(1, 2, 3);
        assertThrows(IndexOutOfBoundsException.class, () -> Floats.toF32(src, DType.BF16, 0, new float[2], 0, 3));
        assertThrows(IndexOutOfBoundsException.class, () -> Floats.toF32(src, DType.BF16, 1, new float[3], 0, 3));
    }

    /**
     * Every dtype, with the bad values placed in the vector body and in the scalar tail of lengths that are not a multiple
     * of any vector width: the count, the first index and its value; the largest finite values pass.
     */
    @Test
    void nonFiniteCountsEveryNaNAndInfinityAndNamesTheFirst() {
        int n = 203;
        for (DType d : new DType[]{DType.F32, DType.BF16, DType.F16, DType.F64}) {
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = (i % 7 - 3) * 0.25f;
            }
            v[5] = d == DType.F16 ? 65504f : d == DType.BF16 ? Float.intBitsToFloat(0x7f7f0000) : Float.MAX_VALUE;
            v[6] = -v[5];
            assertEquals(null, Floats.nonFinite(of(v, d)), d.toString());
            v[77] = Float.NaN;
            v[150] = Float.NEGATIVE_INFINITY;
            v[202] = Float.POSITIVE_INFINITY;
            assertEquals("3 of its 203 values are not finite (the first, at index 77, is NaN)",
                    Floats.nonFinite(of(v, d)), d.toString());
            v[77] = 1;
            assertEquals("2 of its 203 values are not finite (the first, at index 150, is -Infinity)",
                    Floats.nonFinite(of(v, d)), d.toString());
        }
    }

    private static Tensor of(float[] v, DType d) {
        return switch (d) {
            case F32 -> Tensor.of(v, v.length);
            case BF16 -> Floats.toBf16(Tensor.of(v, v.length));
            case F16 -> {
                short[] h = new short[v.length];
                for (int i = 0; i < v.length; i++) {
                    h[i] = Floats.f32ToF16(v[i]);
                }
                yield Tensor.wrap(DType.F16, MemorySegment.ofArray(h), v.length);
            }
            case F64 -> {
                double[] x = new double[v.length];
                for (int i = 0; i < v.length; i++) {
                    x[i] = v[i];
                }
                yield Tensor.wrap(DType.F64, MemorySegment.ofArray(x), v.length);
            }
            default -> throw new IllegalArgumentException(d.toString());
        };
    }
}
