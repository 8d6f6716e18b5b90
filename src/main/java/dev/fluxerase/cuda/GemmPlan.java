package dev.fluxerase.cuda;

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

    /** The plan for {@code c = op(a)·op(b)} with a [aRows, aCols], b [bRows, bCols], c [cRows, cCols] row-major. */
    public static GemmPlan rowMajor(boolean transA, boolean transB, long aRows, long aCols, long bRows, long bCols,
                                    long cRows, long cCols) {
        long m = transA ? aCols : aRows;
        long k = transA ? aRows : aCols;
        long kb = transB ? bCols : bRows;
        long n = transB ? bRows : bCols;
        if (k != kb || cRows != m || cCols != n) {
            throw new IllegalArgumentException("gemm shapes: op(a) " + m + "x" + k + ", op(b) " + kb + "x" + n + ", c "
                    + cRows + "x" + cCols);
        }
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
