package dev.fluxerase.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Map;
import java.util.WeakHashMap;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

/**
 * Frozen GEMM weights (B of y = x·Bᵀ, stored [n, k]: a Linear's W) kept in the packed panel layout of {@link PackB}, so
 * that the transposing pack runs once per weight instead of once per call and column block.
 *
 * <p>Only tensors marked {@link Tensor#isFrozen()} are cached, and the cache is keyed by that object (weakly: an entry
 * goes when its tensor does), so a weight that changes (LoRA factors, a trained model's parameters) never reaches it,
 * and a frozen weight's memory cannot be reused for other data while its entry lives.
 *
 * <p>The panels keep the weight's dtype (BF16 stays BF16): the widening to f32 is exact and costs far less than the
 * transpose, done as a contiguous vector pass per column block, while f32 panels would double the memory. So the cache
 * costs as many bytes per parameter as the weight's dtype, plus the padding of n to whole NR-column slivers, in native
 * memory (FLUX.1-dev in BF16: about 11.9 billion parameters, 24 GB). F32 panels, which need no widening, are a float[]
 * on the Java heap instead, up to a quarter of the heap's limit, so the micro-kernel reads them in place rather than
 * copying each block out (the VAE's decoder: 0.2 GB of heap); past that they are native too.
 */
final class PackedWeights {
    /** System property that turns the cache off for backends made with {@link CpuBackend#CpuBackend()}. */
    static final String PROPERTY = "flux.erase.cpu.pack.cache";

    private final Map<Tensor, Packed> byWeight = new WeakHashMap<>();
    /**
     * F32 panels go on the heap only while those made so far take at most this many bytes (counted as made, never as
     * freed), so that an f32 checkpoint of many GB falls back to native panels instead of filling the heap.
     */
    private final long heapLimit;
    private long heapBytes;

    /** A cache whose f32 panels may take a quarter of the heap's limit. */
    PackedWeights() {
        this(Runtime.getRuntime().maxMemory() / 4);
    }

    /** A cache whose f32 panels may take {@code heapLimit} bytes of heap (tests: 0 puts every panel in native memory). */
    PackedWeights(long heapLimit) {
        this.heapLimit = heapLimit;
    }

    /** Whether backends cache frozen weights unless told otherwise: yes, unless the property is "false". */
    static boolean enabledByDefault() {
        return !"false".equalsIgnoreCase(System.getProperty(PROPERTY, "true"));
    }

    /**
     * One weight's panels for k blocks of kc: k block p0 (kc = min(kcMax, k − p0) rows) starts at element p0 · slivers ·
     * NR, and within it sliver t at t · NR · kc, k-major, NR values per k, columns past n zero.
     */
    record Packed(MemorySegment panels, DType dtype, int kcMax, long n, long k, int slivers) {
        private static final int NR = GemmKernel.NR;

        /** Byte offset of sliver t of the k block that starts at p0 (kc rows). */
        long offset(long p0, int t, int kc) {
            return (p0 * slivers * NR + (long) t * NR * kc) * dtype.byteSize();
        }

        /** The f32 panels as an array the kernel can read in place, or null when they are BF16, F16 or native. */
        float[] f32Array() {
            return panels.heapBase().orElse(null) instanceof float[] f ? f : null;
        }

        /** Slivers [t0, t1) of the k block at p0 widened to f32 into dst[0 ...], as {@link PackB#pack} would lay them. */
        void widen(long p0, int kc, int t0, int t1, float[] dst) {
            long off = offset(p0, t0, kc);
            int count = (t1 - t0) * NR * kc;
            int es = dtype.byteSize();
            for (int i = 0; i < count; i += GemmKernel.VL) {
                PackB.load(panels, dtype, off + (long) i * es).intoArray(dst, i);
            }
        }
    }

    /** The panels of b (stored [n, k]) for k blocks of kcMax, packed on first use; null when b is not frozen. */
    synchronized Packed get(Tensor b, long n, long k, int kcMax) {
        if (!b.isFrozen()) {
            return null;
        }
        Packed p = byWeight.get(b);
        if (p == null || p.kcMax != kcMax) {
            long bytes = (n + GemmKernel.NR - 1) / GemmKernel.NR * GemmKernel.NR * k * Float.BYTES;
            boolean onHeap = b.dtype() == DType.F32 && bytes / Float.BYTES <= Integer.MAX_VALUE - 8
                    && heapBytes + bytes <= heapLimit;
            if (onHeap) {
                heapBytes += bytes;
            }
            p = pack(b.data(), b.dtype(), n, k, kcMax, onHeap);
            byWeight.put(b, p);
        }
        return p;
    }

    /** How many weights have panels here (tests: a weight is packed once, not once per view or call). */
    synchronized int size() {
        return byWeight.size();
    }

    /**
     * Copies element (j, p) of b to its panel position, each sliver on one thread of {@link Parallel}: a plain copy of the
     * stored bits, once per weight, so the panels hold exactly what {@link PackB} would read. Per sliver and k block the NR
     * rows' runs of kc values come over in bulk copies to a heap array, are transposed there and go back in one bulk copy:
     * element by element through the segments this ran at about 75 million values a second on two cores (FLUX.1-dev's
     * 11.9 billion parameters: over two minutes before the first step).
     */
    private static Packed pack(MemorySegment b, DType dtype, long n, long k, int kcMax, boolean onHeap) {
        int nr = GemmKernel.NR;
        int slivers = Math.toIntExact((n + nr - 1) / nr);
        int es = dtype.byteSize();
        long elements = (long) slivers * nr * k;
        MemorySegment panels = onHeap ? MemorySegment.ofArray(new float[(int) elements])
                : Arena.ofAuto().allocate(elements * es, 64);
        Packed packed = new Packed(panels, dtype, kcMax, n, k, slivers);
        // moved as 16-bit units, w per element (1 for BF16 and F16, 2 for F32): a copy of the bits, whatever they mean
        int w = es / 2;
        int block = nr * (int) Math.min(kcMax, k) * w;
        ValueLayout.OfShort unit = ValueLayout.JAVA_SHORT_UNALIGNED;
        Parallel.forRange(slivers, (long) nr * k, (chunk, from, to) -> {
            short[] rows = new short[block];
            short[] kMajor = new short[block];
            for (int t = from; t < to; t++) {
                int cols = (int) Math.min(nr, n - (long) t * nr);
                for (long p0 = 0; p0 < k; p0 += kcMax) {
                    int kc = (int) Math.min(kcMax, k - p0);
                    for (int c = 0; c < cols; c++) {
                        long src = (((long) t * nr + c) * k + p0) * es;
                        MemorySegment.copy(b, unit, src, rows, c * kc * w, kc * w);
                    }
                    transpose(rows, cols, kc, nr, w, kMajor);
                    MemorySegment.copy(kMajor, 0, panels, unit, packed.offset(p0, t, kc), nr * kc * w);
                }
            }
        });
        return packed;
    }

    /**
     * kMajor[(q·nr + c)·w + u] = rows[(c·kc + q)·w + u] for c < cols, zero for the columns past them, q < kc, u < w:
     * rows of kc elements of w units each, transposed.
     */
    private static void transpose(short[] rows, int cols, int kc, int nr, int w, short[] kMajor) {
        for (int q = 0; q < kc; q++) {
            int o = q * nr * w;
            if (w == 1) {
                // the 16-bit dtypes, most weights: without the unit loop, which took twice as long here
                for (int c = 0; c < cols; c++) {
                    kMajor[o + c] = rows[c * kc + q];
                }
            } else {
                for (int c = 0; c < cols; c++) {
                    int r = (c * kc + q) * w;
                    for (int u = 0; u < w; u++) {
                        kMajor[o + c * w + u] = rows[r + u];
                    }
                }
            }
            Arrays.fill(kMajor, o + cols * w, o + nr * w, (short) 0);
        }
    }
}
