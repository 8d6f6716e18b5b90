package dev.fluxerase.cuda;

import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Compare;
import org.junit.jupiter.api.Assumptions;

import java.util.function.Supplier;

/** GPU test support: a skip with the reason when there is no GPU, bf16 rounding, and a host-reference comparison. */
final class CudaGpu {
    private CudaGpu() {
    }

    /**
     * Null when a GPU is usable, else the reason every GPU test is skipped: no driver or device ("no CUDA GPU: ..."), or
     * no cuBLASLt ("no cuBLASLt: ..."), which every backend needs and whose absence would otherwise fail each test's setup.
     */
    static String unavailableReason() {
        return unavailableReason(CudaDriver::get, CudaLibraries.system());
    }

    static String unavailableReason(Supplier<CudaDriver> driver, CudaLibraries libs) {
        int driverVersion;
        try {
            driverVersion = driver.get().driverVersion();
        } catch (CudaUnavailableException e) {
            return "no CUDA GPU: " + e.getMessage();
        }
        try {
            CublasLt.locate(driverVersion, libs);
            return null;
        } catch (CudaUnavailableException e) {
            return e.getMessage();
        }
    }

    private static volatile boolean reasonPrinted;

    /**
     * Called from each GPU test's @BeforeEach, so every test shows up as skipped with the reason. The reason is also
     * printed once to the build log, since Maven's console lists skipped tests without their reasons.
     */
    static void skipWithoutGpu() {
        String why = unavailableReason();
        if (why != null && !reasonPrinted) {
            reasonPrinted = true;
            System.out.println("GPU tests skipped: " + why);
        }
        Assumptions.assumeTrue(why == null, why);
    }

    static Tensor host(float[] values, long... shape) {
        return Tensor.of(values.clone(), shape);
    }

    /** Each value rounded to bf16 and back: what the tensor-core paths multiply. */
    static float[] roundBf16(float[] a) {
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = Floats.bf16ToF32(Floats.f32ToBf16(a[i]));
        }
        return r;
    }

    static void assertClose(String what, Tensor expectedHost, float[] actual, double rel) {
        Compare.assertClose(what, Floats.toF32(expectedHost), actual, rel);
    }
}
