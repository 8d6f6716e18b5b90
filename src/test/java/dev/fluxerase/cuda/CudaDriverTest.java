package dev.fluxerase.cuda;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The driver bindings on a real GPU: device queries, memory round trips, memset, streams, events, errors, modules. On
 * the stand-in all of it runs but the kernel's timing.
 */
@ExtendWith(CudaGpu.class)
class CudaDriverTest {
    private static CudaDriver d;
    private static int dev;

    @BeforeAll
    static void setUp() {
        if (CudaGpu.available()) {
            d = CudaGpu.driver();
            dev = d.device(0);
            d.setCurrentContext(d.primaryContextRetain(dev));
        }
    }

    @AfterAll
    static void tearDown() {
        if (d != null) {
            d.primaryContextRelease(dev);
        }
    }

    @Test
    void deviceQueries() {
        assertTrue(d.driverVersion() >= 12000, "driver version " + d.driverVersion());
        assertTrue(d.deviceCount() >= 1);
        assertTrue(!d.deviceName(dev).isBlank());
        assertTrue(d.totalMemory(dev) > (1L << 30));
        assertTrue(d.attribute(dev, CudaDriver.ATTR_COMPUTE_CAPABILITY_MAJOR) >= 8);
        assertTrue(d.attribute(dev, CudaDriver.ATTR_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN) >= Kernel.FLASH_BWD_SMEM_BYTES);
        long[] info = d.memoryInfo();
        assertTrue(info[0] > 0 && info[0] <= info[1]);
    }

    @Test
    void memoryRoundTripsSyncAndAsync() {
        int n = 1 << 16;
        long a = d.memAlloc(4L * n);
        long b = d.memAlloc(4L * n);
        MemorySegment stream = d.streamCreate();
        try (Arena ar = Arena.ofConfined()) {
            float[] src = new float[n];
            for (int i = 0; i < n; i++) {
                src[i] = i * 0.5f - 7;
            }
            MemorySegment h = ar.allocateFrom(ValueLayout.JAVA_FLOAT, src);
            d.copyHtoD(a, h, 4L * n);
            d.copyDtoD(b, a, 4L * n);
            MemorySegment back = ar.allocate(4L * n, 16);
            d.copyDtoH(back, b, 4L * n);
            assertArrayEquals(src, back.toArray(ValueLayout.JAVA_FLOAT));

            d.memsetD32(a, Float.floatToRawIntBits(3.25f), n);
            d.copyDtoDAsync(b, a, 4L * n, stream);
            d.copyDtoHAsync(back, b, 4L * n, stream);
            d.streamSynchronize(stream);
            assertEquals(3.25f, back.getAtIndex(ValueLayout.JAVA_FLOAT, n - 1));

            d.memsetD32Async(a, 0, n, stream);
            d.memsetD8Async(a, (byte) 0x3f, 4, stream);
            d.copyHtoDAsync(b, h, 4L * n, stream);
            d.copyDtoHAsync(back, a, 8, stream);
            d.streamSynchronize(stream);
            assertEquals(0x3f3f3f3f, back.get(ValueLayout.JAVA_INT, 0));
            assertEquals(0, back.get(ValueLayout.JAVA_INT, 4));
        } finally {
            d.streamDestroy(stream);
            d.memFree(a);
            d.memFree(b);
        }
    }

    @Test
    void eventsTimeAKernel() {
        MemorySegment stream = d.streamCreate();
        CudaKernels k = new CudaKernels(d, stream);
        MemorySegment start = d.eventCreate();
        MemorySegment end = d.eventCreate();
        long n = 1 << 24;
        long p = d.memAlloc(4 * n);
        try {
            // The first launch loads the module and may JIT-compile it (seconds): keep that out of the timed launch.
            k.launch1d(Kernel.FILL, n, n, p, 0, 0f);
            d.streamSynchronize(stream);
            d.eventRecord(start, stream);
            k.launch1d(Kernel.FILL, n, n, p, 0, 1.5f);
            d.eventRecord(end, stream);
            d.eventSynchronize(end);
            float ms = d.eventElapsedMillis(start, end);
            CudaGpu.kernelResult("the kernel's time", () -> assertTrue(ms > 0 && ms < 1000, ms + " ms"));
        } finally {
            d.memFree(p);
            d.eventDestroy(start);
            d.eventDestroy(end);
            k.close();
            d.streamDestroy(stream);
        }
    }

    @Test
    void everyModuleLoadsAndEveryKernelResolves() {
        MemorySegment stream = d.streamCreate();
        try (CudaKernels k = new CudaKernels(d, stream)) {
            for (Kernel kernel : Kernel.values()) {
                assertTrue(!k.function(kernel).equals(MemorySegment.NULL), kernel.entry());
            }
        } finally {
            d.streamDestroy(stream);
        }
    }

    @Test
    void errorsNameTheCallAndTheDriverError() {
        CudaException e = assertThrows(CudaException.class, () -> d.memAlloc(1L << 62));
        assertTrue(e.getMessage().startsWith("cuMemAlloc_v2(" + (1L << 62) + " bytes) failed: CUDA_ERROR_OUT_OF_MEMORY"),
                e.getMessage());
        try (Arena a = Arena.ofConfined()) {
            CudaException bad = assertThrows(CudaException.class,
                    () -> d.moduleLoad(a.allocateFrom("not ptx at all"), "garbage"));
            assertTrue(bad.getMessage().startsWith("cuModuleLoadDataEx(garbage) failed: CUDA_ERROR_"), bad.getMessage());
        }
    }
}
