package dev.fluxerase.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import com.sun.management.HotSpotDiagnosticMXBean;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

/**
 * CpuGemm against a double-accumulation triple loop. Whatever order the kernel sums in, with FMA each output differs from
 * the exact value by at most about k·u·Σ|a·b| (u = 2⁻²⁴), plus a rounding each for alpha and beta; the check allows
 * (k + 4)·eps (eps = 2⁻²³ = 2u) times |alpha|·Σ|a·b| + |beta·c|, a rigorous bound with a factor 2 of slack. B in BF16/F16
 * is compared with the reference reading the same stored values, so the widening in the packing must be exact. Wrong
 * indexing or a lost k term shows as an error of order |a·b| ≈ 0.1, far above the bound.
 */
class CpuGemmTest {
    private static final DType[] B_TYPES = {DType.F32, DType.BF16, DType.F16};
    private static final float EPS = Math.ulp(1f);
    private final Arena arena = Arena.ofShared();

    @AfterEach
    void close() {
        arena.close();
    }

    @Test
    void everyLayoutDtypeAndOddSize() {
        int[][] sizes = {{1, 1, 1}, {7, 33, 65}, {33, 7, 129}, {65, 129, 33}, {9, 300, 1}, {1, 65, 300}, {129, 1, 7}};
        float[][] alphaBeta = {{1f, 0f}, {-0.75f, 0f}, {1.5f, 0.5f}, {1f, 1f}};
        Random rnd = new Random(42);
        int cases = 0;
        for (int[] s : sizes) {
            for (boolean transA : new boolean[]{false, true}) {
                for (boolean transB : new boolean[]{false, true}) {
                    for (DType bt : B_TYPES) {
                        for (float[] ab : alphaBeta) {
                            boolean nat = (cases & 1) == 0;
                            int threads = 1 + cases % 3;
                            check(rnd, s[0], s[1], s[2], transA, transB, bt, ab[0], ab[1], nat, threads);
                            cases++;
                        }
                    }
                }
            }
        }
        assertEquals(sizes.length * 2 * 2 * 3 * alphaBeta.length, cases);
    }

    /** Several k blocks, a column-block split that is not a multiple of NR, M and N tails, all thread counts. */
    @Test
    void acrossBlocksAndThreads() {
        Random rnd = new Random(7);
        int k = 2 * CpuGemm.DEFAULT.kc() + 5;
        int n = GemmKernel.NR * (CpuGemm.DEFAULT.ncSlivers() + 1) + 3;
        for (int threads = 1; threads <= 3; threads++) {
            check(rnd, GemmKernel.MR + 3, k, n, false, true, B_TYPES[threads - 1], 1f, 0f, threads % 2 == 0, threads);
            check(rnd, 2 * GemmKernel.MR + 5, k, n, true, false, DType.F32, 0.5f, -2f, threads != 2, threads);
        }
    }

    /** A panel limit of one sliver's worth of k: rows are done in several panels, each repacking B. */
    @Test
    void severalPanels() {
        Random rnd = new Random(3);
        int k = CpuGemm.DEFAULT.kc() + 77;
        CpuGemm.Blocking panel = new CpuGemm.Blocking(CpuGemm.DEFAULT.kc(), CpuGemm.DEFAULT.ncSlivers(),
                GemmKernel.MR * k + 5, 3);
        check(rnd, 4 * GemmKernel.MR + 3, k, GemmKernel.NR + 9, false, false, DType.BF16, 1f, 0f, true, 2, panel);
        check(rnd, 3 * GemmKernel.MR - 1, k, 5, true, true, DType.F16, 2f, 1f, false, 3, panel);
        check(rnd, 2 * GemmKernel.MR, k, 2 * GemmKernel.NR, true, false, DType.F32, 1f, 0f, false, 1, panel);
    }

    /** C as rows of a larger tensor (heap and native): the result lands in the slice and nothing outside changes. */
    @Test
    void resultIntoARowSliceLeavesTheRestAlone() {
        Random rnd = new Random(13);
        int m = 2 * GemmKernel.MR + 1;
        int k = 37;
        int n = GemmKernel.NR + 5;
        for (boolean nativeMemory : new boolean[]{false, true}) {
            Tensor a = random(rnd, DType.F32, nativeMemory, m, k);
            Tensor b = random(rnd, DType.BF16, nativeMemory, n, k);
            Tensor whole = random(rnd, DType.F32, nativeMemory, m + 3, n);
            float[] before = Floats.toF32(whole);
            Tensor c = whole.sliceRows(2, m);
            Expected want = reference(false, true, 0.5f, a, b, 2f, c);
            CpuGemm.gemm(false, true, 0.5f, a, b, 2f, c, 2, CpuGemm.DEFAULT);
            assertClose(want, c, "row slice " + (nativeMemory ? "native" : "heap"));
            float[] after = Floats.toF32(whole);
            for (int i = 0; i < before.length; i++) {
                if (i < 2 * n || i >= (2 + m) * n) {
                    assertEquals(before[i], after[i], "element " + i + " outside the slice");
                }
            }
        }
    }

    /** The public entry point picks threads by size; a FLUX-like Linear at reduced width checks it end to end. */
    @Test
    void publicEntryPointLinearForward() {
        Random rnd = new Random(11);
        Tensor x = random(rnd, DType.F32, false, 96, 200);
        Tensor w = random(rnd, DType.BF16, true, 150, 200);
        Tensor y = nanFilled(false, 96, 150);
        Expected want = reference(false, true, 1f, x, w, 0f, y);
        CpuGemm.gemm(false, true, 1f, x, w, 0f, y);
        assertClose(want, y, "public linear");
    }

    /**
     * A frozen weight served from its packed panels gives the bits of packing it per call, for every dtype, few rows (the
     * row-by-row path) and many, several k blocks and an n that leaves a part sliver; a repeated call reuses the panels.
     * F32 panels are read in place from the heap, or, with no heap allowed them, widened from native memory as the
     * others are.
     */
    @ParameterizedTest
    @ValueSource(longs = {0, Long.MAX_VALUE})
    void packedFrozenWeightsGiveTheSameBits(long heapLimit) {
        Random rnd = new Random(17);
        int k = 2 * CpuGemm.DEFAULT.kc() + 9;
        int n = 2 * GemmKernel.NR + 5;
        PackedWeights cache = new PackedWeights(heapLimit);
        for (DType bt : B_TYPES) {
            Tensor w = random(rnd, bt, true, n, k).frozen();
            for (int m : new int[]{1, CpuGemm.ROWWISE_ROWS, CpuGemm.ROWWISE_ROWS + 1, GemmKernel.MR + 1, 16, 40}) {
                for (int threads = 1; threads <= 2; threads++) {
                    Tensor x = random(rnd, DType.F32, false, m, k);
                    Tensor c0 = random(rnd, DType.F32, false, m, n);
                    Tensor want = Tensor.of(Floats.toF32(c0), m, n);
                    CpuGemm.gemm(false, true, 0.5f, x, w, 1.5f, want, threads, CpuGemm.DEFAULT);
                    for (int call = 0; call < 2; call++) {
                        Tensor got = Tensor.of(Floats.toF32(c0), m, n);
                        CpuGemm.gemm(false, true, 0.5f, x, w, 1.5f, got, threads, CpuGemm.DEFAULT, cache);
                        assertArrayEquals(Floats.toF32(want), got);
                    }
                }
            }
            if (bt == DType.F32) {
                assertEquals(heapLimit > 0, cache.get(w, n, k, CpuGemm.DEFAULT.kc()).f32Array() != null,
                        "f32 panels on the heap");
            }
        }
    }

    /**
     * Only frozen tensors are cached, each under its own object: a weight that is not frozen and changes between calls
     * gives the new product, and a second frozen tensor over other values is not served the first one's panels.
     */
    @Test
    void changedOrOtherWeightsAreNeverServedFromTheCache() {
        Random rnd = new Random(19);
        int m = 3;
        int k = 70;
        int n = GemmKernel.NR + 1;
        PackedWeights cache = new PackedWeights();
        Tensor x = random(rnd, DType.F32, false, m, k);
        Tensor w = random(rnd, DType.BF16, true, n, k);
        Tensor y = Tensor.zeros(m, n);
        CpuGemm.gemm(false, true, 1f, x, w, 0f, y, 1, CpuGemm.DEFAULT, cache);
        w.data().copyFrom(random(rnd, DType.BF16, true, n, k).data());
        Expected changed = reference(false, true, 1f, x, w, 0f, y);
        CpuGemm.gemm(false, true, 1f, x, w, 0f, y, 1, CpuGemm.DEFAULT, cache);
        assertClose(changed, y, "changed weight that is not frozen");

        Tensor first = random(rnd, DType.BF16, true, n, k).frozen();
        CpuGemm.gemm(false, true, 1f, x, first, 0f, y, 1, CpuGemm.DEFAULT, cache);
        assertClose(reference(false, true, 1f, x, first, 0f, y), y, "first frozen weight");
        Tensor second = Tensor.wrap(DType.BF16, arena.allocate(first.byteSize()), n, k);
        second.data().copyFrom(random(rnd, DType.BF16, true, n, k).data());
        Tensor secondFrozen = second.frozen();
        CpuGemm.gemm(false, true, 1f, x, secondFrozen, 0f, y, 1, CpuGemm.DEFAULT, cache);
        assertClose(reference(false, true, 1f, x, second, 0f, y), y, "second frozen weight");
        assertTrue(!first.view(n, k).isFrozen(), "a view of a frozen tensor is not frozen");
    }

    /** Memory of a confined arena may only be touched by its owner, so the GEMM must stay on the calling thread. */
    @Test
    void confinedMemoryStaysOnTheCaller() {
        try (Arena confined = Arena.ofConfined()) {
            int m = 40;
            int k = 50;
            int n = 60;
            Random rnd = new Random(5);
            Tensor a = Tensor.wrap(DType.F32, confined.allocate(4L * m * k), m, k);
            Tensor b = Tensor.wrap(DType.F32, confined.allocate(4L * k * n), k, n);
            for (long i = 0; i < a.numel(); i++) {
                a.set(i, rnd.nextFloat() - 0.5f);
            }
            for (long i = 0; i < b.numel(); i++) {
                b.set(i, rnd.nextFloat() - 0.5f);
            }
            Tensor c = Tensor.zeros(m, n);
            Expected want = reference(false, false, 1f, a, b, 0f, c);
            CpuGemm.gemm(false, false, 1f, a, b, 0f, c, 2, CpuGemm.DEFAULT);
            assertClose(want, c, "confined");
        }
    }

    @Test
    void emptyDimensions() {
        Tensor c = Tensor.of(new float[]{1, 2, 3, 4, 5, 6}, 2, 3);
        CpuGemm.gemm(false, false, 1f, Tensor.zeros(2, 0), Tensor.zeros(0, 3), 0.5f, c);
        assertArrayEquals(new float[]{0.5f, 1, 1.5f, 2, 2.5f, 3}, c);
        Tensor nan = nanFilled(true, 2, 3);
        CpuGemm.gemm(true, true, 1f, Tensor.zeros(0, 2), Tensor.zeros(3, 0), 0f, nan);
        assertArrayEquals(new float[6], nan);
        Tensor empty = Tensor.zeros(0, 3);
        CpuGemm.gemm(false, false, 1f, Tensor.zeros(0, 4), Tensor.zeros(4, 3), 0f, empty);
        CpuGemm.gemm(false, false, 1f, Tensor.zeros(2, 4), Tensor.zeros(4, 0), 0f, Tensor.zeros(2, 0));
    }

    @Test
    void handWorked() {
        // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50]; with alpha 2 and beta -1 on c = [1 1; 1 1].
        Tensor a = Tensor.of(new float[]{1, 2, 3, 4}, 2, 2);
        Tensor b = Tensor.of(new float[]{5, 6, 7, 8}, 2, 2);
        Tensor c = Tensor.of(new float[]{1, 1, 1, 1}, 2, 2);
        CpuGemm.gemm(false, false, 2f, a, b, -1f, c);
        assertArrayEquals(new float[]{37, 43, 85, 99}, c);
        // aᵀ·bᵀ = [1 3; 2 4]·[5 7; 6 8] = [23 31; 34 46]
        Tensor d = Tensor.zeros(2, 2);
        CpuGemm.gemm(true, true, 1f, a, b, 0f, d);
        assertArrayEquals(new float[]{23, 31, 34, 46}, d);
    }

    @Test
    void rejectsBadShapesAndDtypes() {
        Tensor a = Tensor.zeros(4, 5);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CpuGemm.gemm(false, false, 1f, a, Tensor.zeros(6, 3), 0f, Tensor.zeros(4, 3)));
        assertEquals("gemm: op(a) 4x5 from a [4, 5], op(b) 6x3 from b [6, 3] and c [4, 3] do not fit (c must be 4x3)",
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> CpuGemm.gemm(false, true, 1f, a, Tensor.zeros(3, 5), 0f, Tensor.zeros(4, 4)));
        assertEquals("gemm: op(a) 4x5 from a [4, 5], op(b) 5x3 from b [3, 5]ᵀ and c [4, 4] do not fit (c must be 4x3)",
                e.getMessage());
        Tensor bf = Tensor.wrap(DType.BF16, MemorySegment.ofArray(new short[20]), 4, 5);
        e = assertThrows(IllegalArgumentException.class,
                () -> CpuGemm.gemm(false, true, 1f, bf, Tensor.zeros(3, 5), 0f, Tensor.zeros(4, 3)));
        assertEquals("gemm: a must be F32, got [4, 5] BF16", e.getMessage());
        Tensor i32 = Tensor.wrap(DType.I32, MemorySegment.ofArray(new int[15]), 3, 5);
        e = assertThrows(IllegalArgumentException.class,
                () -> CpuGemm.gemm(false, true, 1f, a, i32, 0f, Tensor.zeros(4, 3)));
        assertEquals("gemm: b must be F32, BF16 or F16, got [3, 5] I32", e.getMessage());
    }

    /** Every one of the 65536 bit patterns widens exactly as the scalar conversions do (NaNs stay NaN). */
    @Test
    void halfPrecisionWideningIsExact() {
        MemorySegment all = arena.allocate(65536L * 2 + 2, 2).asSlice(2);
        for (int i = 0; i < 65536; i++) {
            all.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) i);
        }
        int vl = GemmKernel.VL;
        float[] out = new float[vl];
        for (DType t : new DType[]{DType.BF16, DType.F16}) {
            for (int i = 0; i < 65536; i += vl) {
                PackB.load(all, t, (long) i * 2).intoArray(out, 0);
                for (int l = 0; l < vl; l++) {
                    float want = Floats.read(all, t, i + l);
                    boolean same = Float.isNaN(want) ? Float.isNaN(out[l])
                            : Float.floatToRawIntBits(want) == Float.floatToRawIntBits(out[l]);
                    if (!same) {
                        fail(t + " bits 0x" + Integer.toHexString(i + l) + ": " + out[l] + " instead of " + want);
                    }
                }
            }
        }
    }

    // ---- helpers --------------------------------------------------------------------------------------------------------

    private void check(Random rnd, int m, int k, int n, boolean transA, boolean transB, DType bt, float alpha, float beta,
                       boolean nativeMemory, int threads) {
        check(rnd, m, k, n, transA, transB, bt, alpha, beta, nativeMemory, threads, CpuGemm.DEFAULT);
    }

    private void check(Random rnd, int m, int k, int n, boolean transA, boolean transB, DType bt, float alpha, float beta,
                       boolean nativeMemory, int threads, CpuGemm.Blocking blocking) {
        Tensor a = transA ? random(rnd, DType.F32, nativeMemory, k, m) : random(rnd, DType.F32, nativeMemory, m, k);
        Tensor b = transB ? random(rnd, bt, !nativeMemory, n, k) : random(rnd, bt, !nativeMemory, k, n);
        Tensor c = beta == 0 ? nanFilled(nativeMemory, m, n) : random(rnd, DType.F32, nativeMemory, m, n);
        Expected want = reference(transA, transB, alpha, a, b, beta, c);
        CpuGemm.gemm(transA, transB, alpha, a, b, beta, c, threads, blocking);
        String what = m + "x" + k + "x" + n + (transA ? " aT" : "") + (transB ? " bT" : "") + " b " + bt + " alpha "
                + alpha + " beta " + beta + (nativeMemory ? " native" : " heap") + " threads " + threads + " "
                + blocking;
        assertClose(want, c, what);
    }

    /** Exact-in-double value and the allowed error of every element of alpha·op(a)·op(b) + beta·c. */
    private record Expected(double[] value, double[] tolerance) {
    }

    private static Expected reference(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta,
                                      Tensor c) {
        int m = (int) c.rows();
        int n = (int) c.cols();
        int k = (int) (transA ? a.rows() : a.cols());
        float[] af = Floats.toF32(a);
        float[] bf = Floats.toF32(b);
        double[] value = new double[m * n];
        double[] tolerance = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                double mag = 0;
                for (int p = 0; p < k; p++) {
                    double av = transA ? af[p * m + i] : af[i * k + p];
                    double prod = av * (transB ? bf[j * k + p] : bf[p * n + j]);
                    s += prod;
                    mag += Math.abs(prod);
                }
                double old = beta == 0 ? 0 : (double) beta * c.get((long) i * n + j);
                value[i * n + j] = alpha * s + old;
                tolerance[i * n + j] = (k + 4) * EPS * (Math.abs(alpha) * mag + Math.abs(old)) + Float.MIN_NORMAL;
            }
        }
        return new Expected(value, tolerance);
    }

    private static void assertClose(Expected want, Tensor got, String what) {
        for (int i = 0; i < want.value().length; i++) {
            float v = got.get(i);
            if (!(Math.abs(v - want.value()[i]) <= want.tolerance()[i])) {
                fail(what + ": c[" + i / got.cols() + ", " + i % got.cols() + "] = " + v + ", expected "
                        + want.value()[i] + " ± " + want.tolerance()[i]);
            }
        }
    }

    private Tensor random(Random rnd, DType dtype, boolean nativeMemory, long rows, long cols) {
        int count = Math.toIntExact(rows * cols);
        long bytes = (long) count * dtype.byteSize();
        // Native tensors start 4 bytes into an allocation, as slices of a mapped file may: nothing may assume alignment.
        MemorySegment s = nativeMemory ? arena.allocate(bytes + 4, 64).asSlice(4, bytes)
                : dtype == DType.F32 ? MemorySegment.ofArray(new float[count]) : MemorySegment.ofArray(new short[count]);
        for (int i = 0; i < count; i++) {
            float v = rnd.nextFloat() * 2 - 1;
            switch (dtype) {
                case F32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v);
                case BF16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Floats.f32ToBf16(v));
                case F16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Floats.f32ToF16(v));
                default -> throw new IllegalArgumentException(dtype.name());
            }
        }
        return Tensor.wrap(dtype, s, rows, cols);
    }

    private Tensor nanFilled(boolean nativeMemory, long rows, long cols) {
        Tensor t = nativeMemory ? Tensor.wrap(DType.F32, arena.allocate(rows * cols * 4, 64), rows, cols)
                : Tensor.zeros(rows, cols);
        for (long i = 0; i < t.numel(); i++) {
            t.set(i, Float.NaN);
        }
        return t;
    }

    private static void assertArrayEquals(float[] want, Tensor got) {
        org.junit.jupiter.api.Assertions.assertArrayEquals(want, Floats.toF32(got), got.toString());
    }

    /**
     * The tile's row count follows the register file, not the vector width: 7 rows whenever C2 has AVX-512's 32
     * registers (also with -XX:MaxVectorSize=32), 3 with AVX2's 16, where a larger tile spills (bench/README.md).
     */
    @Test
    void tileRowsFollowTheRegisterFile() {
        assumeTrue(System.getProperty("os.arch").matches("amd64|x86_64"), "UseAVX is an x86 HotSpot flag");
        String avx = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class).getVMOption("UseAVX")
                .getValue();
        assertEquals(Integer.parseInt(avx) >= 3 ? 7 : 3, GemmKernel.MR, "UseAVX=" + avx + ", " + GemmKernel.VL
                + " lanes");
    }
}
