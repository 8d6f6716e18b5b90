package dev.fluxerase.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.nio.ByteOrder;

import com.sun.management.HotSpotDiagnosticMXBean;
import dev.fluxerase.tensor.DType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The register-blocked GEMM micro-kernel: an MR × NR tile of C from an MR-row sliver of packed A (k-major, MR values per k)
 * and an NR-column sliver of packed B (k-major, NR values per k), with NR = 3 vectors. Per k it loads three vectors of B,
 * broadcasts MR values of A and issues 3·MR FMAs into accumulators that stay in registers for the whole k loop; the
 * tile then goes to a small array and {@link #store} merges it into C. (Writing C straight from the registers made the
 * method so large that C2 stopped inlining the Vector API calls.)
 *
 * <p>MR is chosen so that C2 never has to spill an accumulator, which it does when the accumulators, the B vectors and
 * the broadcasts it likes to load ahead do not fit the register file together. 512-bit vectors come with 32 registers
 * (AVX-512): 7 × 3 accumulators + 3 B vectors leave 8 for broadcasts. With 8 × 3 C2 spilled two accumulators to the
 * stack and, depending on where the stack frame fell, the loop ran up to 3× slower. AVX-512 hardware keeps its 32
 * registers when the JVM is held to 256-bit vectors (-XX:MaxVectorSize=32 with UseAVX=3: EVEX encodes ymm16-31), and
 * there 7 × 3 ran 10% faster than 3 × 3 (190 against 173 GFLOP/s, f32 1280×3072×3072, AMD EPYC Zen 5, 2026-12-04).
 * Otherwise (AVX2, or UseAVX=2) 16 registers: 3 × 3 + 3 leave 4; 4 × 3 + 3 left 1, and C2's spills halved the rate
 * (90 GFLOP/s).
 */
final class GemmKernel {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int VL = F.length();
    static final int NR = 3 * VL;
    static final int MR = VL >= 16 || evexRegisters() ? 7 : 3;

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private GemmKernel() {
    }

    /** Whether C2 may use AVX-512's 32 vector registers: x86 with UseAVX ≥ 3 (a flag only HotSpot on x86 has). */
    private static boolean evexRegisters() {
        try {
            String avx = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class).getVMOption("UseAVX")
                    .getValue();
            return Integer.parseInt(avx) >= 3;
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            return false;
        }
    }

    /** tile[r·NR + j] = Σ_k a[ao + k·MR + r] · b[bo + k·NR + j] for the MR × NR tile. */
    static void tile(float[] a, int ao, float[] b, int bo, int kc, float[] t) {
        if (MR == 7) {
            tile7(a, ao, b, bo, kc, t);
        } else {
            tile3(a, ao, b, bo, kc, t);
        }
    }

    static void tile7(float[] a, int ao, float[] b, int bo, int kc, float[] t) {
        FloatVector z = FloatVector.zero(F);
        FloatVector c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z, c30 = z, c31 = z,
                c32 = z, c40 = z, c41 = z, c42 = z, c50 = z, c51 = z, c52 = z, c60 = z, c61 = z, c62 = z;
        for (int k = 0; k < kc; k++) {
            int bk = bo + k * NR;
            int ak = ao + k * 7;
            FloatVector b0 = FloatVector.fromArray(F, b, bk);
            FloatVector b1 = FloatVector.fromArray(F, b, bk + VL);
            FloatVector b2 = FloatVector.fromArray(F, b, bk + 2 * VL);
            FloatVector x = FloatVector.broadcast(F, a[ak]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            c02 = x.fma(b2, c02);
            x = FloatVector.broadcast(F, a[ak + 1]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            c12 = x.fma(b2, c12);
            x = FloatVector.broadcast(F, a[ak + 2]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            c22 = x.fma(b2, c22);
            x = FloatVector.broadcast(F, a[ak + 3]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            c32 = x.fma(b2, c32);
            x = FloatVector.broadcast(F, a[ak + 4]);
            c40 = x.fma(b0, c40);
            c41 = x.fma(b1, c41);
            c42 = x.fma(b2, c42);
            x = FloatVector.broadcast(F, a[ak + 5]);
            c50 = x.fma(b0, c50);
            c51 = x.fma(b1, c51);
            c52 = x.fma(b2, c52);
            x = FloatVector.broadcast(F, a[ak + 6]);
            c60 = x.fma(b0, c60);
            c61 = x.fma(b1, c61);
            c62 = x.fma(b2, c62);
        }
        c00.intoArray(t, 0);
        c01.intoArray(t, VL);
        c02.intoArray(t, 2 * VL);
        c10.intoArray(t, 3 * VL);
        c11.intoArray(t, 4 * VL);
        c12.intoArray(t, 5 * VL);
        c20.intoArray(t, 6 * VL);
        c21.intoArray(t, 7 * VL);
        c22.intoArray(t, 8 * VL);
        c30.intoArray(t, 9 * VL);
        c31.intoArray(t, 10 * VL);
        c32.intoArray(t, 11 * VL);
        c40.intoArray(t, 12 * VL);
        c41.intoArray(t, 13 * VL);
        c42.intoArray(t, 14 * VL);
        c50.intoArray(t, 15 * VL);
        c51.intoArray(t, 16 * VL);
        c52.intoArray(t, 17 * VL);
        c60.intoArray(t, 18 * VL);
        c61.intoArray(t, 19 * VL);
        c62.intoArray(t, 20 * VL);
    }

    static void tile3(float[] a, int ao, float[] b, int bo, int kc, float[] t) {
        FloatVector z = FloatVector.zero(F);
        FloatVector c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z;
        for (int k = 0; k < kc; k++) {
            int bk = bo + k * NR;
            int ak = ao + k * 3;
            FloatVector b0 = FloatVector.fromArray(F, b, bk);
            FloatVector b1 = FloatVector.fromArray(F, b, bk + VL);
            FloatVector b2 = FloatVector.fromArray(F, b, bk + 2 * VL);
            FloatVector x = FloatVector.broadcast(F, a[ak]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            c02 = x.fma(b2, c02);
            x = FloatVector.broadcast(F, a[ak + 1]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            c12 = x.fma(b2, c12);
            x = FloatVector.broadcast(F, a[ak + 2]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            c22 = x.fma(b2, c22);
        }
        c00.intoArray(t, 0);
        c01.intoArray(t, VL);
        c02.intoArray(t, 2 * VL);
        c10.intoArray(t, 3 * VL);
        c11.intoArray(t, 4 * VL);
        c12.intoArray(t, 5 * VL);
        c20.intoArray(t, 6 * VL);
        c21.intoArray(t, 7 * VL);
        c22.intoArray(t, 8 * VL);
    }

    /**
     * Row to/NR of a tile from one row of a packed A sliver (a[ao + k·MR]) and a B sliver read from packed panels in
     * their stored dtype at byte offset off (k-major, NR values per k), widened in registers: the same FMA chain per
     * element as {@link #tile}, so the same bits, without the MR − 1 other rows or the f32 copy of B.
     */
    static void row(float[] a, int ao, MemorySegment b, DType dtype, long off, int kc, float[] t, int to) {
        long es = dtype.byteSize();
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0;
        for (int k = 0; k < kc; k++) {
            long bk = off + k * NR * es;
            FloatVector x = FloatVector.broadcast(F, a[ao + k * MR]);
            c0 = x.fma(PackB.load(b, dtype, bk), c0);
            c1 = x.fma(PackB.load(b, dtype, bk + VL * es), c1);
            c2 = x.fma(PackB.load(b, dtype, bk + 2 * VL * es), c2);
        }
        c0.intoArray(t, to);
        c1.intoArray(t, to + VL);
        c2.intoArray(t, to + 2 * VL);
    }

    /**
     * Merges a computed tile into C: for the first k block c = alpha·tile + beta·c (c not read when beta is 0), for later
     * blocks c += alpha·tile. rows × cols is the part of the tile inside C; c is addressed in elements with row stride ldc.
     */
    static void store(float[] t, MemorySegment c, long cOff, long ldc, int rows, int cols, float alpha, float beta,
                      boolean first) {
        boolean overwrite = first && beta == 0;
        float bc = first ? beta : 1f;
        FloatVector va = FloatVector.broadcast(F, alpha);
        FloatVector vb = FloatVector.broadcast(F, bc);
        int full = cols - cols % VL;
        for (int r = 0; r < rows; r++) {
            long base = (cOff + r * ldc) * Float.BYTES;
            int to = r * NR;
            int j = 0;
            for (; j < full; j += VL) {
                FloatVector v = FloatVector.fromArray(F, t, to + j).mul(va);
                long off = base + (long) j * Float.BYTES;
                if (!overwrite) {
                    v = FloatVector.fromMemorySegment(F, c, off, LE).fma(vb, v);
                }
                v.intoMemorySegment(c, off, LE);
            }
            for (; j < cols; j++) {
                long off = base + (long) j * Float.BYTES;
                float v = alpha * t[to + j];
                c.set(F32, off, overwrite ? v : v + bc * c.get(F32, off));
            }
        }
    }

    /** The same for C in a float[] (cOff and ldc in elements). */
    static void store(float[] t, float[] c, int cOff, int ldc, int rows, int cols, float alpha, float beta, boolean first) {
        boolean overwrite = first && beta == 0;
        float bc = first ? beta : 1f;
        FloatVector va = FloatVector.broadcast(F, alpha);
        FloatVector vb = FloatVector.broadcast(F, bc);
        int full = cols - cols % VL;
        for (int r = 0; r < rows; r++) {
            int base = cOff + r * ldc;
            int to = r * NR;
            int j = 0;
            for (; j < full; j += VL) {
                FloatVector v = FloatVector.fromArray(F, t, to + j).mul(va);
                if (!overwrite) {
                    v = FloatVector.fromArray(F, c, base + j).fma(vb, v);
                }
                v.intoArray(c, base + j);
            }
            for (; j < cols; j++) {
                float v = alpha * t[to + j];
                c[base + j] = overwrite ? v : v + bc * c[base + j];
            }
        }
    }
}
