package dev.fluxerase.cpu;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.ErrorBounds;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static dev.fluxerase.testing.ErrorBounds.U_F32;
import static dev.fluxerase.testing.RandomData.gaussian;

/**
 * The error bounds the GPU tests hold the CUDA backend to (testing.ErrorBounds, AttentionBounds), held here by the CPU
 * backend against NaiveBackend on the same kinds of data and the same sizes, with the CPU's arithmetic in place of the
 * GPU's. The CPU backend is the reference the CUDA backend is built after and computes in f32 as its kernels do (fma,
 * blocked and reordered sums), and this runs in every build: a derivation that a correct f32 implementation can break
 * shows up here before a GPU run. No safety factor: Java's float arithmetic is the IEEE arithmetic the bounds assume.
 */
class CpuErrorBoundsTest {
    private final NaiveBackend ref = new NaiveBackend();
    private final CpuBackend cpu = new CpuBackend();
    private final Random rnd = new Random(20250611);

    @Test
    void gemmEveryTransposeWithinTheF32Bound() {
        long m = 67, n = 45, k = 130;
        for (boolean ta : new boolean[]{false, true}) {
            for (boolean tb : new boolean[]{false, true}) {
                Tensor a = Tensor.of(gaussian(rnd, m * k, 1), ta ? new long[]{k, m} : new long[]{m, k});
                Tensor b = Tensor.of(gaussian(rnd, k * n, 1), tb ? new long[]{n, k} : new long[]{k, n});
                float[] c = gaussian(rnd, m * n, 1);
                Tensor expected = Tensor.of(c.clone(), m, n), actual = Tensor.of(c.clone(), m, n);
                ref.gemm(ta, tb, 0.75f, a, b, 0.5f, expected);
                cpu.gemm(ta, tb, 0.75f, a, b, 0.5f, actual);
                ErrorBounds.check("cpu gemm f32 ta=" + ta + " tb=" + tb, Floats.toF32(expected), Floats.toF32(actual),
                        ErrorBounds.gemm(U_F32, k, ErrorBounds.gemmMagnitude(ta, tb, 0.75f, a, b, 0.5f, c, m, n)));
            }
        }
    }

    /** The CPU widens a bf16 weight and multiplies the f32 activations as they are: a k = 3072 sum of f32 products. */
    @Test
    void linearWithBf16WeightAtK3072WithinTheF32Bound() {
        long m = 100, n = 96, k = 3072;
        Tensor a = Tensor.of(gaussian(rnd, m * k, 1), m, k);
        Tensor w = TestTensors.as(DType.BF16, Tensor.of(gaussian(rnd, n * k, 0.02), n, k));
        float[] zero = new float[(int) (m * n)];
        Tensor expected = Tensor.of(zero.clone(), m, n), actual = Tensor.of(zero.clone(), m, n);
        ref.gemm(false, true, 1, a, w, 0, expected);
        cpu.gemm(false, true, 1, a, w, 0, actual);
        ErrorBounds.check("cpu linear with bf16 weight k=3072", Floats.toF32(expected), Floats.toF32(actual),
                ErrorBounds.gemm(U_F32, k, ErrorBounds.gemmMagnitude(false, true, 1, a, w, 0, zero, m, n)));
    }
}
