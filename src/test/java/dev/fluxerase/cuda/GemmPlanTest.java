package dev.fluxerase.cuda;

import dev.fluxerase.tensor.BackendContract;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The row-major → column-major mapping, checked by running the column-major GEMM that cuBLAS would run, in Java. */
class GemmPlanTest {

    /** D = op(A)·op(B) in BLAS column-major convention: element (i, j) of a matrix with leading dimension ld at i + j·ld. */
    private static float[] columnMajorGemm(GemmPlan p, float[] a, float[] b) {
        float[] d = new float[(int) (p.m() * p.n())];
        for (long i = 0; i < p.m(); i++) {
            for (long j = 0; j < p.n(); j++) {
                double s = 0;
                for (long l = 0; l < p.k(); l++) {
                    double av = p.opA() ? a[(int) (l + i * p.lda())] : a[(int) (i + l * p.lda())];
                    double bv = p.opB() ? b[(int) (j + l * p.ldb())] : b[(int) (l + j * p.ldb())];
                    s += av * bv;
                }
                d[(int) (i + j * p.ldc())] = (float) s;
            }
        }
        return d;
    }

    static float[] rowMajorGemm(boolean ta, boolean tb, float[] a, long ar, long ac, float[] b, long br, long bc) {
        long m = ta ? ac : ar;
        long k = ta ? ar : ac;
        long n = tb ? br : bc;
        float[] c = new float[(int) (m * n)];
        for (long i = 0; i < m; i++) {
            for (long j = 0; j < n; j++) {
                double s = 0;
                for (long l = 0; l < k; l++) {
                    double av = ta ? a[(int) (l * ac + i)] : a[(int) (i * ac + l)];
                    double bv = tb ? b[(int) (j * bc + l)] : b[(int) (l * bc + j)];
                    s += av * bv;
                }
                c[(int) (i * n + j)] = (float) s;
            }
        }
        return c;
    }

    private static float[] random(Random r, long n) {
        float[] x = new float[(int) n];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    @Test
    void everyTransposeCombinationMatchesTheRowMajorProduct() {
        Random rnd = new Random(7);
        long m = 5, n = 3, k = 4;
        for (boolean ta : new boolean[]{false, true}) {
            for (boolean tb : new boolean[]{false, true}) {
                long ar = ta ? k : m, ac = ta ? m : k;
                long br = tb ? n : k, bc = tb ? k : n;
                float[] a = random(rnd, ar * ac);
                float[] b = random(rnd, br * bc);
                GemmPlan p = GemmPlan.rowMajor(ta, tb, new BackendContract.Gemm(m, n, k));
                // cuBLAS's A is our b, its B is our a; the column-major m x n result is our row-major c.
                float[] viaBlas = columnMajorGemm(p, b, a);
                float[] expected = rowMajorGemm(ta, tb, a, ar, ac, b, br, bc);
                for (int i = 0; i < expected.length; i++) {
                    assertEquals(expected[i], viaBlas[i], 1e-5, "ta=" + ta + " tb=" + tb + " at " + i);
                }
                assertEquals(tb, p.opA());
                assertEquals(ta, p.opB());
            }
        }
    }

    @Test
    void linearLayerShapes() {
        // y [4096, 9216] = x [4096, 3072] · Wᵀ, W [9216, 3072]
        GemmPlan fwd = GemmPlan.rowMajor(false, true, new BackendContract.Gemm(4096, 9216, 3072));
        assertEquals(new GemmPlan(true, false, 9216, 4096, 3072, 3072, 9216, 3072, 4096), fwd);
        assertEquals(3072, fwd.lda());
        assertEquals(9216, fwd.ldc());
    }

    @Test
    void alignmentIsTheLargestPowerOfTwoUpTo256() {
        assertEquals(256, CublasLt.alignment(0x7f0000000000L));
        assertEquals(256, CublasLt.alignment(0x7f0000000100L));
        assertEquals(16, CublasLt.alignment(0x7f0000000010L));
        assertEquals(4, CublasLt.alignment(0x7f0000000024L));
        assertEquals(2, CublasLt.alignment(0x7f0000000002L));
    }

    @Test
    void heuristicResultStructMatchesCublasLtH() {
        // cublasLtMatmulAlgo_t (8 x uint64) + size_t workspaceSize + int state + float wavesCount + int reserved[4]
        assertEquals(96, CublasLt.HEURISTIC_RESULT_BYTES);
    }
}
