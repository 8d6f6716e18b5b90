package dev.fluxerase.cpu;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Host memory for both CPU backends, which check the arguments against the contract before calling here. A tensor
 * whose element count fits in one Java array lives on the heap in an array of its element width (float[] for F32,
 * short[] for BF16/F16, ...), so the GC owns it and the Vector API can read it; larger tensors get zeroed native memory
 * from the automatic arena (freed when unreachable, like a heap array).
 */
final class HostMemory {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED;

    private HostMemory() {
    }

    static Tensor allocate(DType dtype, long... shape) {
        long n = Tensor.numel(shape);
        MemorySegment seg;
        if (n <= Integer.MAX_VALUE - 8) {
            int len = (int) n;
            seg = switch (dtype) {
                case F32 -> MemorySegment.ofArray(new float[len]);
                case BF16, F16 -> MemorySegment.ofArray(new short[len]);
                case F64 -> MemorySegment.ofArray(new double[len]);
                case I64 -> MemorySegment.ofArray(new long[len]);
                case I32 -> MemorySegment.ofArray(new int[len]);
                case U8, F8_E4M3 -> MemorySegment.ofArray(new byte[len]);
            };
        } else {
            seg = Arena.ofAuto().allocate(Math.multiplyExact(n, (long) dtype.byteSize()), 64);
        }
        return new Tensor(Device.CPU, dtype, shape, seg);
    }

    static Tensor upload(float[] values, long... shape) {
        Tensor t = allocate(DType.F32, shape);
        MemorySegment.copy(values, 0, t.data(), F32, 0, values.length);
        return t;
    }

    static float[] download(Tensor t) {
        return Floats.toF32(t);
    }

    /** Same dtype: a byte copy. Otherwise element by element through f32 (F64 sources round to f32 first). */
    static void copy(Tensor src, Tensor dst) {
        if (src.dtype() == dst.dtype()) {
            MemorySegment.copy(src.data(), 0, dst.data(), 0, src.byteSize());
            return;
        }
        long n = src.numel();
        MemorySegment s = src.data();
        MemorySegment d = dst.data();
        DType sd = src.dtype();
        for (long i = 0; i < n; i++) {
            store(d, dst.dtype(), i, Floats.read(s, sd, i));
        }
    }

    static void fill(Tensor t, float value) {
        if (Float.floatToRawIntBits(value) == 0) {
            t.data().fill((byte) 0);
            return;
        }
        long n = t.numel();
        for (long i = 0; i < n; i++) {
            store(t.data(), t.dtype(), i, value);
        }
    }

    /** Writes one f32 value as dtype, rounding to nearest even when narrowing. */
    static void store(MemorySegment s, DType dtype, long i, float v) {
        switch (dtype) {
            case F32 -> s.setAtIndex(F32, i, v);
            case BF16 -> s.setAtIndex(I16, i, Floats.f32ToBf16(v));
            case F16 -> s.setAtIndex(I16, i, Floats.f32ToF16(v));
            case F64 -> s.setAtIndex(F64, i, v);
            default -> throw new IllegalArgumentException("cannot store floats as " + dtype);
        }
    }
}
