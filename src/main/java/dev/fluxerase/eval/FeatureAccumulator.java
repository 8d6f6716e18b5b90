package dev.fluxerase.eval;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * Mean and covariance of feature rows (one image's InceptionV3 pool3 or CLIP image features per row), accumulated in double
 * as {@code np.mean(X, axis=0)} and {@code np.cov(X, rowvar=False)} compute them: the covariance divides by N−1.
 *
 * <p>Rows are buffered into blocks of {@value #BLOCK}. Each block is centred on its own mean (two passes over the block)
 * and its co-moment XcᵀXc is merged into the running one with Chan, Golub and LeVeque's pairwise update
 * M = Ma + Mb + δδᵀ·na·nb/n. No raw sum of squares is ever formed, so a large common offset in the features costs no
 * precision (the one-pass E[x²] − E[x]² formula would cancel it away), and a whole dataset never has to be held at once.
 */
public final class FeatureAccumulator {
    static final int BLOCK = 256;

    private final int dims;
    private final DMatrixRMaj block;
    private final double[] mean;
    private final DMatrixRMaj comoment;
    private int filled;
    private long merged;

    public FeatureAccumulator(int dims) {
        if (dims < 1 || dims > FeatureStats.MAX_DIMS) {
            throw new IllegalArgumentException("FID features: dimension " + dims + ", expected 1 to "
                    + FeatureStats.MAX_DIMS);
        }
        this.dims = dims;
        this.block = new DMatrixRMaj(BLOCK, dims);
        this.mean = new double[dims];
        this.comoment = new DMatrixRMaj(dims, dims);
    }

    public int dims() {
        return dims;
    }

    /** Rows added so far. */
    public long count() {
        return merged + filled;
    }

    public void add(double[] row) {
        check(row.length);
        int base = filled * dims;
        for (int j = 0; j < dims; j++) {
            block.data[base + j] = finite(row[j], j);
        }
        advance();
    }

    /** Float features (ONNX and CLIP outputs) are widened exactly, so this equals {@link #add(double[])} of the same values. */
    public void add(float[] row) {
        check(row.length);
        int base = filled * dims;
        for (int j = 0; j < dims; j++) {
            block.data[base + j] = finite(row[j], j);
        }
        advance();
    }

    public void addAll(double[][] rows) {
        for (double[] row : rows) {
            add(row);
        }
    }

    public void addAll(float[][] rows) {
        for (float[] row : rows) {
            add(row);
        }
    }

    /** The statistics of every row added so far; adding more rows afterwards is allowed. */
    public FeatureStats statistics() {
        long n = count();
        if (n < 2) {
            throw new IllegalArgumentException("FID features: the covariance needs at least 2 feature rows, got " + n);
        }
        flush();
        DMatrixRMaj sigma = comoment.copy();
        CommonOps_DDRM.divide(sigma, n - 1);
        return new FeatureStats(mean.clone(), sigma.data, n);
    }

    private void check(int length) {
        if (length != dims) {
            throw new IllegalArgumentException("FID features: row " + count() + " has " + length + " values, expected "
                    + dims);
        }
    }

    private double finite(double v, int j) {
        if (!Double.isFinite(v)) {
            throw new IllegalArgumentException("FID features: row " + count() + " has " + v + " at index " + j
                    + ", expected finite values");
        }
        return v;
    }

    private void advance() {
        if (++filled == BLOCK) {
            flush();
        }
    }

    private void flush() {
        if (filled == 0) {
            return;
        }
        int nb = filled;
        double[] x = block.data;
        double[] blockMean = new double[dims];
        for (int r = 0; r < nb; r++) {
            for (int j = 0; j < dims; j++) {
                blockMean[j] += x[r * dims + j];
            }
        }
        for (int j = 0; j < dims; j++) {
            blockMean[j] /= nb;
        }
        for (int r = 0; r < nb; r++) {
            for (int j = 0; j < dims; j++) {
                x[r * dims + j] -= blockMean[j];
            }
        }
        block.reshape(nb, dims);
        CommonOps_DDRM.multAddTransA(block, block, comoment);
        block.reshape(BLOCK, dims);

        long na = merged;
        long n = na + nb;
        double[] delta = new double[dims];
        for (int j = 0; j < dims; j++) {
            delta[j] = blockMean[j] - mean[j];
        }
        double weight = (double) na * nb / n;
        double[] c = comoment.data;
        // one product per pair, written to both halves, so the co-moment stays exactly symmetric
        for (int i = 0; i < dims; i++) {
            double di = delta[i] * weight;
            for (int j = i; j < dims; j++) {
                double v = di * delta[j];
                c[i * dims + j] += v;
                if (j != i) {
                    c[j * dims + i] += v;
                }
            }
        }
        double share = (double) nb / n;
        for (int j = 0; j < dims; j++) {
            mean[j] += delta[j] * share;
        }
        merged = n;
        filled = 0;
    }
}
