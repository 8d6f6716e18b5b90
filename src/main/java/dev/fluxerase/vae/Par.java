package dev.fluxerase.vae;

import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;

/** Splits a loop over [0, n) into contiguous chunks run on the common ForkJoinPool (the caller's thread joins in). */
final class Par {
    private static final int THREADS = ForkJoinPool.getCommonPoolParallelism() + 1;
    // below this many element-steps a chunk costs more to schedule than to run
    private static final long MIN_CHUNK_WORK = 1L << 15;

    interface Range {
        void run(int lo, int hi);
    }

    private Par() {
    }

    /** Runs body over chunks of [0, n); {@code workPerItem} (elements touched per index) decides how finely to split. */
    static void range(int n, long workPerItem, Range body) {
        long chunks = Math.min(Math.min(n, THREADS * 4L), Math.max(1, n * Math.max(1, workPerItem) / MIN_CHUNK_WORK));
        if (chunks <= 1) {
            body.run(0, n);
            return;
        }
        int k = (int) chunks;
        IntStream.range(0, k).parallel().forEach(i -> body.run((int) ((long) n * i / k), (int) ((long) n * (i + 1) / k)));
    }
}
