package dev.fluxerase.cuda;

import java.lang.foreign.MemorySegment;
import java.util.function.Supplier;

/**
 * FLUX_ERASE_CUDA_SYNC=1 (or -Dflux.erase.cuda.sync=true): wait for the stream after every kernel launch and every
 * cuBLASLt matmul, and name that call (kernel, grid, block, shared memory, arguments; or the GEMM's plan) when the wait
 * fails. Launches are asynchronous, so without it a fault (an illegal address, a misaligned access) surfaces at a later,
 * unrelated call and the sticky error then fails everything after it; with it the first faulting call is the one
 * named. Slow: the GPU queue empties after every call, so it is for tracing a fault (tools/gpu-check.sh runs the tests
 * with it), not for timing.
 */
final class CudaDebug {
    static final String PROPERTY = "flux.erase.cuda.sync";
    private static final boolean ENV = "1".equals(System.getenv("FLUX_ERASE_CUDA_SYNC"));

    private CudaDebug() {
    }

    static boolean syncEachCall() {
        return ENV || Boolean.getBoolean(PROPERTY);
    }

    /** Waits for {@code stream}; a failure is rethrown naming {@code call}, the work just queued. */
    static void waitFor(CudaDriver driver, MemorySegment stream, Supplier<String> call) {
        try {
            driver.streamSynchronize(stream);
        } catch (CudaException e) {
            throw new CudaException("after " + call.get() + ": " + e.getMessage(), e);
        }
    }

    /** A launch's arguments as the kernel sees them: numbers as they are, device pointers in hex. */
    static String arguments(Object[] args) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < args.length; i++) {
            Object v = args[i];
            sb.append(i == 0 ? "" : ", ").append(v instanceof Long p && p > 0xffff_ffffL ? "0x" + Long.toHexString(p)
                    : v instanceof MemorySegment m ? "0x" + Long.toHexString(m.address()) : String.valueOf(v));
        }
        return sb.toString();
    }
}
