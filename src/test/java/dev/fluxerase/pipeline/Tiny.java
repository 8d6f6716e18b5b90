package dev.fluxerase.pipeline;

import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Resources;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pipeline-tiny golden as the tests use it (copied by tools/pipeline-golden-copy.py). */
final class Tiny {
    static final Path DIR = Resources.path("pipeline-tiny");
    static final Path MODEL = DIR.resolve("model");
    static final Path LORA = DIR.resolve("lora_visible.safetensors");

    private Tiny() {
    }

    static Path inputs(String testCase) {
        return DIR.resolve("cases").resolve(testCase).resolve("inputs.safetensors");
    }

    /** A float reference tensor ("f32.name" or "f64.name") of a case, as f32 values. */
    static float[] ref(String testCase, String name) {
        try (TensorSource s = Safetensors.open(DIR.resolve("cases").resolve(testCase).resolve("reference.safetensors"))) {
            return Floats.toF32(s.tensor(name));
        }
    }

    static long[] shape(String testCase, String name) {
        try (TensorSource s = Safetensors.open(DIR.resolve("cases").resolve(testCase).resolve("reference.safetensors"))) {
            return s.info(name).shape();
        }
    }

    /** An I64 reference tensor as ints. */
    static int[] ids(String testCase, String name) {
        try (TensorSource s = Safetensors.open(DIR.resolve("cases").resolve(testCase).resolve("reference.safetensors"))) {
            Tensor t = s.tensor(name);
            assertTrue(t.dtype() == DType.I64, name + " is " + t.dtype());
            int[] out = new int[(int) t.numel()];
            for (int i = 0; i < out.length; i++) {
                out[i] = Math.toIntExact(t.data().getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i));
            }
            return out;
        }
    }

    /** The case's initial packed latents [1, L, 64]. */
    static float[] initialLatents(String testCase) {
        try (TensorSource s = Safetensors.open(inputs(testCase))) {
            return Floats.toF32(s.tensor("latents"));
        }
    }

    /** Rows [from, from + count) of a flat array holding equally sized slices. */
    static float[] slice(float[] all, int index, int count) {
        int n = all.length / count;
        return Arrays.copyOfRange(all, index * n, (index + 1) * n);
    }

    static void assertIdsEqual(int[] expected, int[] actual, String what) {
        assertArrayEquals(expected, actual, what);
    }
}
