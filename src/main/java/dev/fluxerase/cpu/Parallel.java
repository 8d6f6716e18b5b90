package dev.fluxerase.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.RecursiveAction;

/**
 * Splits an index range across one shared fork-join pool (one worker per core; the common pool has one fewer). Work is only
 * split when it is large enough to repay the hand-off, so small tensors stay on the calling thread.
 */
final class Parallel {
    static final int THREADS = Runtime.getRuntime().availableProcessors();
    private static final ForkJoinPool POOL = new ForkJoinPool(THREADS, pool -> {
        var t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
        t.setDaemon(true);
        t.setName("flux-erase-cpu-" + t.getPoolIndex());
        return t;
    }, null, false);
    /** About 50 µs of work: below this a task costs more to hand off than to run. */
    private static final long MIN_TASK_COST = 1 << 16;

    private Parallel() {
    }

    /** The body of one chunk: items [from, to), chunk index in [0, chunks). */
    interface Chunk {
        void run(int chunk, int from, int to);
    }

    /** How many chunks n items of cost (≈ element operations) each should be split into. */
    static int chunks(long n, long costPerItem) {
        if (n <= 1 || THREADS == 1) {
            return 1;
        }
        long total = n * Math.max(1, costPerItem);
        long byCost = total / MIN_TASK_COST;
        return (int) Math.max(1, Math.min(Math.min(n, 4L * THREADS), byCost));
    }

    /** The most chunks a reduction is cut into; a fixed number, so that it does not depend on the machine. */
    private static final int REDUCTION_CHUNKS = 16;

    /**
     * Chunks for a reduction whose per-chunk partial results are then added up (bias and norm-scale gradients, sums,
     * dots): the count depends only on the size, never on the core count, so the partial sums and therefore the result
     * bits are the same on every machine (a trainer run resumed elsewhere gives the same LoRA).
     */
    static int reductionChunks(long n, long costPerItem) {
        if (n <= 1) {
            return 1;
        }
        long byCost = n * Math.max(1, costPerItem) / MIN_TASK_COST;
        return (int) Math.max(1, Math.min(Math.min(n, REDUCTION_CHUNKS), byCost));
    }

    /** Runs body over [0, n) in {@code chunks} near-equal contiguous chunks, in parallel when chunks > 1. */
    static void run(int chunks, int n, Chunk body) {
        if (chunks <= 1) {
            body.run(0, 0, n);
            return;
        }
        List<ForkJoinTask<?>> tasks = new ArrayList<>(chunks);
        for (int c = 0; c < chunks; c++) {
            int chunk = c;
            int from = (int) ((long) n * c / chunks);
            int to = (int) ((long) n * (c + 1) / chunks);
            tasks.add(ForkJoinTask.adapt(() -> body.run(chunk, from, to)));
        }
        if (ForkJoinTask.inForkJoinPool() && ForkJoinTask.getPool() == POOL) {
            ForkJoinTask.invokeAll(tasks);
        } else {
            POOL.invoke(new RecursiveAction() {
                @Override
                protected void compute() {
                    invokeAll(tasks);
                }
            });
        }
    }

    /** {@link #run} with the chunk count chosen by {@link #chunks}. */
    static void forRange(int n, long costPerItem, Chunk body) {
        run(chunks(n, costPerItem), n, body);
    }
}
