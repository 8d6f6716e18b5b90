package dev.fluxerase.cuda;

import dev.fluxerase.tensor.BackendContract;

/**
 * A row-major GEMM c[m, n] = op(a) · op(b) expressed as the column-major call cuBLAS makes. Row-major x [r, c] is, read
 * column-major, xᵀ [c, r] with leading dimension c; so cᵀ = op(b)ᵀ · op(a)ᵀ: the column-major "A" is our b, "B" is our a,
 * and each keeps its own transpose flag.
 *
 * @param opA     transpose the column-major A (our b)
 * @param opB     transpose the column-major B (our a)
 * @param m       rows of the column-major result (= columns of c)
 * @param n       columns of the column-major result (= rows of c)
 * @param k       the reduced dimension
 * @param rowsA   stored rows of the column-major A (= b.cols), its leading dimension
 * @param colsA   stored columns of the column-major A (= b.rows)
 * @param rowsB   stored rows of the column-major B (= a.cols), its leading dimension
 * @param colsB   stored columns of the column-major B (= a.rows)
 */
public record GemmPlan(boolean opA, boolean opB, long m, long n, long k, long rowsA, long colsA, long rowsB, long colsB) {

    /**
     * The plan for {@code c = op(a)·op(b)} with a, b and c row-major of the shapes that {@link BackendContract#gemm}
     * checked: op(a) [m, k], op(b) [k, n], c [m, n].
     */
    public static GemmPlan rowMajor(boolean transA, boolean transB, BackendContract.Gemm shape) {
        long m = shape.m();
        long n = shape.n();
        long k = shape.k();
        long aRows = transA ? k : m;
        long aCols = transA ? m : k;
        long bRows = transB ? n : k;
        long bCols = transB ? k : n;
        return new GemmPlan(transB, transA, n, m, k, bCols, bRows, aCols, aRows);
    }

    public long lda() {
        return rowsA;
    }

    public long ldb() {
        return rowsB;
    }

    public long ldc() {
        return m;
    }
}
