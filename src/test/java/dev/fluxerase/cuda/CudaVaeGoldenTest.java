package dev.fluxerase.cuda;

import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Compare;
import dev.fluxerase.vae.VaeGoldenChecks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tiny golden VAE on the GPU: VaeGoldenTest's checks ({@link VaeGoldenChecks}) with its bounds, 1e-5 rel_to_max
 * against diffusers' float32 and float64 runs. The goldens' weights are F32 and the VAE keeps them so, every GEMM is
 * cuBLASLt CUBLAS_COMPUTE_32F and the conv and GroupNorm kernels are f32, so only the order of sums differs from the
 * CPU, which measures 1.4e-6. Each check runs twice and also holds the device memory level: a model's parameters are
 * freed when it closes, and a decode or encode frees every map it made. On the stand-in the host side runs with every launch checked,
 * the memory accounting included, and the numbers' checks are skipped (its kernels compute nothing).
 */
@ExtendWith(CudaGpu.class)
class CudaVaeGoldenTest {
    @CudaGpu.Open
    private static CudaBackend gpu;

    private static void assertClose(String what, Tensor ours, double[] ref, double bound) {
        CudaGpu.kernelResult(what, () -> {
            double e = Compare.relToMax(Floats.toF32(ours), ref);
            assertTrue(e <= bound, what + ": rel_to_max " + e + " > " + bound);
        });
    }

    /**
     * Runs a check twice and asserts that the second left the device's allocated bytes where the first did: the
     * backend's scratch, grown on first use, stays, while parameters not freed at close or maps not freed by a decode
     * would add up.
     */
    private static void leavesNothing(Runnable check) {
        check.run();
        long level = gpu.allocatedBytes();
        check.run();
        assertEquals(level, gpu.allocatedBytes(), "device bytes after a second run, its models closed");
    }

    @Test
    void decoderMatchesDiffusers() {
        for (String c : VaeGoldenChecks.CONFIGS) {
            leavesNothing(() -> VaeGoldenChecks.decoder(gpu, c, CudaVaeGoldenTest::assertClose));
        }
    }

    @Test
    void encoderMatchesDiffusers() {
        for (String c : VaeGoldenChecks.CONFIGS) {
            leavesNothing(() -> VaeGoldenChecks.encoder(gpu, c, CudaVaeGoldenTest::assertClose));
        }
    }

    @Test
    void intermediatesMatchDiffusers() {
        leavesNothing(() -> VaeGoldenChecks.intermediates(gpu, CudaVaeGoldenTest::assertClose));
    }
}
