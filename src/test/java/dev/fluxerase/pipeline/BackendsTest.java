package dev.fluxerase.pipeline;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.cpu.NaiveBackend;
import dev.fluxerase.cuda.CudaUnavailableException;
import dev.fluxerase.tensor.Backend;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** --backend: what auto picks and says, with the GPU replaced by a stand-in that is there or is not. */
class BackendsTest {
    private static final Supplier<Backend> NO_GPU = () -> {
        throw new CudaUnavailableException("no CUDA driver: libcuda.so.1 not found");
    };

    @Test
    void autoFallsBackToTheCpuAndSaysWhy() {
        List<String> said = new ArrayList<>();
        assertInstanceOf(CpuBackend.class, Backends.open("auto", said::add, NO_GPU));
        assertEquals(List.of("backend cpu (auto: no CUDA driver: libcuda.so.1 not found)"), said);
    }

    @Test
    void autoTakesAUsableGpu() {
        Backend gpu = new NaiveBackend();
        List<String> said = new ArrayList<>();
        assertSame(gpu, Backends.open("auto", said::add, () -> gpu));
        assertEquals(List.of("backend " + gpu.name() + " (auto: a usable GPU was found)"), said);
    }

    @Test
    void cudaWithoutAGpuIsOneLineAndNamedBackendsSayNothing() {
        PipelineException e = assertThrows(PipelineException.class, () -> Backends.open("cuda", s -> { }, NO_GPU));
        assertEquals("--backend cuda: no CUDA driver: libcuda.so.1 not found (--backend cpu runs on the CPU)",
                e.getMessage());
        List<String> said = new ArrayList<>();
        assertInstanceOf(CpuBackend.class, Backends.open("cpu", said::add, NO_GPU));
        assertInstanceOf(NaiveBackend.class, Backends.open("naive", said::add, NO_GPU));
        assertEquals(List.of(), said);
        assertEquals("--backend gpu: unknown (auto, cuda, cpu, naive)",
                assertThrows(PipelineException.class, () -> Backends.open("gpu", said::add, NO_GPU)).getMessage());
        assertEquals("--backend cuda: demo runs on cpu or naive",
                assertThrows(PipelineException.class, () -> Backends.host("cuda", "demo")).getMessage());
    }
}
