package dev.fluxerase.cpu;

/**
 * Bias add and its gradient. Forward y[r, :] += bias saves nothing; the backward db = Σ_r dy[r, :] is a column reduction:
 * each chunk of rows sums into its own f32 partial row, and the partials are added into db in double, in chunk order.
 */
final class Bias {
    private Bias() {
    }

    static void addBias(Arr y, Arr bias, int rows, int cols) {
        Parallel.forRange(rows, cols, (c, from, to) -> {
            for (int r = from; r < to; r++) {
                Vec.add(bias.a, bias.off, y.a, y.off + r * cols, cols);
            }
        });
    }

    static void sumRows(Arr dy, Arr db, int rows, int cols) {
        int chunks = Parallel.reductionChunks(rows, cols);
        float[][] part = new float[chunks][cols];
        Parallel.run(chunks, rows, (c, from, to) -> {
            for (int r = from; r < to; r++) {
                Vec.add(dy.a, dy.off + r * cols, part[c], 0, cols);
            }
        });
        addColumns(part, db, cols);
    }

    /** db[j] += Σ_chunks part[chunk][j], summed in double. */
    static void addColumns(float[][] part, Arr db, int cols) {
        for (int j = 0; j < cols; j++) {
            double s = db.a[db.off + j];
            for (float[] p : part) {
                s += p[j];
            }
            db.a[db.off + j] = (float) s;
        }
    }
}
