package dev.fluxerase.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A dense row-major tensor: shape, dtype and a memory segment. On the CPU the segment is host memory (a heap array, native
 * memory, or a slice of a memory-mapped safetensors file, which is how weights are read in place). On CUDA it is a device
 * address wrapped as a segment so that slicing and views work the same way; it is only ever passed to the driver.
 */
public final class Tensor {
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private final Device device;
    private final DType dtype;
    private final long[] shape;
    private final MemorySegment data;
    private final boolean frozen;

    public Tensor(Device device, DType dtype, long[] shape, MemorySegment data) {
        this(device, dtype, shape, data, false);
    }

    private Tensor(Device device, DType dtype, long[] shape, MemorySegment data, boolean frozen) {
        this.frozen = frozen;
        this.device = device;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.data = data;
        long need = numel(this.shape) * dtype.byteSize();
        if (data.byteSize() != need) {
            throw new IllegalArgumentException("tensor of shape " + Arrays.toString(shape) + " " + dtype + " needs " + need
                    + " bytes, segment has " + data.byteSize());
        }
    }

    /** A CPU F32 tensor over a heap array (no copy). */
    public static Tensor of(float[] values, long... shape) {
        return new Tensor(Device.CPU, DType.F32, shape, MemorySegment.ofArray(values));
    }

    /** A zero-filled CPU F32 tensor on the heap. */
    public static Tensor zeros(long... shape) {
        long n = numel(shape);
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("heap tensor too large: " + Arrays.toString(shape));
        }
        return of(new float[(int) n], shape);
    }

    /** A CPU tensor over an existing segment (for example a slice of a mapped file). */
    public static Tensor wrap(DType dtype, MemorySegment data, long... shape) {
        return new Tensor(Device.CPU, dtype, shape, data);
    }

    public static long numel(long[] shape) {
        long n = 1;
        for (long s : shape) {
            if (s < 0) {
                throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, s);
        }
        return n;
    }

    public Device device() {
        return device;
    }

    public DType dtype() {
        return dtype;
    }

    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    /** Size of dimension i; negative i counts from the end. */
    public long dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    public long numel() {
        return numel(shape);
    }

    public long byteSize() {
        return data.byteSize();
    }

    public MemorySegment data() {
        return data;
    }

    /** Last dimension (1 for a scalar): the width of the matrix view that GEMM and row-wise ops use. */
    public long cols() {
        return shape.length == 0 ? 1 : shape[shape.length - 1];
    }

    /** Product of all dimensions but the last. */
    public long rows() {
        long c = cols();
        return c == 0 ? 0 : numel() / c;
    }

    /** The same bytes under another shape with the same element count. */
    public Tensor view(long... newShape) {
        if (numel(newShape) != numel()) {
            throw new IllegalArgumentException("cannot view " + Arrays.toString(shape) + " as " + Arrays.toString(newShape));
        }
        return new Tensor(device, dtype, newShape, data);
    }

    /**
     * This tensor marked frozen: a promise by the caller that nothing writes its memory while this object is reachable,
     * so that a backend may keep a derived copy keyed by this object (the CPU GEMM keeps its weights packed). Only the
     * returned object carries the mark; its views and slices, new objects each time, do not.
     */
    public Tensor frozen() {
        return new Tensor(device, dtype, shape, data, true);
    }

    public boolean isFrozen() {
        return frozen;
    }

    /** Rows [start, start+count) of dimension 0; contiguous, so this is a slice of the same memory. */
    public Tensor sliceRows(long start, long count) {
        if (shape.length == 0 || start < 0 || count < 0 || start + count > shape[0]) {
            throw new IndexOutOfBoundsException("rows [" + start + ", " + (start + count) + ") of " + Arrays.toString(shape));
        }
        long rowBytes = shape[0] == 0 ? 0 : data.byteSize() / shape[0];
        long[] s = shape.clone();
        s[0] = count;
        return new Tensor(device, dtype, s, data.asSlice(start * rowBytes, count * rowBytes));
    }

    /** Element i of a CPU F32 tensor in flat row-major order. */
    public float get(long i) {
        requireCpuF32();
        return data.getAtIndex(F32_LE, i);
    }

    public void set(long i, float v) {
        requireCpuF32();
        data.setAtIndex(F32_LE, i, v);
    }

    private void requireCpuF32() {
        if (device != Device.CPU || dtype != DType.F32) {
            throw new IllegalStateException("element access needs a CPU F32 tensor, this is " + device + " " + dtype);
        }
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape) + " " + dtype + " on " + device;
    }
}
