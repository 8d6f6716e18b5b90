package dev.fluxerase.cpu;

import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.RandomData;

import java.util.Arrays;
import java.util.Random;

/**
 * Runs the CpuBackend reductions that add up per-chunk partial results (bias gradient, sum, dot, RMSNorm scale gradient,
 * modulation and gate gradients) at sizes large enough to be cut into several chunks, and prints one line per op:
 * {@code name hash}. Started by {@link ReductionChunkingTest} in JVMs that see different core counts.
 */
public final class ReductionProbe {
    static final int ROWS = 4096;
    static final int COLS = 256;

    private ReductionProbe() {
    }

    private static Tensor randn(long seed, long... shape) {
        return Tensor.of(RandomData.gaussian(new Random(seed), (int) Tensor.numel(shape), 1.0), shape);
    }

    private static int hash(Tensor t) {
        int[] bits = new int[(int) t.numel()];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = Float.floatToRawIntBits(t.get(i));
        }
        return Arrays.hashCode(bits);
    }

    public static void main(String[] args) {
        CpuBackend be = new CpuBackend();
        Tensor dy = randn(1, ROWS, COLS);
        Tensor x = randn(2, ROWS, COLS);

        Tensor db = Tensor.zeros(COLS);
        be.sumRows(dy, db);
        System.out.println("sumRows " + hash(db));
        System.out.println("sum " + Double.hashCode(be.sum(x)));
        System.out.println("dot " + Double.hashCode(be.dot(x, dy)));

        Tensor w = randn(3, COLS);
        Tensor y = Tensor.zeros(ROWS, COLS);
        Tensor rrms = Tensor.zeros(ROWS);
        be.rmsNorm(x, w, y, rrms, 1e-6f);
        Tensor dx = Tensor.zeros(ROWS, COLS);
        Tensor dw = Tensor.zeros(COLS);
        be.rmsNormBackward(dy, x, w, rrms, dx, dw);
        System.out.println("rmsNormBackward " + hash(dw));

        Tensor x3 = x.view(1, ROWS, COLS);
        Tensor dy3 = dy.view(1, ROWS, COLS);
        Tensor mod = randn(4, 1, 3L * COLS);
        Tensor dmod = Tensor.zeros(1, 3L * COLS);
        be.modulateBackward(dy3, x3, mod, 0, 1, Tensor.zeros(1, ROWS, COLS), dmod);
        be.gateAddBackward(dy3, x3, mod, 2, Tensor.zeros(1, ROWS, COLS), dmod);
        System.out.println("modulateAndGateBackward " + hash(dmod));
    }
}
