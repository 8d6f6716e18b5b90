package dev.fluxerase.cpu;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * An F32 tensor's elements as a float[] window, which is what the Vector API reads fastest (fromArray runs several times
 * faster than fromMemorySegment here). A tensor over a writable heap float[] is used in place; any other segment (native,
 * memory-mapped, read-only) is staged: copied into a new array before the op and, for outputs, copied back by
 * {@link #commit()}. Tensors too large for one array never get here: CpuBackend hands them to the reference kernels.
 */
final class Arr {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    final float[] a;
    final int off;
    private final MemorySegment stagedFrom;

    private Arr(float[] a, int off, MemorySegment stagedFrom) {
        this.a = a;
        this.off = off;
        this.stagedFrom = stagedFrom;
    }

    /** True when a tensor does not fit in one Java array. */
    static boolean huge(Tensor t) {
        return t != null && t.numel() > Integer.MAX_VALUE - 8;
    }

    /** The heap float[] behind a writable segment, or null. */
    private static float[] heapArray(MemorySegment s) {
        if (s.isReadOnly() || s.isNative()) {
            return null;
        }
        Object base = s.heapBase().orElse(null);
        return base instanceof float[] f && s.address() % 4 == 0 ? f : null;
    }

    /** An input: the tensor's own array, or a copy. */
    static Arr in(Tensor t) {
        MemorySegment s = t.data();
        float[] h = heapArray(s);
        if (h != null) {
            return new Arr(h, (int) (s.address() / 4), null);
        }
        float[] copy = new float[(int) t.numel()];
        MemorySegment.copy(s, F32, 0, copy, 0, copy.length);
        return new Arr(copy, 0, null);
    }

    /** An output whose old contents are overwritten. */
    static Arr out(Tensor t) {
        MemorySegment s = t.data();
        float[] h = heapArray(s);
        if (h != null) {
            return new Arr(h, (int) (s.address() / 4), null);
        }
        return new Arr(new float[(int) t.numel()], 0, s);
    }

    /** An output that is read and updated (gradients that backward ops add into, in-place ops). */
    static Arr inOut(Tensor t) {
        MemorySegment s = t.data();
        float[] h = heapArray(s);
        if (h != null) {
            return new Arr(h, (int) (s.address() / 4), null);
        }
        float[] copy = new float[(int) t.numel()];
        MemorySegment.copy(s, F32, 0, copy, 0, copy.length);
        return new Arr(copy, 0, s);
    }

    /** A weight of any float dtype as f32: an F32 tensor's own array where it has one, else a converted copy. */
    static Arr weight(Tensor t) {
        if (t.dtype() == DType.F32) {
            return in(t);
        }
        return new Arr(Floats.toF32(t), 0, null);
    }

    /** Copies a staged output back into its segment; a no-op for in-place arrays and inputs. */
    void commit() {
        if (stagedFrom != null) {
            MemorySegment.copy(a, 0, stagedFrom, F32, 0, a.length);
        }
    }
}
