package dev.fluxerase.cuda;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.BadArguments;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The CUDA backend refuses every bad call of BadArguments with the line the host backends give (BackendContractTest),
 * before any launch, so this runs whole on the stand-in; and a host tensor by naming both devices.
 */
@ExtendWith(CudaGpu.class)
class CudaContractTest {
    @CudaGpu.Open
    private static CudaBackend gpu;

    @Test
    void refusesEveryBadCallWithTheContractsLine() {
        long launches = CudaGpu.standIn() ? CudaStandIn.launchCount(CudaGpu.driver()) : 0;
        BadArguments.assertRefused(gpu);
        if (CudaGpu.standIn()) {
            assertEquals(launches, CudaStandIn.launchCount(CudaGpu.driver()), "launches for refused calls");
        }
    }

    @Test
    void aHostTensorIsNamedWithBothDevices() {
        Tensor host = Tensor.zeros(2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> gpu.silu(host, gpu.allocate(DType.F32, 2)));
        assertEquals("silu: x must be on CUDA, got [2] F32 on CPU", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> gpu.free(host));
        assertEquals("free: tensor must be on CUDA, got [2] F32 on CPU", e.getMessage());
    }
}
