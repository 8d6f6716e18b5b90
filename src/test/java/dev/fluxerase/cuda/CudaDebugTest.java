package dev.fluxerase.cuda;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * FLUX_ERASE_CUDA_SYNC: every launch and matmul waited for, and a fault named by the call that queued it. Runs on the
 * fake driver, whose stream wait can be made to fail as a faulting kernel makes it fail (CUDA_ERROR_ILLEGAL_ADDRESS).
 */
class CudaDebugTest {
    private static final int ILLEGAL_ADDRESS = 700;

    @AfterEach
    void off() {
        System.clearProperty(CudaDebug.PROPERTY);
    }

    /** A BF16 fill is a kernel launch (F32 fills are a driver memset). */
    private static void fill(CudaBackend be) {
        Tensor t = be.allocate(DType.BF16, 300);
        be.fill(t, 1f);
    }

    @Test
    void withoutTheSwitchALaunchIsNotWaitedFor() {
        FakeCuda fake = new FakeCuda();
        try (CudaBackend be = fake.backend()) {
            fake.calls.clear();
            fill(be);
            List<String> calls = List.copyOf(fake.calls);
            int launch = calls.indexOf("cuLaunchKernel");
            assertTrue(launch >= 0, calls.toString());
            assertTrue(launch + 1 == calls.size() || !calls.get(launch + 1).equals("cuStreamSynchronize"), calls.toString());
        }
    }

    @Test
    void withItEachLaunchIsWaitedForAndAFaultNamesTheKernel() {
        System.setProperty(CudaDebug.PROPERTY, "true");
        FakeCuda fake = new FakeCuda();
        try (CudaBackend be = fake.backend()) {
            fake.calls.clear();
            fill(be);
            List<String> calls = List.copyOf(fake.calls);
            assertEquals("cuStreamSynchronize", calls.get(calls.indexOf("cuLaunchKernel") + 1), calls.toString());
            Tensor t = be.allocate(DType.BF16, 300);
            fake.failing.put("cuStreamSynchronize", ILLEGAL_ADDRESS);
            CudaException e = assertThrows(CudaException.class, () -> be.fill(t, 1f));
            assertTrue(e.getMessage().startsWith("after " + Kernel.FILL.entry() + "<<<(2, 1, 1), (256, 1, 1), 0 B "
                    + "shared>>>(300, 0x"), e.getMessage());
            assertTrue(e.getMessage().contains(", 1, 1.0): cuStreamSynchronize failed"), e.getMessage());
            // the fault is traced; the backend's own close waits for the stream too
            fake.failing.clear();
        }
    }
}
