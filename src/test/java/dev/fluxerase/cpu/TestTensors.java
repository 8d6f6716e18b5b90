package dev.fluxerase.cpu;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Compare;
import dev.fluxerase.testing.RandomData;

import java.util.Random;

/** Random tensors and tensor comparisons shared by the CPU backend tests. */
final class TestTensors {
    private TestTensors() {
    }

    static Tensor randn(Random rnd, double sd, long... shape) {
        return Tensor.of(RandomData.gaussian(rnd, Tensor.numel(shape), sd), shape);
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

    static void assertClose(String what, Tensor expected, Tensor actual, double rel) {
        Compare.assertClose(what, Floats.toF32(expected), Floats.toF32(actual), rel);
    }
}
