package dev.fluxerase.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

import dev.fluxerase.tensor.BackendContract;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Tensor;

/**
 * CPU GEMM entry point used by the CPU backend; see {@link dev.fluxerase.tensor.Backend#gemm} for the contract.
 *
 * <p>Goto/BLIS blocking for row-major C with vectors along n. A panel of op(A) (all of k for a range of rows, at most
 * 16 MB) is packed once into MR-row slivers and shared by all threads. The columns of C are cut into blocks of a few
 * NR-column slivers; for each (row range, column block) item and each k block a thread packs its own kc × nc block of
 * op(B) (converted to f32, L2-resident) and runs the micro-kernel over it, one A sliver staying in L1 while the B
 * slivers stream from L2. Threads take packing runs and items from a shared counter, so when another process slows
 * one core the other simply takes more, and the caller never waits for a helper that has not started yet. A frozen
 * weight kept by {@link PackedWeights} is not packed again: an item widens its block of the stored panels (BF16, F16),
 * or the kernel reads them in place (f32, and for at most {@link #ROWWISE_ROWS} rows any dtype).
 */
public final class CpuGemm {
    /** Checked here rather than by CpuBackend alone, since the VAE calls this GEMM directly. */
    private static final BackendContract CHECK = BackendContract.on(Device.CPU);
    private static final int MR = GemmKernel.MR;
    private static final int NR = GemmKernel.NR;

    /**
     * Block sizes. kc: the k block, so one A sliver (MR × kc floats) stays in L1. ncSlivers: the column block in NR-wide
     * slivers; the kc × ncSlivers·NR block of packed B stays in L2. panelFloats: the packed A panel limit; rows beyond it
     * are done in further panels, each repacking B. itemsPerThread: with several threads, the work is cut into at least
     * this many items per thread (narrower column blocks first, then row splits, which repack B), so that the thread
     * that finishes first waits for at most a small item and a core slowed by other work is compensated.
     */
    record Blocking(int kc, int ncSlivers, int panelFloats, int itemsPerThread) {
    }

    /**
     * 512 × 8·48 floats of B is 0.8 MB of a 2 MB L2 (and a 7 × 512 A sliver 14 KB of a 48 KB L1); 16 MB of A panel holds
     * all rows of FLUX's GEMMs at 512² (k ≤ 3072 for 1365 rows). Within the range where the B block fits L2 the speed
     * was flat (kc 384–768, 4–11 slivers). Two items per thread, not eight: each row split packs or widens its column
     * block of B again, from memory for a large weight, and a T5 encode (d_model 1024: few column blocks, so four row
     * splits at eight) ran 20-25 % faster with two, on a quiet machine and with another process busy on one of the two
     * cores alike (2026-12-04, bench/README.md); the VAE's and FLUX's GEMMs were unchanged.
     */
    static final Blocking DEFAULT = new Blocking(512, 8, 1 << 22, 2);
    /** Below this many flops (about 50 µs of one core) handing work to another thread costs more than it saves. */
    static final double PARALLEL_FLOPS = 8e6;
    /**
     * Narrowest column block when cutting more items: every item streams the A panel from L3 once per k block, and each
     * A sliver it loads should serve a few tiles.
     */
    private static final int MIN_BLOCK_SLIVERS = 4;
    /**
     * Products with at most this many rows (batch 1 and 2: modulation, embedders, time and guidance MLPs) and a packed
     * weight are computed row by row straight from the packed panels: the MR-row tile would do MR times the FMAs of one
     * row and widen B first. From 3 rows on the tile over widened panels was faster (bench/README.md: at 16 rows the
     * row-by-row kernel, which widens B once per row, took 2.4 times as long).
     */
    static final int ROWWISE_ROWS = 2;
    /** Panel packing is handed out in runs of this many slivers. */
    private static final int PACK_SLIVERS = 8;

    private static final int THREADS = Runtime.getRuntime().availableProcessors();
    private static final ForkJoinPool POOL = new ForkJoinPool(THREADS);
    private static final ThreadLocal<Workspace> WORKSPACE = ThreadLocal.withInitial(Workspace::new);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    /** Never started; only asked whether a segment may be used by a thread other than its owner. */
    private static final Thread OTHER_THREAD = Thread.ofPlatform().unstarted(() -> {
    });

    private CpuGemm() {
    }

    public static void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        gemm(transA, transB, alpha, a, b, beta, c, null);
    }

    /** The same, taking a frozen transposed b (a Linear's weight) from {@code packed} when that is not null. */
    static void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c,
                     PackedWeights packed) {
        gemm(transA, transB, alpha, a, b, beta, c, 0, DEFAULT, packed);
    }

    static void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c, int threads,
                     Blocking blocking) {
        gemm(transA, transB, alpha, a, b, beta, c, threads, blocking, null);
    }

    /**
     * The same on at most {@code threads} threads (the caller and pool helpers; 0: one below {@link #PARALLEL_FLOPS},
     * else all) with the given blocking.
     */
    static void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c, int threads,
                     Blocking blocking, PackedWeights packed) {
        BackendContract.Gemm shape = CHECK.gemm(transA, transB, a, b, c);
        // PackA reads f32; CpuBackend widens a BF16 activation before it gets here
        CHECK.f32("gemm", "a", a);
        MemorySegment as = a.data();
        long lda = a.cols();
        PanelSource source = (i0, mc, p0, kc, s0, s1, dst, off) -> PackA.pack(as, transA, lda, i0, mc, p0, kc, s0, s1,
                dst, off);
        run(source, sharable(as), transB, alpha, b, beta, c, shape.m(), shape.n(), shape.k(), threads, blocking, packed);
    }

    /**
     * Rows of op(A) as the kernel reads them, written by whoever can make them straight away: {@link PackA} from a
     * stored A, or the conv's im2col, which so never builds its column matrix. Packs slivers [s0, s1) of the block rows
     * [i0, i0 + mc) × k [p0, p0 + kc) into dst, sliver s at dst[off + s·MR·kc], each k-major (the MR values of one k
     * adjacent), rows past mc zero. Called from several threads at once, for disjoint slivers.
     */
    @FunctionalInterface
    interface PanelSource {
        void pack(long i0, int mc, long p0, int kc, int s0, int s1, float[] dst, int off);
    }

    /**
     * c = A·bᵀ + beta·c with the m × k matrix A given by {@code a} rather than stored (b stored [n, k], F32, BF16 or F16;
     * c F32 [m, n]); {@code aSharable}: whether what {@code a} reads may be read by other threads. The blocking's
     * panel limit bounds the rows made at once, so A never exists whole.
     */
    static void gemm(PanelSource a, long m, long k, boolean aSharable, Tensor b, float beta, Tensor c, Blocking blocking,
                     PackedWeights packed) {
        long n = b.dim(0);
        BackendContract.require(b.rank() == 2 && b.dim(1) == k && c.rank() == 2 && c.dim(0) == m && c.dim(1) == n
                && c.dtype() == DType.F32, "gemm: b " + Arrays.toString(b.shape()) + " and c "
                + Arrays.toString(c.shape()) + " for A of " + m + " x " + k);
        run(a, aSharable, true, 1f, b, beta, c, m, n, k, 0, blocking, packed);
    }

    /**
     * Both entry points past their checks: nothing for an empty c, beta·c for k = 0, else the blocked product on
     * {@code threads} threads (0: one below {@link #PARALLEL_FLOPS}, else all), on the caller alone when an operand's
     * memory may not be touched by other threads.
     */
    private static void run(PanelSource a, boolean aSharable, boolean transB, float alpha, Tensor b, float beta,
                            Tensor c, long m, long n, long k, int threads, Blocking blocking, PackedWeights packed) {
        if (m == 0 || n == 0) {
            return;
        }
        if (k == 0) {
            scale(c.data(), m * n, beta);
            return;
        }
        if (threads == 0) {
            threads = 2.0 * m * n * k < PARALLEL_FLOPS ? 1 : THREADS;
        }
        boolean sharable = aSharable && sharable(b.data()) && sharable(c.data());
        PackedWeights.Packed panels = packed != null && transB && sharable ? packed.get(b, n, k, blocking.kc()) : null;
        new Call(a, transB, alpha, b, beta, c, m, n, k, sharable ? Math.max(1, threads) : 1, blocking, panels).run();
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

    /** Per-thread buffers, grown on demand and kept: the hot path allocates nothing else. */
    private static final class Workspace {
        private float[] panel = new float[0];
        private float[] block = new float[0];
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

    /** Items of one phase: the next one to take and the number not yet finished. */
    private record Phase(boolean packing, int items, AtomicInteger next, AtomicInteger pending) {
        Phase(boolean packing, int items) {
            this(packing, items, new AtomicInteger(), new AtomicInteger(items));
        }
    }

    /** One GEMM: its operands, the shared A panel, and how its work is cut into items. */
    private static final class Call {
        private final PanelSource a;
        private final boolean transB;
        private final float alpha;
        private final float beta;
        private final MemorySegment b;
        private final MemorySegment c;
        private final DType bType;
        private final long ldb;
        private final long m;
        private final long n;
        private final long k;
        private final int threads;
        private final int kcMax;
        private final int colSlivers;
        private final int colBlocks;
        private final int want;
        private final int blockFloats;
        private final int rowsPerPanel;
        /** op(B) already packed (a frozen weight), or null to pack it per item. */
        private final PackedWeights.Packed packed;
        /** Few rows with packed B: each row straight from the panels, without widening B or padding rows to MR. */
        private final boolean rowwise;
        /** C's float[] and its first element when C is a heap array: plain array access is cheaper than the segment's. */
        private final float[] cArray;
        private final long cBase;
        private final Thread caller = Thread.currentThread();
        private volatile Throwable failure;

        // The panel being worked on; written by the caller before it hands out a phase.
        private long i0;
        private int mc;
        private int panelSlivers;
        private int rowSplits;
        private float[] panel;

        Call(PanelSource a, boolean transB, float alpha, Tensor b, float beta, Tensor c, long m, long n, long k,
             int threads, Blocking blocking, PackedWeights.Packed packed) {
            this.a = a;
            this.transB = transB;
            this.alpha = alpha;
            this.beta = beta;
            this.b = b.data();
            this.c = c.data();
            this.cArray = this.c.heapBase().orElse(null) instanceof float[] f ? f : null;
            this.cBase = this.c.address() / Float.BYTES;
            this.bType = b.dtype();
            this.ldb = b.cols();
            this.m = m;
            this.n = n;
            this.k = k;
            this.threads = threads;
            this.kcMax = blocking.kc();
            this.colSlivers = Math.toIntExact((n + NR - 1) / NR);
            this.want = threads == 1 ? 1 : threads * blocking.itemsPerThread();
            int blocks = (colSlivers + blocking.ncSlivers() - 1) / blocking.ncSlivers();
            if (blocks < want) {
                blocks = Math.max(blocks, Math.min(want, colSlivers / MIN_BLOCK_SLIVERS));
            }
            this.colBlocks = blocks;
            this.blockFloats = kcMax * blocking.ncSlivers() * NR;
            long rows = Math.max(MR, blocking.panelFloats() / k / MR * MR);
            this.rowsPerPanel = (int) Math.min(rows, (m + MR - 1) / MR * MR);
            this.packed = packed;
            this.rowwise = packed != null && m <= ROWWISE_ROWS;
        }

        void run() {
            Workspace ws = WORKSPACE.get();
            for (i0 = 0; i0 < m; i0 += rowsPerPanel) {
                mc = (int) Math.min(rowsPerPanel, m - i0);
                panelSlivers = (mc + MR - 1) / MR;
                panel = ws.panel(Math.toIntExact(panelSlivers * MR * k));
                phase(true, (panelSlivers + PACK_SLIVERS - 1) / PACK_SLIVERS);
                rowSplits = colBlocks >= want ? 1 : Math.min(panelSlivers, (want + colBlocks - 1) / colBlocks);
                phase(false, rowSplits * colBlocks);
            }
        }

        /**
         * Runs items [0, items) of the packing or the compute phase on the caller and up to threads − 1 helpers and
         * returns when all are done. Each phase has its own counters, so a helper that starts late finds none of its
         * items left and returns at once, whatever phase the caller has reached meanwhile.
         */
        private void phase(boolean packing, int items) {
            Phase p = new Phase(packing, items);
            for (int h = 1; h < Math.min(threads, items); h++) {
                POOL.execute(() -> work(p));
            }
            work(p);
            while (p.pending.get() > 0 && failure == null) {
                LockSupport.park(this);
            }
            if (failure != null) {
                throw new IllegalStateException("gemm helper thread failed: " + failure, failure);
            }
        }

        private void work(Phase p) {
            try {
                Workspace ws = WORKSPACE.get();
                for (int item; (item = p.next.getAndIncrement()) < p.items; ) {
                    if (p.packing) {
                        packPanel(item);
                    } else {
                        compute(ws, item);
                    }
                    if (p.pending.decrementAndGet() == 0) {
                        LockSupport.unpark(caller);
                    }
                }
            } catch (RuntimeException | Error e) {
                if (Thread.currentThread() == caller) {
                    throw e;
                }
                failure = e;
                LockSupport.unpark(caller);
            }
        }

        /** Packs run `item` of PACK_SLIVERS panel slivers for every k block. */
        private void packPanel(int item) {
            int s0 = item * PACK_SLIVERS;
            int s1 = Math.min(panelSlivers, s0 + PACK_SLIVERS);
            int padded = panelSlivers * MR;
            for (long p0 = 0; p0 < k; p0 += kcMax) {
                int kc = (int) Math.min(kcMax, k - p0);
                a.pack(i0, mc, p0, kc, s0, s1, panel, Math.toIntExact(p0 * padded));
            }
        }

        /** Item `item`: panel slivers of one row split × column slivers of one column block, over all of k. */
        private void compute(Workspace ws, int item) {
            int r = item / colBlocks;
            int cb = item % colBlocks;
            int s0 = (int) ((long) panelSlivers * r / rowSplits);
            int s1 = (int) ((long) panelSlivers * (r + 1) / rowSplits);
            int t0 = (int) ((long) colSlivers * cb / colBlocks);
            int t1 = (int) ((long) colSlivers * (cb + 1) / colBlocks);
            float[] block = ws.block(blockFloats);
            float[] tile = ws.tile;
            long j0 = (long) t0 * NR;
            int nc = (int) (Math.min(n, (long) t1 * NR) - j0);
            int padded = panelSlivers * MR;
            float[] inPlace = packed == null || rowwise ? null : packed.f32Array();
            for (long p0 = 0; p0 < k; p0 += kcMax) {
                int kc = (int) Math.min(kcMax, k - p0);
                boolean first = p0 == 0;
                if (packed == null) {
                    PackB.pack(b, bType, transB, ldb, p0, kc, j0, nc, block);
                } else if (!rowwise && inPlace == null) {
                    packed.widen(p0, kc, t0, t1, block);
                }
                int base = Math.toIntExact(p0 * padded);
                for (int s = s0; s < s1; s++) {
                    int ao = base + s * MR * kc;
                    int rows = Math.min(MR, mc - s * MR);
                    long row = i0 + (long) s * MR;
                    for (int t = 0; t < t1 - t0; t++) {
                        long col = j0 + (long) t * NR;
                        if (rowwise) {
                            for (int i = 0; i < rows; i++) {
                                GemmKernel.row(panel, ao + i, packed.panels(), packed.dtype(),
                                        packed.offset(p0, t0 + t, kc), kc, tile, i * NR);
                            }
                        } else if (inPlace != null) {
                            int bo = Math.toIntExact(packed.offset(p0, t0 + t, kc) / Float.BYTES);
                            GemmKernel.tile(panel, ao, inPlace, bo, kc, tile);
                        } else {
                            GemmKernel.tile(panel, ao, block, t * NR * kc, kc, tile);
                        }
                        int cols = (int) Math.min(NR, n - col);
                        if (cArray != null) {
                            GemmKernel.store(tile, cArray, Math.toIntExact(cBase + row * n + col), (int) n, rows, cols,
                                    alpha, beta, first);
                        } else {
                            GemmKernel.store(tile, c, row * n + col, n, rows, cols, alpha, beta, first);
                        }
                    }
                }
            }
        }
    }
}
