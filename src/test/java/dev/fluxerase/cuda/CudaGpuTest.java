package dev.fluxerase.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** When the GPU tests skip: without the driver, and also with a driver but without cuBLASLt. */
class CudaGpuTest {

    @Test
    void aMissingDriverOrCublasLtIsTheSkipReason(@TempDir Path tmp) throws IOException {
        Path lib = Files.createDirectories(tmp.resolve("lib"));
        CudaLibraries libs = new CudaLibraries(Map.of(CudaLibraries.DIR_ENV, lib.toString()), null, tmp.resolve("home"),
                tmp.resolve("root"));
        assertEquals("no CUDA GPU: no driver here", CudaGpu.unavailableReason(() -> {
            throw new CudaUnavailableException("no driver here");
        }, libs));

        FakeCuda fake = new FakeCuda();
        assertEquals("no cuBLASLt: libcublasLt.so.13 / libcublasLt.so.12 not found (set " + CudaLibraries.DIR_ENV
                + " to a CUDA lib64 folder or the pip nvidia/*/lib folder)", CudaGpu.unavailableReason(fake::driver, libs));
        Files.writeString(lib.resolve("libcublasLt.so.13"), "");
        assertNull(CudaGpu.unavailableReason(fake::driver, libs));
    }
}
