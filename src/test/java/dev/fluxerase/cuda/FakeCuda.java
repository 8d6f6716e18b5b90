package dev.fluxerase.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The CUDA driver and cuBLASLt bound to Java stand-ins (FFM upcall stubs), so that the order of the calls a
 * {@link CudaBackend} makes can be checked without a GPU. Every function returns success and is recorded by name; the
 * few whose out-parameters the backend reads write plausible values (one device, compute capability 9.x, distinct
 * device addresses). Device memory is never touched.
 */
final class FakeCuda {
    private static final MethodHandle CALL;

    static {
        try {
            CALL = MethodHandles.lookup().findVirtual(FakeCuda.class, "call",
                    MethodType.methodType(int.class, String.class, Object[].class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The names of the functions called so far, in order. */
    final List<String> calls = new ArrayList<>();
    /** The CUresult a function returns instead of success, by name (a fault to trace). */
    final Map<String, Integer> failing = new HashMap<>();
    private long nextDevicePointer = 0x7f00_0000_0000L;

    CudaDriver driver() {
        return new CudaDriver(lookup(CudaDriver.DECLARATIONS, CudaDriver.TYPES), "fake libcuda");
    }

    CudaBackend backend() {
        return new CudaBackend(driver(), 0, CudaBackend.AttentionKernels.FLASH_BF16,
                d -> new CublasLt(d, lookup(CublasLt.DECLARATIONS, CublasLt.TYPES), "fake libcublasLt"));
    }

    /** Stand-ins for the declarations that return a status; the others stay missing, as on an old library. */
    private SymbolLookup lookup(List<String> declarations, Map<String, MemoryLayout> types) {
        Map<String, MemorySegment> stubs = new HashMap<>();
        for (String d : declarations) {
            NativeFunction.Parsed p = NativeFunction.parse(d, types);
            if (p.descriptor().returnLayout().orElse(null) != ValueLayout.JAVA_INT) {
                continue;
            }
            MethodHandle h = MethodHandles.insertArguments(CALL.bindTo(this), 0, p.name())
                    .asCollector(Object[].class, p.argTypes().size())
                    .asType(p.descriptor().toMethodType());
            stubs.put(p.name(), Linker.nativeLinker().upcallStub(h, p.descriptor(), Arena.global()));
        }
        return name -> Optional.ofNullable(stubs.get(name));
    }

    private int call(String name, Object[] args) {
        calls.add(name);
        if (failing.containsKey(name)) {
            return failing.get(name);
        }
        switch (name) {
            case "cuDeviceGetCount" -> out(args[0]).set(ValueLayout.JAVA_INT, 0, 1);
            case "cuDeviceGetAttribute" -> out(args[0]).set(ValueLayout.JAVA_INT, 0, 9);
            case "cuDriverGetVersion" -> out(args[0]).set(ValueLayout.JAVA_INT, 0, 13000);
            case "cuMemAlloc_v2" -> {
                out(args[0]).set(ValueLayout.JAVA_LONG, 0, nextDevicePointer);
                nextDevicePointer += ((long) args[1] + 255) / 256 * 256 + 256;
            }
            case "cuStreamCreate" -> out(args[0]).set(ValueLayout.ADDRESS, 0, MemorySegment.ofAddress(0x5000));
            default -> {
            }
        }
        return 0;
    }

    private static MemorySegment out(Object pointer) {
        return ((MemorySegment) pointer).reinterpret(8);
    }
}
