package dev.fluxerase.cuda;

import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Assumptions;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** GPU test support: a skip with the reason when there is no GPU, random data, and relative-to-max comparisons. */
final class CudaGpu {
    private CudaGpu() {
    }

    /** Null when a GPU is usable, else the reason every GPU test is skipped ("no CUDA GPU: ..."). */
    static String unavailableReason() {
        try {
            CudaDriver.get();
            return null;
        } catch (CudaUnavailableException e) {
            return "no CUDA GPU: " + e.getMessage();
        }
    }

    /** Called from each GPU test's @BeforeEach, so every test shows up as skipped with the reason. */
    static void skipWithoutGpu() {
        String why = unavailableReason();
        Assumptions.assumeTrue(why == null, why);
    }

    static float[] gaussian(Random rnd, long n, double sd) {
        float[] a = new float[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (rnd.nextGaussian() * sd);
        }
        return a;
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

    static double maxAbs(float[] a) {
        double m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    /** max |actual − expected| ≤ rel · max|expected| (NaN fails), naming the worst element. */
    static void assertClose(String what, float[] expected, float[] actual, double rel) {
        assertEquals(expected.length, actual.length, what + ": length");
        double bound = rel * Math.max(maxAbs(expected), 1e-30);
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.length; i++) {
            double e = Math.abs((double) actual[i] - expected[i]);
            if (Double.isNaN(e) || e > worst) {
                worst = Double.isNaN(e) ? Double.POSITIVE_INFINITY : e;
                at = i;
            }
        }
        if (!(worst <= bound)) {
            fail(what + ": max error " + worst + " at " + at + " (expected " + expected[at] + ", got " + actual[at]
                    + ") exceeds " + bound + " = " + rel + " · max|expected|");
        }
    }

    static void assertClose(String what, Tensor expectedHost, float[] actual, double rel) {
        assertClose(what, Floats.toF32(expectedHost), actual, rel);
    }
}
