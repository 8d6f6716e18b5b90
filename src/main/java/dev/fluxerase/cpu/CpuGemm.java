package dev.fluxerase.cpu;

import dev.fluxerase.tensor.Tensor;

/** CPU GEMM entry point used by the CPU backend; see {@link dev.fluxerase.tensor.Backend#gemm} for the contract. */
public final class CpuGemm {
    private CpuGemm() {
    }

    public static void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        long m = transA ? a.cols() : a.rows();
        long k = transA ? a.rows() : a.cols();
        long kb = transB ? b.cols() : b.rows();
        long n = transB ? b.rows() : b.cols();
        if (k != kb || c.rows() != m || c.cols() != n) {
            throw new IllegalArgumentException("gemm shapes: op(a) " + m + "x" + k + ", op(b) " + kb + "x" + n + ", c "
                    + c.rows() + "x" + c.cols());
        }
        float[] bf = dev.fluxerase.tensor.Floats.toF32(b);
        for (long i = 0; i < m; i++) {
            for (long j = 0; j < n; j++) {
                float s = 0;
                for (long p = 0; p < k; p++) {
                    float av = transA ? a.get(p * m + i) : a.get(i * k + p);
                    float bv = transB ? bf[(int) (j * k + p)] : bf[(int) (p * n + j)];
                    s += av * bv;
                }
                long ci = i * n + j;
                c.set(ci, beta == 0 ? alpha * s : alpha * s + beta * c.get(ci));
            }
        }
    }
}
