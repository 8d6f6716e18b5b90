package dev.fluxerase.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

class CudaRuntimeInfoTest {

    @Test
    void reportNamesTheDriverStateLibrariesAndKernels() {
        String r = CudaRuntimeInfo.report();
        boolean gpu;
        try {
            CudaDriver.get();
            gpu = true;
        } catch (CudaUnavailableException e) {
            gpu = false;
            assertTrue(r.contains(e.getMessage()), r);
        }
        if (gpu) {
            assertTrue(r.contains("driver: libcuda.so.1 at ") && r.contains("GPU 0: ") && r.contains("compute capability"), r);
        } else {
            assertTrue(r.contains("no CUDA driver") || r.contains("no CUDA GPU"), r);
        }
        assertTrue(r.matches("(?s).*\\n  cuBLASLt: (not found|libcublasLt\\.so\\.1[23] at /.*)\\n.*"), r);
        assertTrue(r.contains("kernels: 10 PTX modules (elementwise, activations, softmax, norms, modulation, rope, copy, "
                + "adamw, attention, conv), PTX ISA 9.0 for sm_80"), r);
        assertTrue(r.contains("library search path:"), r);
    }

    @Test
    void withoutADriverTheReportSaysSo() {
        boolean noDriver;
        try {
            CudaDriver.get();
            noDriver = false;
        } catch (CudaUnavailableException e) {
            noDriver = e.getMessage().startsWith("no CUDA driver");
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(noDriver, "a CUDA driver is installed here");
        assertTrue(CudaRuntimeInfo.report().contains("no CUDA driver: libcuda.so.1 not found"));
    }
}
