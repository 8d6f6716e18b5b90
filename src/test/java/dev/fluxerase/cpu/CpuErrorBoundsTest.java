package dev.fluxerase.cpu;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.AttentionBounds;
import dev.fluxerase.testing.BoundedOps;
import dev.fluxerase.testing.ErrorBounds;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static dev.fluxerase.testing.ErrorBounds.U_F32;
import static dev.fluxerase.testing.RandomData.gaussian;

/**
 * The error bounds the GPU tests hold the CUDA backend to (BoundedOps, AttentionBounds), held here by the CPU backend
 * against NaiveBackend on the same data and sizes. The CPU backend is the reference the CUDA backend is built after; it
 * computes in f32 as the kernels do, the same expressions reordered and blocked (every sum bound holds in any order),
 * with DetMath's exp and tanh within 1.25 ulp where the kernels' bounds allow CUDA's documented 2. This runs in every
 * build, so every bound's computation is exercised, and a derivation that a correct f32 implementation breaks shows up
 * here before a GPU run. No safety factor: Java's float arithmetic is the IEEE arithmetic the bounds assume.
 */
class CpuErrorBoundsTest {
    /**
     * Attention.forward/backward: f32 fma, DetMath.exp (within 1 ulp: 2u), key blocks of Attention.BK with at most BK
     * additions inside one (the block's exponentials, and its P·V products into each output), P and dS kept in f32.
     */
    private static final AttentionBounds.Arithmetic CPU = new AttentionBounds.Arithmetic("blocked f32", U_F32, U_F32, 2 * U_F32,
            Attention.BK, Attention.BK, 0, false);
    private static final BoundedOps.Checker CHECK = new BoundedOps.Checker("cpu ", 1, (what, check) -> check.run());

    private final Random rnd = new Random(20250611);
    private final BoundedOps ops = new BoundedOps(new CpuBackend(), CHECK, CHECK, rnd);

    @Test
    void gemmEveryTranspose() {
        ops.gemmEveryTranspose();
    }

    /** The CPU widens a bf16 weight and multiplies the f32 activations as they are: a k = 3072 sum of f32 products. */
    @Test
    void linearWithBf16WeightAtK3072() {
        long m = 100, n = 96, k = 3072;
        Tensor a = Tensor.of(gaussian(rnd, m * k, 1), m, k);
        Tensor w = TestTensors.as(DType.BF16, Tensor.of(gaussian(rnd, n * k, 0.02), n, k));
        float[] zero = new float[(int) (m * n)];
        Tensor expected = Tensor.of(zero.clone(), m, n), actual = Tensor.of(zero.clone(), m, n);
        new NaiveBackend().gemm(false, true, 1, a, w, 0, expected);
        new CpuBackend().gemm(false, true, 1, a, w, 0, actual);
        ErrorBounds.check("cpu linear with bf16 weight k=3072", Floats.toF32(expected), Floats.toF32(actual),
                ErrorBounds.gemm(U_F32, k, ErrorBounds.gemmMagnitude(false, true, 1, a, w, 0, zero, m, n)));
    }

    /** The CPU's linear runs its f32 GEMM on the widened bf16 operands: unit 2⁻²⁴. */
    @Test
    void linear() {
        ops.linear(U_F32);
    }

    @Test
    void bf16Activations() {
        ops.bf16Activations(U_F32);
    }

    @Test
    void biasAndElementwise() {
        ops.biasAndElementwise();
    }

    @Test
    void activationsAndSoftmax() {
        ops.activationsAndSoftmax();
    }

    @Test
    void norms() {
        ops.norms();
    }

    @Test
    void modulationAndGate() {
        ops.modulationAndGate();
    }

    @Test
    void rope() {
        ops.rope();
    }

    /** The GPU tests' attention shapes, on unrounded inputs (the CPU rounds nothing to bf16). */
    @Test
    void attention() {
        for (int[] c : new int[][]{{100, 77, 128}, {64, 200, 128}, {1, 1, 128}, {45, 45, 128}, {33, 70, 64}, {20, 30, 40}}) {
            ops.attention(CPU, false, c[0], c[1], c[2]);
        }
    }

    @Test
    void adamw() {
        ops.adamw();
    }

    @Test
    void convAndGroupNorm() {
        ops.conv2d();
        ops.groupNorm();
    }
}
