package dev.fluxerase.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.atomic.AtomicInteger;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Tensor;

/**
 * CPU GEMM entry point used by the CPU backend; see {@link dev.fluxerase.tensor.Backend#gemm} for the contract.
 *
 * <p>Goto/BLIS blocking with C row-major and vectors along n. A panel of op(A) (up to {@link #PANEL_FLOATS} floats: all of
 * k for a range of rows) is packed once and shared by all threads. The columns of C are cut into blocks of at most
 * {@link #NC_SLIVERS} slivers; threads take (row range, column block) items from a counter, and for each k block pack
 * their own KC × NC block of op(B) (L2-resident, converted to f32) and run the micro-kernel over it, the A sliver staying
 * in L1 while B slivers stream from L2. Taking items dynamically keeps both cores busy when one is slowed by other work.
 */
public final class CpuGemm {
    private static final int MR = GemmKernel.MR;
    private static final int NR = GemmKernel.NR;
    /** k block: one A sliver (MR × KC) stays in L1, one B block (KC × NC) in L2. */
    static final int KC = Integer.getInteger("gemm.kc", 384);
    /** Column block in slivers of NR: KC × NC_SLIVERS·NR floats of packed B is about half of a 2 MB L2. */
    static final int NC_SLIVERS = Integer.getInteger("gemm.nc", 11);
    /** Packed A panel limit (16 MB): more rows than this are done in several panels, repacking B for each. */
    static final int PANEL_FLOATS = 1 << 22;
    /** Below this many flops (about 50 µs of one core) the thread hand-off costs more than it saves. */
    static final double PARALLEL_FLOPS = 8e6;

    private static final int THREADS = Runtime.getRuntime().availableProcessors();
    private static final ForkJoinPool POOL = new ForkJoinPool(THREADS);
    private static final ThreadLocal<Workspace> WORKSPACE = ThreadLocal.withInitial(Workspace::new);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    /** Never started; only asked whether a segment may be used by a thread other than its owner. */
    private static final Thread OTHER_THREAD = Thread.ofPlatform().unstarted(() -> {
    });

    private CpuGemm() {
    }

    /** Per-thread packing buffers, grown on demand and kept: the hot path allocates nothing else. */
    private static final class Workspace {
        float[] panel = new float[0];
        float[] block = new float[0];
        final float[] tile = new float[MR * NR];

        float[] panel(int size) {
            if (panel.length < size) {
                panel = new float[size];
            }
            return panel;
        }

        float[] block(int size) {
            if (block.length < size) {
                block = new float[size];
            }
            return block;
        }
    }

    public static void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        double flops = 2.0 * c.numel() * (transA ? rows(a) : a.cols());
        gemm(transA, transB, alpha, a, b, beta, c, flops < PARALLEL_FLOPS ? 1 : THREADS, PANEL_FLOATS);
    }

    /**
     * The same on exactly {@code threads} threads (the caller and threads − 1 pool workers) with an A panel of at most
     * panelFloats floats; tests and benchmarks pin these.
     */
    static void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c, int threads,
                     int panelFloats) {
        long m = transA ? a.cols() : rows(a);
        long k = transA ? rows(a) : a.cols();
        long kb = transB ? b.cols() : rows(b);
        long n = transB ? rows(b) : b.cols();
        if (a.device() != Device.CPU || b.device() != Device.CPU || c.device() != Device.CPU
                || a.dtype() != DType.F32 || c.dtype() != DType.F32
                || (b.dtype() != DType.F32 && b.dtype() != DType.BF16 && b.dtype() != DType.F16)) {
            throw new IllegalArgumentException("gemm needs CPU a F32, b F32/BF16/F16, c F32; got a " + a.dtype() + " on "
                    + a.device() + ", b " + b.dtype() + " on " + b.device() + ", c " + c.dtype() + " on " + c.device());
        }
        if (k != kb || rows(c) != m || c.cols() != n) {
            throw new IllegalArgumentException("gemm shapes: op(a) " + m + "x" + k + " from a" + Arrays.toString(a.shape())
                    + (transA ? "ᵀ" : "") + ", op(b) " + kb + "x" + n + " from b" + Arrays.toString(b.shape())
                    + (transB ? "ᵀ" : "") + ", c" + Arrays.toString(c.shape()) + " must be " + m + "x" + n);
        }
        if (m == 0 || n == 0) {
            return;
        }
        if (k == 0) {
            scale(c.data(), m * n, beta);
            return;
        }
        boolean shared = sharable(a.data()) && sharable(b.data()) && sharable(c.data());
        new Call(transA, transB, alpha, a, b, beta, c, m, n, k, shared ? Math.max(1, threads) : 1, panelFloats).run();
    }

    /** Rows of the matrix view: the product of all dimensions but the last (also when the last is 0). */
    private static long rows(Tensor t) {
        long r = 1;
        for (int i = 0; i < t.rank() - 1; i++) {
            r *= t.dim(i);
        }
        return r;
    }

    /** False for memory of a confined arena, which only its owner thread may touch: such a GEMM stays on the caller. */
    private static boolean sharable(MemorySegment s) {
        return s.isAccessibleBy(OTHER_THREAD);
    }

    /** c = beta·c over count elements; beta = 0 writes zeros without reading. */
    private static void scale(MemorySegment c, long count, float beta) {
        for (long i = 0; i < count; i++) {
            long off = i * Float.BYTES;
            c.set(F32, off, beta == 0 ? 0f : beta * c.get(F32, off));
        }
    }

    /** One GEMM: the shared A panel and the work items of each panel. */
    private static final class Call {
        final boolean transA;
        final boolean transB;
        final float alpha;
        final float beta;
        final MemorySegment a;
        final MemorySegment b;
        final MemorySegment c;
        final DType bType;
        final long lda;
        final long ldb;
        final long m;
        final long n;
        final long k;
        final int tasks;
        final int colSlivers;
        final int colBlocks;
        final int rowsPerPanel;

        long i0;
        int mc;
        int mcPad;
        int rowSplits;
        float[] panel;
        final AtomicInteger next = new AtomicInteger();

        Call(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c, long m, long n, long k,
             int tasks, int panelFloats) {
            this.transA = transA;
            this.transB = transB;
            this.alpha = alpha;
            this.beta = beta;
            this.a = a.data();
            this.b = b.data();
            this.c = c.data();
            this.bType = b.dtype();
            this.lda = a.cols();
            this.ldb = b.cols();
            this.m = m;
            this.n = n;
            this.k = k;
            this.tasks = tasks;
            this.colSlivers = Math.toIntExact((n + NR - 1) / NR);
            int blocks = (colSlivers + NC_SLIVERS - 1) / NC_SLIVERS;
            if (tasks > 1) {
                blocks = Math.min(colSlivers, (blocks + tasks - 1) / tasks * tasks);
            }
            this.colBlocks = blocks;
            long rows = Math.max(MR, panelFloats / k / MR * MR);
            this.rowsPerPanel = (int) Math.min(rows, (m + MR - 1) / MR * MR);
        }

        void run() {
            Workspace ws = WORKSPACE.get();
            for (i0 = 0; i0 < m; i0 += rowsPerPanel) {
                mc = (int) Math.min(rowsPerPanel, m - i0);
                int slivers = (mc + MR - 1) / MR;
                mcPad = slivers * MR;
                panel = ws.panel(Math.toIntExact(mcPad * k));
                parallel(Math.min(tasks, slivers), this::packPanel);
                rowSplits = tasks > colBlocks ? Math.min(slivers, tasks) : 1;
                next.set(0);
                parallel(tasks, (t, count) -> compute());
            }
        }

        /** Task t of count packs its share of the panel's slivers for every k block. */
        private void packPanel(int t, int count) {
            int slivers = mcPad / MR;
            int s0 = (int) ((long) slivers * t / count);
            int s1 = (int) ((long) slivers * (t + 1) / count);
            for (long p0 = 0; p0 < k; p0 += KC) {
                int kc = (int) Math.min(KC, k - p0);
                PackA.pack(a, transA, lda, i0, mc, p0, kc, s0, s1, panel, Math.toIntExact(p0 * mcPad));
            }
        }

        private void compute() {
            Workspace ws = WORKSPACE.get();
            float[] block = ws.block(KC * NC_SLIVERS * NR);
            int items = rowSplits * colBlocks;
            int slivers = mcPad / MR;
            for (int item; (item = next.getAndIncrement()) < items; ) {
                int r = item / colBlocks;
                int cb = item % colBlocks;
                int s0 = (int) ((long) slivers * r / rowSplits);
                int s1 = (int) ((long) slivers * (r + 1) / rowSplits);
                int t0 = (int) ((long) colSlivers * cb / colBlocks);
                int t1 = (int) ((long) colSlivers * (cb + 1) / colBlocks);
                block(ws, block, s0, s1, t0, t1);
            }
        }

        /** Panel slivers [s0, s1) × column slivers [t0, t1), over all of k. */
        private void block(Workspace ws, float[] block, int s0, int s1, int t0, int t1) {
            long j0 = (long) t0 * NR;
            int nc = (int) (Math.min(n, (long) t1 * NR) - j0);
            for (long p0 = 0; p0 < k; p0 += KC) {
                int kc = (int) Math.min(KC, k - p0);
                boolean first = p0 == 0;
                PackB.pack(b, bType, transB, ldb, p0, kc, j0, nc, 0, t1 - t0, block);
                int base = (int) (p0 * mcPad);
                for (int s = s0; s < s1; s++) {
                    int ao = base + s * MR * kc;
                    int rows = Math.min(MR, mc - s * MR);
                    long row = i0 + (long) s * MR;
                    for (int t = 0; t < t1 - t0; t++) {
                        long col = j0 + (long) t * NR;
                        int cols = (int) Math.min(NR, n - col);
                        GemmKernel.tile(panel, ao, block, t * NR * kc, kc, ws.tile);
                        GemmKernel.store(ws.tile, c, row * n + col, n, rows, cols, alpha, beta, first);
                    }
                }
            }
        }

        /** Runs body(t, count) for t in [0, count): t = 0 on the calling thread, the rest on the pool. */
        private void parallel(int count, Body body) {
            if (count <= 1) {
                body.run(0, 1);
                return;
            }
            ForkJoinTask<?>[] forks = new ForkJoinTask<?>[count - 1];
            for (int t = 1; t < count; t++) {
                int task = t;
                forks[t - 1] = POOL.submit(() -> body.run(task, count));
            }
            body.run(0, count);
            for (ForkJoinTask<?> f : forks) {
                f.join();
            }
        }
    }

    @FunctionalInterface
    private interface Body {
        void run(int task, int count);
    }
}
