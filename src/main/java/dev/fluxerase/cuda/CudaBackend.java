package dev.fluxerase.cuda;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.BackendContract;
import dev.fluxerase.tensor.ConvGeometry;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.function.Function;

/**
 * {@link Backend} on one NVIDIA GPU: the driver API and cuBLASLt through FFM, the kernels of kernels/*.cu as PTX.
 * Every op is queued on one stream in call order; {@link #download}, {@link #sum}, {@link #dot} and {@link #synchronize}
 * wait for it. Activations are F32 as the interface says; GEMM weights in BF16 are multiplied on tensor cores after the
 * F32 operand is rounded to BF16 (f32 accumulation), F32 weights use full-precision f32 GEMM.
 *
 * <p>Memory: {@link #allocate} and {@link #upload} take device memory that lives until {@link #free} or {@link #close}.
 * Tensors must be on this device; {@link #toDevice} copies a host tensor of any dtype (weights stay BF16).
 */
public final class CudaBackend implements Backend {
    /** Which attention kernels run: bf16 tensor cores (head dim 128) or the plain f32 reference (any head dim ≤ 256). */
    public enum AttentionKernels { FLASH_BF16, REFERENCE_F32 }

    private static final BackendContract CHECK = BackendContract.on(Device.CUDA);
    /** The launch grid's y and z extent, over which batch and (batch·heads) are spread. */
    private static final long MAX_GRID_YZ = 65535;
    private static final int REF_MAX_HEAD_DIM = 256;
    private static final int REDUCE_BLOCKS = 1024;

    private final CudaDriver driver;
    private final int device;
    private final String deviceName;
    private final MemorySegment context;
    private final MemorySegment stream;
    private final CudaKernels kernels;
    private final CublasLt cublas;
    private final AttentionKernels attentionKernels;
    private final Map<Long, Long> allocations = new HashMap<>();
    /** Bytes held by allocations and scratch now, and the most held at once since the last {@link #resetPeak}. */
    private long allocatedBytes;
    private long peakBytes;
    private final ThreadLocal<Boolean> contextCurrent = ThreadLocal.withInitial(() -> false);
    private final Map<String, Long> scratch = new HashMap<>();
    private final Map<String, Long> scratchBytes = new HashMap<>();
    private boolean closed;

    /** The first GPU with the tensor-core attention. */
    public CudaBackend() {
        this(0, AttentionKernels.FLASH_BF16);
    }

    public CudaBackend(int ordinal, AttentionKernels attentionKernels) {
        this(CudaDriver.get(), ordinal, attentionKernels, d -> CublasLt.load(d, CudaLibraries.system()));
    }

    /** With a given driver and cuBLASLt (tests bind both to Java stand-ins to check the order of driver calls). */
    CudaBackend(CudaDriver driver, int ordinal, AttentionKernels attentionKernels, Function<CudaDriver, CublasLt> cublasLt) {
        this.driver = driver;
        int count = driver.deviceCount();
        if (ordinal < 0 || ordinal >= count) {
            throw new CudaUnavailableException("no CUDA GPU " + ordinal + ": the driver sees " + count);
        }
        this.device = driver.device(ordinal);
        this.deviceName = driver.deviceName(device);
        int major = driver.attribute(device, CudaDriver.ATTR_COMPUTE_CAPABILITY_MAJOR);
        if (major < 8) {
            throw new CudaUnavailableException("no usable CUDA GPU: " + deviceName + " has compute capability " + major
                    + ".x; the kernels need 8.0 (Ampere) or newer");
        }
        this.context = driver.primaryContextRetain(device);
        driver.setCurrentContext(context);
        contextCurrent.set(true);
        this.stream = driver.streamCreate();
        this.kernels = new CudaKernels(driver, stream);
        this.cublas = cublasLt.apply(driver);
        this.attentionKernels = attentionKernels;
    }

    @Override
    public String name() {
        return "cuda:" + deviceName;
    }

    @Override
    public Device device() {
        return Device.CUDA;
    }

    /** The CUDA context is current per thread: make it current on whichever thread calls us. */
    private void enter() {
        if (closed) {
            throw new IllegalStateException("CUDA backend is closed");
        }
        if (!contextCurrent.get()) {
            driver.setCurrentContext(context);
            contextCurrent.set(true);
        }
    }

    /** Waits until every queued op has finished (and surfaces any asynchronous kernel fault). */
    public void synchronize() {
        enter();
        driver.streamSynchronize(stream);
    }

    // ---- memory -------------------------------------------------------------------------------------------------------

    /** The device address of an optional operand (the contract has checked it), 0 for none. */
    private static long addressOrNull(Tensor t) {
        return t == null ? 0L : t.data().address();
    }

    private Tensor wrap(DType dtype, long[] shape, long address, long bytes) {
        return new Tensor(Device.CUDA, dtype, shape, MemorySegment.ofAddress(address).reinterpret(bytes));
    }

    @Override
    public Tensor allocate(DType dtype, long... shape) {
        enter();
        long bytes = Math.multiplyExact(Tensor.numel(shape), dtype.byteSize());
        long p = driver.memAlloc(Math.max(bytes, 1));
        allocations.put(p, bytes);
        held(bytes);
        driver.memsetD8Async(p, (byte) 0, bytes, stream);
        return wrap(dtype, shape, p, bytes);
    }

    @Override
    public void free(Tensor t) {
        enter();
        CHECK.resident("free", "tensor", t);
        long p = t.data().address();
        Long bytes = allocations.remove(p);
        if (bytes == null) {
            throw new IllegalArgumentException("free: " + t + " at 0x" + Long.toHexString(p)
                    + " is not an allocation of this backend (a view or slice?)");
        }
        // kernels queued on the stream may still use it, and the driver may hand the address out again at once
        driver.streamSynchronize(stream);
        driver.memFree(p);
        held(-bytes);
    }

    private void held(long delta) {
        allocatedBytes += delta;
        peakBytes = Math.max(peakBytes, allocatedBytes);
    }

    /** Device bytes this backend holds now (tensors and scratch; not the CUDA context or cuBLASLt's own memory). */
    public long allocatedBytes() {
        return allocatedBytes;
    }

    /** The most device bytes this backend held at once since it was made or {@link #resetPeak} was called. */
    public long peakAllocatedBytes() {
        return peakBytes;
    }

    /** Starts a new high-water mark at what is held now. */
    public void resetPeak() {
        peakBytes = allocatedBytes;
    }

    /** {free, total} device memory as the driver sees it (every process and context included). */
    public long[] memoryInfo() {
        enter();
        return driver.memoryInfo();
    }

    @Override
    public OptionalLong freeMemory() {
        return OptionalLong.of(memoryInfo()[0]);
    }

    @Override
    public Tensor upload(float[] values, long... shape) {
        CHECK.upload(values, shape);
        Tensor t = allocate(DType.F32, shape);
        write(t, values);
        return t;
    }

    @Override
    public void write(Tensor dst, float[] values) {
        enter();
        CHECK.write(dst, values);
        if (dst.dtype() != DType.F32) {
            Backend.super.write(dst, values);
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            copyFromHost(dst.data().address(), a.allocateFrom(ValueLayout.JAVA_FLOAT, values));
        }
    }

    /**
     * Queues the copy of {@code host} to {@code dst} and waits for the stream, so the caller may free {@code host} as
     * soon as this returns: from pageable memory cuMemcpyHtoDAsync "might be synchronous", i.e. it may also return
     * before the driver has read the buffer. Waiting here, after every queued op, costs a pipeline drain per copy; the
     * copies are uploads of weights and inputs, and one small table per adamwAll or attentionColumnProbabilities call.
     */
    private void copyFromHost(long dst, MemorySegment host) {
        driver.copyHtoDAsync(dst, host, host.byteSize(), stream);
        driver.streamSynchronize(stream);
    }

    /** A device copy of a host tensor in its own dtype (how BF16 weights reach the GPU). */
    @Override
    public Tensor toDevice(Tensor host) {
        CHECK.toDevice(host);
        Tensor t = allocate(host.dtype(), host.shape());
        try (Arena a = Arena.ofConfined()) {
            MemorySegment staged = a.allocate(host.byteSize(), 16);
            staged.copyFrom(host.data());
            copyFromHost(t.data().address(), staged);
        }
        return t;
    }

    @Override
    public float[] download(Tensor t) {
        enter();
        CHECK.download(t);
        long p = t.data().address();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(Math.max(t.byteSize(), 1), 16);
            driver.copyDtoHAsync(host, p, t.byteSize(), stream);
            driver.streamSynchronize(stream);
            return Floats.toF32(Tensor.wrap(t.dtype(), host.asSlice(0, t.byteSize()), t.shape()));
        }
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        enter();
        CHECK.copy(src, dst);
        long s = src.data().address();
        long d = dst.data().address();
        if (src.dtype() == dst.dtype()) {
            driver.copyDtoDAsync(d, s, src.byteSize(), stream);
        } else {
            kernels.launch1d(Kernel.CAST, src.numel(), src.numel(), s, CudaKernels.dtypeCode(src.dtype()), d,
                    CudaKernels.dtypeCode(dst.dtype()));
        }
    }

    @Override
    public void fill(Tensor t, float value) {
        enter();
        CHECK.fill(t);
        long p = t.data().address();
        if (t.dtype() == DType.F32) {
            driver.memsetD32Async(p, Float.floatToRawIntBits(value), t.numel(), stream);
        } else {
            kernels.launch1d(Kernel.FILL, t.numel(), t.numel(), p, CudaKernels.dtypeCode(t.dtype()), value);
        }
    }

    @Override
    public void copyStrided(Tensor src, long srcOffset, long[] srcStrides, Tensor dst, long dstOffset, long[] dstStrides,
                            long[] sizes, boolean accumulate) {
        enter();
        if (!CHECK.copyStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, sizes, accumulate)) {
            return;
        }
        long total = Math.multiplyExact(Math.multiplyExact(sizes[0], sizes[1]), Math.multiplyExact(sizes[2], sizes[3]));
        kernels.launch1d(Kernel.COPY_STRIDED, total, total, src.data().address(), CudaKernels.dtypeCode(src.dtype()),
                srcOffset, srcStrides[0], srcStrides[1], srcStrides[2], srcStrides[3], dst.data().address(),
                CudaKernels.dtypeCode(dst.dtype()), dstOffset, dstStrides[0], dstStrides[1], dstStrides[2],
                dstStrides[3], sizes[1], sizes[2], sizes[3], accumulate ? 1 : 0);
    }

    // ---- launch limits: what the contract allows but one launch cannot take -------------------------------------------

    private static int intDim(String op, long v) {
        if (v > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(op + ": dimension " + v + " does not fit the kernels' int");
        }
        return (int) v;
    }

    // ---- scratch ------------------------------------------------------------------------------------------------------

    /** A device buffer reused by every call of one purpose (ops run in stream order, so reuse is safe), grown on demand. */
    private long scratch(String purpose, long bytes) {
        Long have = scratchBytes.get(purpose);
        if (have == null || have < bytes) {
            if (have != null) {
                driver.streamSynchronize(stream);
                driver.memFree(scratch.get(purpose));
                held(-have);
            }
            long p = driver.memAlloc(Math.max(bytes, 256));
            held(Math.max(bytes, 256));
            scratch.put(purpose, p);
            scratchBytes.put(purpose, Math.max(bytes, 256));
        }
        return scratch.get(purpose);
    }

    // ---- GEMM ---------------------------------------------------------------------------------------------------------

    @Override
    public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        enter();
        GemmPlan p = GemmPlan.rowMajor(transA, transB, CHECK.gemm(transA, transB, a, b, c));
        if (p.m() == 0 || p.n() == 0) {
            return;
        }
        if (p.k() == 0) {
            if (beta == 0) {
                fill(c, 0f);
            } else {
                scale(c, beta);
            }
            return;
        }
        matmul(p, alpha, a, b, beta, c.data().address());
    }

    /**
     * Column-major D (f32, at {@code d}) = alpha·op(b)·op(a) + beta·D as {@link GemmPlan} lays our row-major product out.
     * cuBLASLt wants A and B in one dtype: f32 × f32 stays f32; with a BF16 operand the other is cast to bf16 in scratch
     * and the product runs on tensor cores (a BF16 activation, or a bf16 weight: the f32 activation is rounded, as every
     * bf16 GEMM here does); an F16 weight, whose products could overflow if the activation were narrowed to f16, is
     * widened to f32 instead, and a BF16 a with it.
     */
    private void matmul(GemmPlan p, float alpha, Tensor a, Tensor b, float beta, long d) {
        matmul(p, alpha, a, b, beta, d, CublasLt.Output.F32);
    }

    /** The same with D of {@code out}'s type and its epilogue. */
    private void matmul(GemmPlan p, float alpha, Tensor a, Tensor b, float beta, long d, CublasLt.Output out) {
        matmul(p, alpha, a.data().address(), a.dtype(), b, beta, d, out);
    }

    /**
     * The same with a given by its device address and dtype (the conv's im2col columns live in scratch, not in a
     * tensor); a holds the plan's op(a) elements.
     */
    private void matmul(GemmPlan p, float alpha, long a, DType aType, Tensor b, float beta, long d,
                        CublasLt.Output out) {
        long aElements = p.rowsB() * p.colsB();
        if (b.dtype() == DType.F16) {
            long b32 = converted(b, DType.F32, "gemm-b-f32");
            cublas.matmul(p, CublasLt.CUDA_R_32F, alpha, b32, converted(a, aType, aElements, DType.F32, "gemm-a-f32"),
                    beta, d, out, stream);
        } else if (aType == DType.F32 && b.dtype() == DType.F32) {
            cublas.matmul(p, CublasLt.CUDA_R_32F, alpha, b.data().address(), a, beta, d, out, stream);
        } else {
            cublas.matmul(p, CublasLt.CUDA_R_16BF, alpha, converted(b, DType.BF16, "gemm-b-bf16"),
                    converted(a, aType, aElements, DType.BF16, "gemm-a-bf16"), beta, d, out, stream);
        }
    }

    /** t's address when it has dtype {@code to}, else that of a copy cast into the scratch of {@code purpose}. */
    private long converted(Tensor t, DType to, String purpose) {
        return converted(t.data().address(), t.dtype(), t.numel(), to, purpose);
    }

    private long converted(long src, DType from, long n, DType to, String purpose) {
        if (from == to) {
            return src;
        }
        long dst = scratch(purpose, n * to.byteSize());
        kernels.launch1d(Kernel.CAST, n, n, src, CudaKernels.dtypeCode(from), dst, CudaKernels.dtypeCode(to));
        return dst;
    }

    /**
     * One cuBLASLt call with the bias and GELU in its epilogue (CUBLASLT_EPILOGUE_BIAS, _GELU_AUX, _GELU_AUX_BIAS), D
     * and the aux output in y's dtype, when cuBLASLt can take it: the product runs bf16 × bf16 (x or w is BF16, w not
     * F16: cuBLASLt's f32 × f32 writes f32 only), preGelu, if any, of y's dtype (the aux matrix has D's type) and out
     * divisible by 8 (the aux leading dimension). A bias of another dtype than y is cast to y's first, the bias
     * vector's type being D's. The GELU is fused only into a BF16 y: cuBLASLt does not document its GELU's
     * accuracy, and the rounding to bf16 (2⁻⁸) dwarfs that of any f32 tanh approximation, where an F32 y would be held
     * to our kernel's. Otherwise the unfused path: the GEMM into f32 (y itself when it is F32, else scratch), then the
     * bias and GELU kernels and a cast into each BF16 output.
     */
    @Override
    public void linear(Tensor x, Tensor w, Tensor bias, Tensor y, Tensor preGelu) {
        enter();
        BackendContract.Gemm shape = CHECK.linear(x, w, bias, y, preGelu);
        long n = y.numel();
        if (n == 0) {
            return;
        }
        GemmPlan plan = GemmPlan.rowMajor(false, true, shape);
        boolean bf16Product = (x.dtype() == DType.BF16 || w.dtype() == DType.BF16) && w.dtype() != DType.F16;
        boolean fusable = shape.k() > 0 && bf16Product && (preGelu == null
                || y.dtype() == DType.BF16 && preGelu.dtype() == DType.BF16 && shape.n() % 8 == 0);
        if (fusable) {
            long b = bias == null ? 0 : converted(bias, y.dtype(), "linear-bias");
            int epilogue = preGelu == null ? (b == 0 ? CublasLt.EPILOGUE_DEFAULT : CublasLt.EPILOGUE_BIAS)
                    : (b == 0 ? CublasLt.EPILOGUE_GELU_AUX : CublasLt.EPILOGUE_GELU_AUX_BIAS);
            int type = y.dtype() == DType.F32 ? CublasLt.CUDA_R_32F : CublasLt.CUDA_R_16BF;
            matmul(plan, 1f, x, w, 0f, y.data().address(), new CublasLt.Output(type, epilogue, b,
                    preGelu == null ? 0 : preGelu.data().address()));
            return;
        }
        long z = y.dtype() == DType.F32 ? y.data().address() : scratch("linear-f32", n * 4);
        if (shape.k() == 0) {
            driver.memsetD32Async(z, 0, n, stream);
        } else {
            matmul(plan, 1f, x, w, 0f, z);
        }
        if (bias != null) {
            kernels.launch1d(Kernel.ADD_BIAS, n, shape.m(), intDim("linear", shape.n()), z, bias.data().address(),
                    CudaKernels.dtypeCode(bias.dtype()));
        }
        if (preGelu != null) {
            fromF32(z, preGelu);
            kernels.launch1d(Kernel.GELU_TANH_FWD, n, n, z, z);
        }
        if (z != y.data().address()) {
            fromF32(z, y);
        }
    }

    /** dst = the f32 values at {@code src}, rounded when dst is BF16. */
    private void fromF32(long src, Tensor dst) {
        if (dst.dtype() == DType.F32) {
            driver.copyDtoDAsync(dst.data().address(), src, dst.byteSize(), stream);
        } else {
            kernels.launch1d(Kernel.CAST, dst.numel(), dst.numel(), src, 0, dst.data().address(),
                    CudaKernels.dtypeCode(dst.dtype()));
        }
    }

    @Override
    public void addBias(Tensor y, Tensor bias) {
        enter();
        CHECK.addBias(y, bias);
        kernels.launch1d(Kernel.ADD_BIAS, y.numel(), y.rows(), intDim("addBias", y.cols()), y.data().address(),
                bias.data().address(), CudaKernels.dtypeCode(bias.dtype()));
    }

    @Override
    public void sumRows(Tensor dy, Tensor db) {
        enter();
        CHECK.sumRows(dy, db);
        columnReduce(Kernel.SUM_ROWS, dy.rows(), intDim("sumRows", dy.cols()), dy.data().address(), db.data().address());
    }

    /** Column sums with 256 columns per block and row chunks meeting in atomics (sum_rows and rmsnorm_bwd_dw). */
    private void columnReduce(Kernel k, long rows, int cols, Object... ptrs) {
        if (rows == 0 || cols == 0) {
            return;
        }
        int rowsPerChunk = (int) Math.max(64, (rows + 4095) / 4096);
        long chunks = (rows + rowsPerChunk - 1) / rowsPerChunk;
        Object[] args = new Object[3 + ptrs.length];
        args[0] = rows;
        args[1] = cols;
        args[2] = rowsPerChunk;
        System.arraycopy(ptrs, 0, args, 3, ptrs.length);
        kernels.launch(k, (cols + 255) / 256, (int) chunks, 1, 256, 0, args);
    }

    // ---- elementwise and reductions -----------------------------------------------------------------------------------

    @Override
    public void axpy(float alpha, Tensor x, Tensor y) {
        enter();
        CHECK.axpy(x, y);
        kernels.launch1d(Kernel.AXPY, x.numel(), x.numel(), alpha, x.data().address(), y.data().address());
    }

    @Override
    public void mul(Tensor a, Tensor b, Tensor out) {
        enter();
        CHECK.mul(a, b, out);
        kernels.launch1d(Kernel.MUL, a.numel(), a.numel(), a.data().address(), b.data().address(), out.data().address());
    }

    @Override
    public void scale(Tensor x, float alpha) {
        enter();
        CHECK.scale(x);
        kernels.launch1d(Kernel.SCALE, x.numel(), x.numel(), x.data().address(), alpha);
    }

    @Override
    public double sum(Tensor x) {
        enter();
        CHECK.sum(x);
        return reduce(x.numel(), x.data().address(), 0L);
    }

    @Override
    public double dot(Tensor a, Tensor b) {
        enter();
        CHECK.dot(a, b);
        return reduce(a.numel(), a.data().address(), b.data().address());
    }

    /** Per-block double partials on the device, added on the host in block order (deterministic). */
    private double reduce(long n, long a, long b) {
        if (n == 0) {
            return 0;
        }
        int blocks = (int) Math.min(REDUCE_BLOCKS, (n + 255) / 256);
        long partial = scratch("reduce", 8L * REDUCE_BLOCKS);
        kernels.launch(Kernel.REDUCE_SUM, blocks, 1, 1, 256, 0, n, a, b, partial);
        try (Arena ar = Arena.ofConfined()) {
            MemorySegment host = ar.allocate(8L * blocks, 8);
            driver.copyDtoHAsync(host, partial, 8L * blocks, stream);
            driver.streamSynchronize(stream);
            double s = 0;
            for (int i = 0; i < blocks; i++) {
                s += host.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
            }
            return s;
        }
    }

    // ---- activations --------------------------------------------------------------------------------------------------

    private void unary(Kernel k, String op, Tensor x, Tensor y) {
        enter();
        CHECK.unary(op, x, y);
        kernels.launch1d(k, x.numel(), x.numel(), x.data().address(), y.data().address());
    }

    private void unaryBackward(Kernel k, String op, Tensor dy, Tensor x, Tensor dx) {
        enter();
        CHECK.unaryBackward(op, dy, x, dx);
        kernels.launch1d(k, x.numel(), x.numel(), dy.data().address(), x.data().address(), dx.data().address());
    }

    @Override
    public void silu(Tensor x, Tensor y) {
        unary(Kernel.SILU_FWD, "silu", x, y);
    }

    @Override
    public void siluBackward(Tensor dy, Tensor x, Tensor dx) {
        unaryBackward(Kernel.SILU_BWD, "siluBackward", dy, x, dx);
    }

    @Override
    public void geluTanh(Tensor x, Tensor y) {
        unary(Kernel.GELU_TANH_FWD, "geluTanh", x, y);
    }

    @Override
    public void geluTanhBackward(Tensor dy, Tensor x, Tensor dx) {
        enter();
        CHECK.geluTanhBackward(dy, x, dx);
        kernels.launch1d(Kernel.GELU_TANH_BWD, x.numel(), x.numel(), dy.data().address(), x.data().address(),
                CudaKernels.dtypeCode(x.dtype()), dx.data().address());
    }

    @Override
    public void softmax(Tensor x, Tensor y) {
        enter();
        CHECK.unary("softmax", x, y);
        kernels.launchRows(Kernel.SOFTMAX_FWD, x.rows(), x.rows(), intDim("softmax", x.cols()), x.data().address(),
                y.data().address());
    }

    @Override
    public void softmaxBackward(Tensor dy, Tensor y, Tensor dx) {
        enter();
        CHECK.softmaxBackward(dy, y, dx);
        kernels.launchRows(Kernel.SOFTMAX_BWD, y.rows(), y.rows(), intDim("softmaxBackward", y.cols()),
                dy.data().address(), y.data().address(), dx.data().address());
    }

    // ---- norms --------------------------------------------------------------------------------------------------------

    @Override
    public void layerNorm(Tensor x, Tensor y, Tensor mean, Tensor rstd, float eps) {
        enter();
        CHECK.layerNorm(x, y, mean, rstd);
        kernels.launchRows(Kernel.LAYERNORM_FWD, x.rows(), x.rows(), intDim("layerNorm", x.cols()), x.data().address(),
                y.data().address(), addressOrNull(mean), addressOrNull(rstd), eps);
    }

    @Override
    public void layerNormBackward(Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor dx) {
        enter();
        String op = "layerNormBackward";
        CHECK.layerNormBackward(dy, x, mean, rstd, dx);
        kernels.launchRows(Kernel.LAYERNORM_BWD, x.rows(), x.rows(), intDim(op, x.cols()), dy.data().address(),
                x.data().address(), mean.data().address(), rstd.data().address(), dx.data().address());
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, Tensor y, Tensor rrms, float eps) {
        enter();
        CHECK.rmsNorm(x, weight, y, rrms);
        kernels.launchRows(Kernel.RMSNORM_FWD, x.rows(), x.rows(), intDim("rmsNorm", x.cols()), x.data().address(),
                weight.data().address(), CudaKernels.dtypeCode(weight.dtype()), y.data().address(),
                addressOrNull(rrms), eps);
    }

    @Override
    public void rmsNormBackward(Tensor dy, Tensor x, Tensor weight, Tensor rrms, Tensor dx, Tensor dWeight) {
        enter();
        String op = "rmsNormBackward";
        CHECK.rmsNormBackward(dy, x, weight, rrms, dx, dWeight);
        int cols = intDim(op, x.cols());
        kernels.launchRows(Kernel.RMSNORM_BWD_DX, x.rows(), x.rows(), cols, dy.data().address(), x.data().address(),
                weight.data().address(), CudaKernels.dtypeCode(weight.dtype()), rrms.data().address(), dx.data().address());
        if (dWeight != null) {
            columnReduce(Kernel.RMSNORM_BWD_DW, x.rows(), cols, dy.data().address(), x.data().address(),
                    rrms.data().address(), dWeight.data().address());
        }
    }

    // ---- adaLN modulation ---------------------------------------------------------------------------------------------

    /** The batch is a grid dimension and k·C an int argument of the modulation kernels. */
    private static BackendContract.Mod launchable(String op, BackendContract.Mod s) {
        BackendContract.require(s.batch() <= MAX_GRID_YZ, op + ": batch " + s.batch() + " exceeds one launch's grid");
        intDim(op, s.modRow());
        return s;
    }

    private static final int TOKENS_PER_CHUNK = 64;

    private static int tokenChunks(BackendContract.Mod s) {
        return (int) ((s.tokens() + TOKENS_PER_CHUNK - 1) / TOKENS_PER_CHUNK);
    }

    @Override
    public void modulate(Tensor x, Tensor mod, int shiftChunk, int scaleChunk, Tensor y) {
        enter();
        BackendContract.Mod s = launchable("modulate", CHECK.modulate(x, mod, shiftChunk, scaleChunk, y));
        kernels.launch1d(Kernel.MODULATE_FWD, x.numel(), (long) s.batch(), s.tokens(), s.channels(), x.data().address(),
                mod.data().address(), (int) s.modRow(), shiftChunk, scaleChunk, y.data().address());
    }

    @Override
    public void modulateBackward(Tensor dy, Tensor x, Tensor mod, int shiftChunk, int scaleChunk, Tensor dx, Tensor dmod) {
        enter();
        String op = "modulateBackward";
        BackendContract.Mod s = launchable(op, CHECK.modulateBackward(dy, x, mod, shiftChunk, scaleChunk, dx, dmod));
        if (s.tokens() == 0) {
            return;
        }
        int c = s.channels();
        kernels.launch(Kernel.MODULATE_BWD, (c + 255) / 256, tokenChunks(s), s.batch(), 256, 0, s.tokens(), c,
                TOKENS_PER_CHUNK, dy.data().address(), x.data().address(), mod.data().address(), (int) s.modRow(),
                shiftChunk, scaleChunk, addressOrNull(dx), addressOrNull(dmod));
    }

    @Override
    public void gateAdd(Tensor x, Tensor f, Tensor mod, int gateChunk) {
        enter();
        BackendContract.Mod s = launchable("gateAdd", CHECK.gateAdd(x, f, mod, gateChunk));
        kernels.launch1d(Kernel.GATE_ADD_FWD, x.numel(), (long) s.batch(), s.tokens(), s.channels(), x.data().address(),
                f.data().address(), mod.data().address(), (int) s.modRow(), gateChunk);
    }

    @Override
    public void gateAddBackward(Tensor dy, Tensor f, Tensor mod, int gateChunk, Tensor df, Tensor dmod) {
        enter();
        String op = "gateAddBackward";
        BackendContract.Mod s = launchable(op, CHECK.gateAddBackward(dy, f, mod, gateChunk, df, dmod));
        if (s.tokens() == 0) {
            return;
        }
        int c = s.channels();
        kernels.launch(Kernel.GATE_ADD_BWD, (c + 255) / 256, tokenChunks(s), s.batch(), 256, 0, s.tokens(), c,
                TOKENS_PER_CHUNK, dy.data().address(), f.data().address(), mod.data().address(), (int) s.modRow(),
                gateChunk, addressOrNull(df), addressOrNull(dmod));
    }

    // ---- rotary embedding -----------------------------------------------------------------------------------------------

    private void rotate(Kernel k, BackendContract.Rope s, Tensor x, Tensor cos, Tensor sin, Tensor y) {
        kernels.launch1d(k, x.numel() / 2, x.rows(), s.length(), s.dim(), x.data().address(), cos.data().address(),
                sin.data().address(), y.data().address());
    }

    @Override
    public void rope(Tensor x, Tensor cos, Tensor sin, Tensor y) {
        enter();
        rotate(Kernel.ROPE_FWD, CHECK.rope(x, cos, sin, y), x, cos, sin, y);
    }

    @Override
    public void ropeBackward(Tensor dy, Tensor cos, Tensor sin, Tensor dx) {
        enter();
        rotate(Kernel.ROPE_BWD, CHECK.ropeBackward(dy, cos, sin, dx), dy, cos, sin, dx);
    }

    // ---- attention ----------------------------------------------------------------------------------------------------

    /** (batch·heads) is a grid dimension of the attention kernels. */
    private static BackendContract.Attn launchable(String op, Tensor q, BackendContract.Attn s) {
        BackendContract.require(s.heads() <= MAX_GRID_YZ, op + ": q " + BackendContract.describe(q)
                + " too large for one launch");
        return s;
    }

    /** The tensor-core kernels need D = 128 and 16-byte aligned rows (float4 loads). */
    private boolean flash(int d, Tensor... ts) {
        if (attentionKernels != AttentionKernels.FLASH_BF16 || d != 128) {
            return false;
        }
        for (Tensor t : ts) {
            if ((t.data().address() & 15) != 0) {
                return false;
            }
        }
        return true;
    }

    private static void refHeadDim(String op, int d) {
        if (d > REF_MAX_HEAD_DIM) {
            throw new IllegalArgumentException(op + ": head dim " + d + " exceeds the reference kernel's "
                    + REF_MAX_HEAD_DIM + " (the tensor-core kernel takes exactly 128)");
        }
    }

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor probs, float scale) {
        enter();
        String op = "attention";
        BackendContract.Attn s = launchable(op, q, CHECK.attention(q, k, v, out, lse, probs));
        int bh = s.heads(), lq = s.lq(), lk = s.lk(), d = s.dim();
        if (bh == 0 || lq == 0) {
            return;
        }
        long lseP = lse != null ? lse.data().address() : probs != null ? scratch("attention-lse", 4L * bh * lq) : 0L;
        boolean tc = flash(d, q, k, v, out);
        if (tc) {
            kernels.launch(Kernel.FLASH_ATTN_FWD, (lq + 63) / 64, bh, 1, 128, 0, lq, lk, q.data().address(),
                    k.data().address(), v.data().address(), out.data().address(), lseP, scale);
        } else {
            refHeadDim(op, d);
            kernels.launchRows(Kernel.ATTN_REF_FWD, (long) bh * lq, (long) bh * lq, lq, lk, d, q.data().address(),
                    k.data().address(), v.data().address(), out.data().address(), lseP, scale);
        }
        if (probs != null) {
            probs(bh, lq, lk, d, q, k, lseP, 0L, lk, probs.data().address(), scale, tc);
        }
    }

    private void probs(int bh, int lq, int lk, int d, Tensor q, Tensor k, long lse, long cols, int ncols, long out,
                       float scale, boolean roundBf16) {
        kernels.launchRows(Kernel.ATTN_PROBS, (long) bh * lq, (long) bh * lq, lq, lk, d, ncols, q.data().address(),
                k.data().address(), lse, cols, out, scale, roundBf16 ? 1 : 0);
    }

    /**
     * out [.., Lq, columns.length] = exp(scale·q·k[col] − lse): the attention probabilities of a few chosen key columns,
     * from the lse that {@link #attention} saved (with the same kernel choice), without an Lq × Lk matrix.
     */
    public void attentionColumnProbabilities(Tensor q, Tensor k, Tensor lse, int[] columns, float scale, Tensor out) {
        enter();
        String op = "attentionColumnProbabilities";
        CHECK.f32(op, "q", q);
        CHECK.f32(op, "k", k);
        CHECK.f32(op, "lse", lse);
        CHECK.f32(op, "out", out);
        BackendContract.Attn s = launchable(op, q, BackendContract.attentionShape(op, q, k, k));
        int bh = s.heads(), lq = s.lq(), lk = s.lk(), d = s.dim();
        BackendContract.numel(op, "lse", lse, (long) bh * lq);
        BackendContract.numel(op, "out", out, (long) bh * lq * columns.length);
        for (int c : columns) {
            BackendContract.require(c >= 0 && c < lk, op + ": key column " + c + " outside [0, " + lk + ")");
        }
        if (bh == 0 || lq == 0 || columns.length == 0) {
            return;
        }
        refHeadDim(op, d);
        long cols = scratch("attention-columns", 4L * columns.length);
        try (Arena a = Arena.ofConfined()) {
            copyFromHost(cols, a.allocateFrom(ValueLayout.JAVA_INT, columns));
        }
        probs(bh, lq, lk, d, q, k, lse.data().address(), cols, columns.length, out.data().address(), scale,
                flash(d, q, k));
    }

    @Override
    public void attentionBackward(Tensor dOut, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dq, Tensor dk,
                                  Tensor dv, float scale) {
        enter();
        String op = "attentionBackward";
        BackendContract.Attn s = launchable(op, q, CHECK.attentionBackward(dOut, q, k, v, out, lse, dq, dk, dv));
        int bh = s.heads(), lq = s.lq(), lk = s.lk(), d = s.dim();
        if (bh == 0 || lq == 0) {
            return;
        }
        long rows = (long) bh * lq;
        if (flash(d, dOut, q, k, v, out, dq, dk, dv)) {
            long delta = scratch("attention-delta", 4L * rows);
            kernels.launchRows(Kernel.ATTN_BWD_DELTA, rows, rows, d, dOut.data().address(), out.data().address(), delta);
            kernels.launch(Kernel.FLASH_ATTN_BWD, (lk + 63) / 64, bh, 1, 128, Kernel.FLASH_BWD_SMEM_BYTES, lq, lk,
                    q.data().address(), k.data().address(), v.data().address(), dOut.data().address(),
                    lse.data().address(), delta, dq.data().address(), dk.data().address(), dv.data().address(), scale);
        } else {
            refHeadDim(op, d);
            kernels.launchRows(Kernel.ATTN_REF_BWD, rows, rows, lq, lk, d, q.data().address(), k.data().address(),
                    v.data().address(), out.data().address(), dOut.data().address(), lse.data().address(),
                    dq.data().address(), dk.data().address(), dv.data().address(), scale);
        }
    }

    // ---- convolution and group norm (the VAE) ---------------------------------------------------------------------------

    /**
     * Elements of one conv column tile (256 MB of f32): bounded at any resolution (all of a 1024² map's 3×3 columns over
     * 512 channels would be 19 GB), and tens of thousands of rows, enough to fill the GPU with each tile's GEMM.
     */
    private static final long CONV_COLUMN_ELEMENTS = 1L << 26;

    @Override
    public void conv2d(Tensor x, Tensor w, Tensor bias, Tensor y, ConvGeometry g, boolean accumulate) {
        conv2d(x, w, bias, y, g, accumulate, CONV_COLUMN_ELEMENTS);
    }

    /**
     * The conv with column tiles of at most {@code columnElements} (tests cut tiles anywhere): im2col of a tile of output
     * pixels into scratch (bf16 for a bf16 weight), its GEMM into y's rows with beta 0, or 1 when accumulating, then the
     * bias over all of y. A 1×1 conv that reads every pixel once is one GEMM on x.
     */
    void conv2d(Tensor x, Tensor w, Tensor bias, Tensor y, ConvGeometry g, boolean accumulate, long columnElements) {
        enter();
        String op = "conv2d";
        BackendContract.Conv c = CHECK.conv2d(x, w, bias, y, g);
        long m = c.outPixels();
        int k = intDim(op, c.taps());
        int cout = c.cout();
        if (m == 0 || cout == 0) {
            return;
        }
        float beta = accumulate ? 1f : 0f;
        long yp = y.data().address();
        if (k == 0) {
            if (!accumulate) {
                fill(y, 0f);
            }
        } else if (c.kh() == 1 && c.kw() == 1 && g.equals(ConvGeometry.POINTWISE)) {
            matmul(GemmPlan.rowMajor(false, true, new BackendContract.Gemm(m, cout, k)), 1f, x.data().address(),
                    x.dtype(), w, beta, yp, CublasLt.Output.F32);
        } else {
            boolean bf16 = w.dtype() == DType.BF16;
            // whole multiples of 16 rows keep every tile of y as aligned as y itself for cuBLASLt
            long tile = Math.min(m, Math.max(1, columnElements / k));
            tile = tile >= 16 ? tile / 16 * 16 : tile;
            long col = scratch("conv-columns", tile * k * (bf16 ? 2 : 4));
            for (long p0 = 0; p0 < m; p0 += tile) {
                long rows = Math.min(tile, m - p0);
                long n = rows * k;
                kernels.launch1d(Kernel.CONV_IM2COL, n, n, p0, k, x.data().address(), c.h(), c.w(), c.cin(), c.oh(),
                        c.ow(), c.kw(), g.stride(), g.padBefore(), g.upsample(), col, bf16 ? 1 : 0);
                matmul(GemmPlan.rowMajor(false, true, new BackendContract.Gemm(rows, cout, k)), 1f, col,
                        bf16 ? DType.BF16 : DType.F32, w, beta, yp + p0 * cout * Float.BYTES, CublasLt.Output.F32);
            }
        }
        if (bias != null) {
            kernels.launch1d(Kernel.ADD_BIAS, m * cout, m, cout, yp, bias.data().address(),
                    CudaKernels.dtypeCode(bias.dtype()));
        }
    }

    @Override
    public void groupNorm(Tensor x, Tensor gamma, Tensor beta, Tensor y, int groups, float eps, boolean swish) {
        enter();
        String op = "groupNorm";
        BackendContract.Groups s = CHECK.groupNorm(x, gamma, beta, y, groups);
        BackendContract.require(s.batch() <= MAX_GRID_YZ, op + ": batch " + s.batch() + " exceeds one launch's grid");
        if (x.numel() == 0) {
            return;
        }
        long stats = scratch("groupnorm-stats", 8L * s.batch() * groups);
        kernels.launch(Kernel.GROUPNORM_STATS, groups, s.batch(), 1, Kernel.GROUPNORM_STATS_THREADS, 0, s.pixels(),
                s.channels(), s.groupSize(), x.data().address(), stats, eps);
        kernels.launch1d(Kernel.GROUPNORM_APPLY, x.numel(), x.numel(), s.pixels() * s.channels(), s.channels(),
                s.groupSize(), x.data().address(), y.data().address(), stats, gamma.data().address(),
                CudaKernels.dtypeCode(gamma.dtype()), beta.data().address(), CudaKernels.dtypeCode(beta.dtype()),
                swish ? 1 : 0);
    }

    // ---- optimizer ----------------------------------------------------------------------------------------------------

    @Override
    public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                      float weightDecay, long step) {
        enter();
        CHECK.adamw(param, grad, m, v, step);
        kernels.launch1d(Kernel.ADAMW, param.numel(), param.numel(), param.data().address(), grad.data().address(),
                m.data().address(), v.data().address(), lr, beta1, beta2, eps, weightDecay,
                (float) (1 - Math.pow(beta1, step)), (float) (1 - Math.pow(beta2, step)));
    }

    @Override
    public void adamwBf16(Tensor param, Tensor grad, Tensor m, Tensor v, float decay, float w1, float beta2, float w2,
                          float bc2Sqrt, float eps, float stepSize) {
        enter();
        CHECK.adamwBf16(param, grad, m, v);
        kernels.launch1d(Kernel.ADAMW_BF16, param.numel(), param.numel(), param.data().address(),
                grad.data().address(), m.data().address(), v.data().address(), decay, w1, beta2, w2, bc2Sqrt, eps,
                stepSize);
    }

    /** One launch for every parameter: a pointer table and the prefix sums of their sizes, copied up first. */
    @Override
    public void adamwAll(List<Tensor> params, List<Tensor> grads, List<Tensor> ms, List<Tensor> vs, float lr, float beta1,
                         float beta2, float eps, float weightDecay, long step) {
        enter();
        CHECK.adamwAll(params, grads, ms, vs, step);
        int n = params.size();
        if (n == 0) {
            return;
        }
        long[] offsets = new long[n + 1];
        long[] ptrs = new long[4 * n];
        for (int i = 0; i < n; i++) {
            Tensor p = params.get(i);
            offsets[i + 1] = offsets[i] + p.numel();
            ptrs[4 * i] = p.data().address();
            ptrs[4 * i + 1] = grads.get(i).data().address();
            ptrs[4 * i + 2] = ms.get(i).data().address();
            ptrs[4 * i + 3] = vs.get(i).data().address();
        }
        long table = scratch("adamw-table", 8L * (offsets.length + ptrs.length));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(8L * (offsets.length + ptrs.length), 8);
            MemorySegment.copy(offsets, 0, host, ValueLayout.JAVA_LONG, 0, offsets.length);
            MemorySegment.copy(ptrs, 0, host, ValueLayout.JAVA_LONG, 8L * offsets.length, ptrs.length);
            copyFromHost(table, host);
        }
        kernels.launch1d(Kernel.ADAMW_MULTI, offsets[n], offsets[n], n, table, table + 8L * offsets.length, lr, beta1,
                beta2, eps, weightDecay, (float) (1 - Math.pow(beta1, step)), (float) (1 - Math.pow(beta2, step)));
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        enter();
        driver.streamSynchronize(stream);
        cublas.close();
        kernels.close();
        for (long p : allocations.keySet()) {
            driver.memFree(p);
        }
        allocations.clear();
        for (long p : scratch.values()) {
            driver.memFree(p);
        }
        scratch.clear();
        driver.streamDestroy(stream);
        driver.primaryContextRelease(device);
        closed = true;
    }
}
