package dev.fluxerase.cpu;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** Random tensors and comparisons shared by the CPU backend tests. */
final class TestTensors {
    private TestTensors() {
    }

    static float[] gaussian(Random rnd, int n, double sd) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rnd.nextGaussian() * sd);
        }
        return a;
    }

    static Tensor randn(Random rnd, double sd, long... shape) {
        return Tensor.of(gaussian(rnd, Math.toIntExact(Tensor.numel(shape)), sd), shape);
    }

    /** values rounded to dtype, in a tensor of that dtype. */
    static Tensor as(DType dtype, Tensor f32) {
        Tensor t = HostMemory.allocate(dtype, f32.shape());
        HostMemory.copy(f32, t);
        return t;
    }

    static Tensor copyOf(Tensor t) {
        return Tensor.of(Floats.toF32(t), t.shape());
    }

    static double maxAbs(float[] a) {
        double m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    /** max |actual − expected| ≤ rel · max(|expected|) (+ a tiny floor for all-zero references), with the worst index. */
    static void assertClose(String what, float[] expected, float[] actual, double rel) {
        assertEquals(expected.length, actual.length, what + ": length");
        double bound = rel * Math.max(maxAbs(expected), 1e-30);
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.length; i++) {
            double e = Math.abs((double) actual[i] - expected[i]);
            if (!(e <= worst) || Double.isNaN(e)) {
                worst = Double.isNaN(e) ? Double.POSITIVE_INFINITY : e;
                at = i;
            }
        }
        if (!(worst <= bound)) {
            fail(what + ": max error " + worst + " at " + at + " (expected " + expected[at] + ", got " + actual[at]
                    + ") exceeds " + bound + " = " + rel + " · max|expected|");
        }
    }

    static void assertClose(String what, Tensor expected, Tensor actual, double rel) {
        assertClose(what, Floats.toF32(expected), Floats.toF32(actual), rel);
    }
}
