package dev.fluxerase.cuda;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The CUDA driver API ({@code libcuda.so.1}) through FFM. Only {@code _v2} entry points where cuda.h maps a name to one,
 * and the primary context (CUDA 13 changed {@code cuCtxCreate}). Every {@code CUresult} other than CUDA_SUCCESS becomes a
 * {@link CudaException} that names the call and the driver's error name.
 */
public final class CudaDriver {
    /** The C declarations we bind, exactly as cuda.h declares them (CudaDriverDeclarationsTest compiles them). */
    static final List<String> DECLARATIONS = List.of(
            "CUresult cuInit(unsigned int)",
            "CUresult cuDriverGetVersion(int*)",
            "CUresult cuGetErrorName(CUresult, const char**)",
            "CUresult cuGetErrorString(CUresult, const char**)",
            "CUresult cuDeviceGetCount(int*)",
            "CUresult cuDeviceGet(CUdevice*, int)",
            "CUresult cuDeviceGetName(char*, int, CUdevice)",
            "CUresult cuDeviceTotalMem_v2(size_t*, CUdevice)",
            "CUresult cuDeviceGetAttribute(int*, CUdevice_attribute, CUdevice)",
            "CUresult cuDevicePrimaryCtxRetain(CUcontext*, CUdevice)",
            "CUresult cuDevicePrimaryCtxRelease_v2(CUdevice)",
            "CUresult cuCtxSetCurrent(CUcontext)",
            "CUresult cuCtxSynchronize(void)",
            "CUresult cuMemGetInfo_v2(size_t*, size_t*)",
            "CUresult cuMemAlloc_v2(CUdeviceptr*, size_t)",
            "CUresult cuMemFree_v2(CUdeviceptr)",
            "CUresult cuMemcpyHtoD_v2(CUdeviceptr, const void*, size_t)",
            "CUresult cuMemcpyDtoH_v2(void*, CUdeviceptr, size_t)",
            "CUresult cuMemcpyDtoD_v2(CUdeviceptr, CUdeviceptr, size_t)",
            "CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr, const void*, size_t, CUstream)",
            "CUresult cuMemcpyDtoHAsync_v2(void*, CUdeviceptr, size_t, CUstream)",
            "CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr, CUdeviceptr, size_t, CUstream)",
            "CUresult cuMemsetD32_v2(CUdeviceptr, unsigned int, size_t)",
            "CUresult cuMemsetD32Async(CUdeviceptr, unsigned int, size_t, CUstream)",
            "CUresult cuMemsetD8Async(CUdeviceptr, unsigned char, size_t, CUstream)",
            "CUresult cuStreamCreate(CUstream*, unsigned int)",
            "CUresult cuStreamDestroy_v2(CUstream)",
            "CUresult cuStreamSynchronize(CUstream)",
            "CUresult cuEventCreate(CUevent*, unsigned int)",
            "CUresult cuEventRecord(CUevent, CUstream)",
            "CUresult cuEventSynchronize(CUevent)",
            "CUresult cuEventElapsedTime_v2(float*, CUevent, CUevent)",
            "CUresult cuEventDestroy_v2(CUevent)",
            "CUresult cuModuleLoadDataEx(CUmodule*, const void*, unsigned int, CUjit_option*, void**)",
            "CUresult cuModuleUnload(CUmodule)",
            "CUresult cuModuleGetFunction(CUfunction*, CUmodule, const char*)",
            "CUresult cuFuncSetAttribute(CUfunction, CUfunction_attribute, int)",
            "CUresult cuLaunchKernel(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int, unsigned int, "
                    + "unsigned int, unsigned int, CUstream, void**, void**)");

    /** cuda.h typedefs: enums and device handles are ints, CUdeviceptr is 64-bit, the opaque handles are pointers. */
    static final Map<String, MemoryLayout> TYPES = Map.ofEntries(
            Map.entry("CUresult", ValueLayout.JAVA_INT),
            Map.entry("CUdevice", ValueLayout.JAVA_INT),
            Map.entry("CUdevice_attribute", ValueLayout.JAVA_INT),
            Map.entry("CUfunction_attribute", ValueLayout.JAVA_INT),
            Map.entry("unsigned char", ValueLayout.JAVA_BYTE),
            Map.entry("CUdeviceptr", ValueLayout.JAVA_LONG),
            Map.entry("CUcontext", ValueLayout.ADDRESS),
            Map.entry("CUstream", ValueLayout.ADDRESS),
            Map.entry("CUevent", ValueLayout.ADDRESS),
            Map.entry("CUmodule", ValueLayout.ADDRESS),
            Map.entry("CUfunction", ValueLayout.ADDRESS));

    public static final int ATTR_MULTIPROCESSOR_COUNT = 16;
    public static final int ATTR_COMPUTE_CAPABILITY_MAJOR = 75;
    public static final int ATTR_COMPUTE_CAPABILITY_MINOR = 76;
    public static final int ATTR_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
    public static final int FUNC_ATTR_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
    static final int CUDA_ERROR_NO_DEVICE = 100;
    /** What a driver older than the PTX's toolkit answers at module load (the driver API has no "insufficient driver"). */
    static final int CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222;
    static final int CU_JIT_ERROR_LOG_BUFFER = 5;
    static final int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
    private static final int JIT_LOG_BYTES = 16 * 1024;

    private static Object loaded;

    private final String libraryPath;
    private final Map<String, NativeFunction> fns = new LinkedHashMap<>();

    /** Binds every declaration in {@code lookup} (the real libcuda.so.1, or Java stand-ins in tests). */
    CudaDriver(SymbolLookup lookup, String libraryPath) {
        this.libraryPath = libraryPath;
        for (String d : DECLARATIONS) {
            NativeFunction f = NativeFunction.bind(lookup, "libcuda.so.1 (" + libraryPath + ")", d, TYPES);
            fns.put(f.name(), f);
        }
    }

    /**
     * The driver, loaded and initialized once per process; throws {@link CudaUnavailableException} (the same one on
     * every call) when there is no driver library or no device.
     */
    public static synchronized CudaDriver get() {
        if (loaded == null) {
            try {
                loaded = load(CudaLibraries.system());
            } catch (CudaUnavailableException e) {
                loaded = e;
            }
        }
        if (loaded instanceof CudaUnavailableException e) {
            throw e;
        }
        return (CudaDriver) loaded;
    }

    /** The driver that {@code libs} finds, initialized (tests load the stand-in driver this way, beside {@link #get}). */
    static CudaDriver load(CudaLibraries libs) {
        Optional<Path> file = libs.driverFallbacks().stream().filter(Files::isRegularFile).findFirst();
        SymbolLookup lookup;
        String where;
        try {
            if (file.isPresent()) {
                lookup = SymbolLookup.libraryLookup(file.get(), Arena.global());
                where = file.get().toString();
            } else {
                lookup = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
                where = loadedPath("libcuda.so").orElse("libcuda.so.1 from the system loader");
            }
        } catch (IllegalArgumentException e) {
            throw new CudaUnavailableException("no CUDA driver: libcuda.so.1 not found (install the NVIDIA driver, or set "
                    + CudaLibraries.DIR_ENV + " to the folder that holds it)");
        }
        CudaDriver d = new CudaDriver(lookup, where);
        int r = d.rawInit();
        if (r == CUDA_ERROR_NO_DEVICE) {
            throw new CudaUnavailableException("no CUDA GPU: the driver at " + where + " sees no device (CUDA_ERROR_NO_DEVICE)");
        }
        if (r != 0) {
            throw new CudaUnavailableException("no CUDA GPU: cuInit failed with " + d.errorName(r) + " (" + d.errorString(r)
                    + ") using " + where);
        }
        return d;
    }

    /** The file a loaded library came from, read from /proc/self/maps (empty when unknown). */
    static Optional<String> loadedPath(String namePart) {
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.map(l -> l.substring(l.lastIndexOf(' ') + 1))
                    .filter(p -> p.startsWith("/") && p.contains("/" + namePart))
                    .findFirst();
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    public String libraryPath() {
        return libraryPath;
    }

    private NativeFunction fn(String name) {
        return fns.get(name);
    }

    private int rawInit() {
        try {
            return (int) fn("cuInit").handle().invokeExact(0);
        } catch (Throwable t) {
            throw rethrow("cuInit", t);
        }
    }

    void check(int result, String call) {
        if (result == 0) {
            return;
        }
        String hint = result == CUDA_ERROR_UNSUPPORTED_PTX_VERSION
                ? "; the kernels are PTX from CUDA 13.0 and need an NVIDIA driver for CUDA 13 (r580 or newer)" : "";
        throw new CudaException(call + " failed: " + errorName(result) + " (" + errorString(result) + ")" + hint);
    }

    static CudaException rethrow(String call, Throwable t) {
        if (t instanceof CudaException c) {
            return c;
        }
        return new CudaException(call + " could not be called: " + t, t);
    }

    public String errorName(int result) {
        return errorText("cuGetErrorName", result);
    }

    public String errorString(int result) {
        return errorText("cuGetErrorString", result);
    }

    private String errorText(String fnName, int result) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            int r = (int) fn(fnName).handle().invokeExact(result, out);
            String s = r == 0 ? NativeFunction.cString(out.get(ValueLayout.ADDRESS, 0)) : null;
            return s == null ? "CUresult " + result : s;
        } catch (Throwable t) {
            return "CUresult " + result;
        }
    }

    // ---- device and context -------------------------------------------------------------------------------------------

    public int driverVersion() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_INT);
            check((int) fn("cuDriverGetVersion").handle().invokeExact(out), "cuDriverGetVersion");
            return out.get(ValueLayout.JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow("cuDriverGetVersion", t);
        }
    }

    public int deviceCount() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_INT);
            check((int) fn("cuDeviceGetCount").handle().invokeExact(out), "cuDeviceGetCount");
            return out.get(ValueLayout.JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow("cuDeviceGetCount", t);
        }
    }

    public int device(int ordinal) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_INT);
            check((int) fn("cuDeviceGet").handle().invokeExact(out, ordinal), "cuDeviceGet(" + ordinal + ")");
            return out.get(ValueLayout.JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow("cuDeviceGet", t);
        }
    }

    public String deviceName(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(256);
            check((int) fn("cuDeviceGetName").handle().invokeExact(out, 256, device), "cuDeviceGetName");
            return out.getString(0, StandardCharsets.UTF_8);
        } catch (Throwable t) {
            throw rethrow("cuDeviceGetName", t);
        }
    }

    public long totalMemory(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_LONG);
            check((int) fn("cuDeviceTotalMem_v2").handle().invokeExact(out, device), "cuDeviceTotalMem_v2");
            return out.get(ValueLayout.JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow("cuDeviceTotalMem_v2", t);
        }
    }

    public int attribute(int device, int attribute) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_INT);
            check((int) fn("cuDeviceGetAttribute").handle().invokeExact(out, attribute, device),
                    "cuDeviceGetAttribute(" + attribute + ")");
            return out.get(ValueLayout.JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow("cuDeviceGetAttribute", t);
        }
    }

    public MemorySegment primaryContextRetain(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            check((int) fn("cuDevicePrimaryCtxRetain").handle().invokeExact(out, device), "cuDevicePrimaryCtxRetain");
            return out.get(ValueLayout.ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow("cuDevicePrimaryCtxRetain", t);
        }
    }

    public void primaryContextRelease(int device) {
        try {
            check((int) fn("cuDevicePrimaryCtxRelease_v2").handle().invokeExact(device), "cuDevicePrimaryCtxRelease_v2");
        } catch (Throwable t) {
            throw rethrow("cuDevicePrimaryCtxRelease_v2", t);
        }
    }

    public void setCurrentContext(MemorySegment ctx) {
        try {
            check((int) fn("cuCtxSetCurrent").handle().invokeExact(ctx), "cuCtxSetCurrent");
        } catch (Throwable t) {
            throw rethrow("cuCtxSetCurrent", t);
        }
    }

    public void contextSynchronize() {
        try {
            check((int) fn("cuCtxSynchronize").handle().invokeExact(), "cuCtxSynchronize");
        } catch (Throwable t) {
            throw rethrow("cuCtxSynchronize", t);
        }
    }

    /** {free, total} bytes of device memory in the current context. */
    public long[] memoryInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment free = a.allocate(ValueLayout.JAVA_LONG);
            MemorySegment total = a.allocate(ValueLayout.JAVA_LONG);
            check((int) fn("cuMemGetInfo_v2").handle().invokeExact(free, total), "cuMemGetInfo_v2");
            return new long[]{free.get(ValueLayout.JAVA_LONG, 0), total.get(ValueLayout.JAVA_LONG, 0)};
        } catch (Throwable t) {
            throw rethrow("cuMemGetInfo_v2", t);
        }
    }

    // ---- memory -------------------------------------------------------------------------------------------------------

    public long memAlloc(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_LONG);
            check((int) fn("cuMemAlloc_v2").handle().invokeExact(out, bytes), "cuMemAlloc_v2(" + bytes + " bytes)");
            return out.get(ValueLayout.JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow("cuMemAlloc_v2", t);
        }
    }

    public void memFree(long ptr) {
        try {
            check((int) fn("cuMemFree_v2").handle().invokeExact(ptr), "cuMemFree_v2");
        } catch (Throwable t) {
            throw rethrow("cuMemFree_v2", t);
        }
    }

    public void copyHtoD(long dst, MemorySegment src, long bytes) {
        try {
            check((int) fn("cuMemcpyHtoD_v2").handle().invokeExact(dst, src, bytes), "cuMemcpyHtoD_v2");
        } catch (Throwable t) {
            throw rethrow("cuMemcpyHtoD_v2", t);
        }
    }

    public void copyDtoH(MemorySegment dst, long src, long bytes) {
        try {
            check((int) fn("cuMemcpyDtoH_v2").handle().invokeExact(dst, src, bytes), "cuMemcpyDtoH_v2");
        } catch (Throwable t) {
            throw rethrow("cuMemcpyDtoH_v2", t);
        }
    }

    public void copyDtoD(long dst, long src, long bytes) {
        try {
            check((int) fn("cuMemcpyDtoD_v2").handle().invokeExact(dst, src, bytes), "cuMemcpyDtoD_v2");
        } catch (Throwable t) {
            throw rethrow("cuMemcpyDtoD_v2", t);
        }
    }

    /** From pageable {@code src} this may return before the driver has read it: synchronize the stream before freeing it. */
    public void copyHtoDAsync(long dst, MemorySegment src, long bytes, MemorySegment stream) {
        try {
            check((int) fn("cuMemcpyHtoDAsync_v2").handle().invokeExact(dst, src, bytes, stream), "cuMemcpyHtoDAsync_v2");
        } catch (Throwable t) {
            throw rethrow("cuMemcpyHtoDAsync_v2", t);
        }
    }

    public void copyDtoHAsync(MemorySegment dst, long src, long bytes, MemorySegment stream) {
        try {
            check((int) fn("cuMemcpyDtoHAsync_v2").handle().invokeExact(dst, src, bytes, stream), "cuMemcpyDtoHAsync_v2");
        } catch (Throwable t) {
            throw rethrow("cuMemcpyDtoHAsync_v2", t);
        }
    }

    public void copyDtoDAsync(long dst, long src, long bytes, MemorySegment stream) {
        try {
            check((int) fn("cuMemcpyDtoDAsync_v2").handle().invokeExact(dst, src, bytes, stream), "cuMemcpyDtoDAsync_v2");
        } catch (Throwable t) {
            throw rethrow("cuMemcpyDtoDAsync_v2", t);
        }
    }

    public void memsetD32(long dst, int value, long count) {
        try {
            check((int) fn("cuMemsetD32_v2").handle().invokeExact(dst, value, count), "cuMemsetD32_v2");
        } catch (Throwable t) {
            throw rethrow("cuMemsetD32_v2", t);
        }
    }

    public void memsetD32Async(long dst, int value, long count, MemorySegment stream) {
        try {
            check((int) fn("cuMemsetD32Async").handle().invokeExact(dst, value, count, stream), "cuMemsetD32Async");
        } catch (Throwable t) {
            throw rethrow("cuMemsetD32Async", t);
        }
    }

    public void memsetD8Async(long dst, byte value, long count, MemorySegment stream) {
        try {
            check((int) fn("cuMemsetD8Async").handle().invokeExact(dst, value, count, stream), "cuMemsetD8Async");
        } catch (Throwable t) {
            throw rethrow("cuMemsetD8Async", t);
        }
    }

    // ---- streams and events -------------------------------------------------------------------------------------------

    public MemorySegment streamCreate() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            check((int) fn("cuStreamCreate").handle().invokeExact(out, 0), "cuStreamCreate");
            return out.get(ValueLayout.ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow("cuStreamCreate", t);
        }
    }

    public void streamDestroy(MemorySegment stream) {
        try {
            check((int) fn("cuStreamDestroy_v2").handle().invokeExact(stream), "cuStreamDestroy_v2");
        } catch (Throwable t) {
            throw rethrow("cuStreamDestroy_v2", t);
        }
    }

    public void streamSynchronize(MemorySegment stream) {
        try {
            check((int) fn("cuStreamSynchronize").handle().invokeExact(stream), "cuStreamSynchronize");
        } catch (Throwable t) {
            throw rethrow("cuStreamSynchronize", t);
        }
    }

    public MemorySegment eventCreate() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            check((int) fn("cuEventCreate").handle().invokeExact(out, 0), "cuEventCreate");
            return out.get(ValueLayout.ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow("cuEventCreate", t);
        }
    }

    public void eventRecord(MemorySegment event, MemorySegment stream) {
        try {
            check((int) fn("cuEventRecord").handle().invokeExact(event, stream), "cuEventRecord");
        } catch (Throwable t) {
            throw rethrow("cuEventRecord", t);
        }
    }

    public void eventSynchronize(MemorySegment event) {
        try {
            check((int) fn("cuEventSynchronize").handle().invokeExact(event), "cuEventSynchronize");
        } catch (Throwable t) {
            throw rethrow("cuEventSynchronize", t);
        }
    }

    /** Milliseconds between two recorded events (both complete). */
    public float eventElapsedMillis(MemorySegment start, MemorySegment end) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_FLOAT);
            check((int) fn("cuEventElapsedTime_v2").handle().invokeExact(out, start, end), "cuEventElapsedTime_v2");
            return out.get(ValueLayout.JAVA_FLOAT, 0);
        } catch (Throwable t) {
            throw rethrow("cuEventElapsedTime_v2", t);
        }
    }

    public void eventDestroy(MemorySegment event) {
        try {
            check((int) fn("cuEventDestroy_v2").handle().invokeExact(event), "cuEventDestroy_v2");
        } catch (Throwable t) {
            throw rethrow("cuEventDestroy_v2", t);
        }
    }

    // ---- modules and launches -----------------------------------------------------------------------------------------

    /** Loads a PTX (NUL-terminated) or cubin image; a JIT failure's log is part of the exception message. */
    public MemorySegment moduleLoad(MemorySegment image, String what) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            MemorySegment log = a.allocate(JIT_LOG_BYTES);
            MemorySegment options = a.allocate(ValueLayout.JAVA_INT, 2);
            options.setAtIndex(ValueLayout.JAVA_INT, 0, CU_JIT_ERROR_LOG_BUFFER);
            options.setAtIndex(ValueLayout.JAVA_INT, 1, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES);
            MemorySegment values = a.allocate(ValueLayout.ADDRESS, 2);
            values.setAtIndex(ValueLayout.ADDRESS, 0, log);
            values.setAtIndex(ValueLayout.ADDRESS, 1, MemorySegment.ofAddress(JIT_LOG_BYTES));
            int r = (int) fn("cuModuleLoadDataEx").handle().invokeExact(out, image, 2, options, values);
            if (r != 0) {
                String jitLog = log.getString(0).strip();
                try {
                    check(r, "cuModuleLoadDataEx(" + what + ")");
                } catch (CudaException e) {
                    throw new CudaException(e.getMessage() + (jitLog.isEmpty() ? "" : "; JIT log: " + jitLog));
                }
            }
            return out.get(ValueLayout.ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow("cuModuleLoadDataEx", t);
        }
    }

    public void moduleUnload(MemorySegment module) {
        try {
            check((int) fn("cuModuleUnload").handle().invokeExact(module), "cuModuleUnload");
        } catch (Throwable t) {
            throw rethrow("cuModuleUnload", t);
        }
    }

    public MemorySegment moduleFunction(MemorySegment module, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            check((int) fn("cuModuleGetFunction").handle().invokeExact(out, module, a.allocateFrom(name)),
                    "cuModuleGetFunction(" + name + ")");
            return out.get(ValueLayout.ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow("cuModuleGetFunction", t);
        }
    }

    public void functionSetAttribute(MemorySegment function, int attribute, int value) {
        try {
            check((int) fn("cuFuncSetAttribute").handle().invokeExact(function, attribute, value), "cuFuncSetAttribute");
        } catch (Throwable t) {
            throw rethrow("cuFuncSetAttribute", t);
        }
    }

    /** {@code params} is the void*[] of pointers to each argument value. */
    public void launch(MemorySegment function, String name, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes,
                       MemorySegment stream, MemorySegment params) {
        try {
            check((int) fn("cuLaunchKernel").handle().invokeExact(function, gx, gy, gz, bx, by, bz, sharedBytes, stream,
                    params, MemorySegment.NULL), "cuLaunchKernel(" + name + ")");
        } catch (Throwable t) {
            throw rethrow("cuLaunchKernel(" + name + ")", t);
        }
    }
}
