package dev.fluxerase.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The register-blocked GEMM micro-kernel: an MR × NR tile of C from an MR-row sliver of packed A (k-major, MR values per k)
 * and an NR-column sliver of packed B (k-major, NR values per k), with NR = 3 vectors. Per k it loads three vectors of B,
 * broadcasts MR values of A and issues 3·MR FMAs into accumulators that stay in registers for the whole k loop.
 *
 * <p>MR follows the register file: 512-bit vectors come with 32 registers (AVX-512), which hold 8 × 3 accumulators plus
 * the B vectors and broadcasts; narrower vectors are assumed to have 16 (AVX2), which hold 4 × 3.
 */
final class GemmKernel {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int VL = F.length();
    static final int NV = 3;
    static final int NR = NV * VL;
    static final int MR = VL >= 16 ? 8 : 4;

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Bytes of one vector. */
    private static final long VB = (long) VL * Float.BYTES;

    private GemmKernel() {
    }

    /**
     * One MR × NR tile: acc[r][j] = Σ_k a[ao + k·MR + r] · b[bo + k·NR + j], then c = alpha·acc + beta·c at byte offset
     * off (row stride ldc bytes), c not read when overwrite. The accumulators go straight from registers to c.
     */
    static void tile(float[] a, int ao, float[] b, int bo, int kc, MemorySegment c, long off, long ldc, float alpha,
                     float beta, boolean overwrite) {
        if (MR == 8) {
            tile8(a, ao, b, bo, kc, c, off, ldc, alpha, beta, overwrite);
        } else {
            tile4(a, ao, b, bo, kc, c, off, ldc, alpha, beta, overwrite);
        }
    }

    static void tile8(float[] a, int ao, float[] b, int bo, int kc, MemorySegment c, long off, long ldc, float alpha,
                      float beta, boolean overwrite) {
        FloatVector z = FloatVector.zero(F);
        FloatVector c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z, c30 = z, c31 = z,
                c32 = z, c40 = z, c41 = z, c42 = z, c50 = z, c51 = z, c52 = z, c60 = z, c61 = z, c62 = z, c70 = z, c71 = z,
                c72 = z;
        for (int k = 0; k < kc; k++) {
            int bk = bo + k * NR;
            int ak = ao + k * 8;
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
            x = FloatVector.broadcast(F, a[ak + 7]);
            c70 = x.fma(b0, c70);
            c71 = x.fma(b1, c71);
            c72 = x.fma(b2, c72);
        }
        FloatVector va = FloatVector.broadcast(F, alpha);
        FloatVector vb = FloatVector.broadcast(F, beta);
        put(c00, c, off, va, vb, overwrite);
        put(c01, c, off + VB, va, vb, overwrite);
        put(c02, c, off + 2 * VB, va, vb, overwrite);
        put(c10, c, off + ldc, va, vb, overwrite);
        put(c11, c, off + ldc + VB, va, vb, overwrite);
        put(c12, c, off + ldc + 2 * VB, va, vb, overwrite);
        put(c20, c, off + 2 * ldc, va, vb, overwrite);
        put(c21, c, off + 2 * ldc + VB, va, vb, overwrite);
        put(c22, c, off + 2 * ldc + 2 * VB, va, vb, overwrite);
        put(c30, c, off + 3 * ldc, va, vb, overwrite);
        put(c31, c, off + 3 * ldc + VB, va, vb, overwrite);
        put(c32, c, off + 3 * ldc + 2 * VB, va, vb, overwrite);
        put(c40, c, off + 4 * ldc, va, vb, overwrite);
        put(c41, c, off + 4 * ldc + VB, va, vb, overwrite);
        put(c42, c, off + 4 * ldc + 2 * VB, va, vb, overwrite);
        put(c50, c, off + 5 * ldc, va, vb, overwrite);
        put(c51, c, off + 5 * ldc + VB, va, vb, overwrite);
        put(c52, c, off + 5 * ldc + 2 * VB, va, vb, overwrite);
        put(c60, c, off + 6 * ldc, va, vb, overwrite);
        put(c61, c, off + 6 * ldc + VB, va, vb, overwrite);
        put(c62, c, off + 6 * ldc + 2 * VB, va, vb, overwrite);
        put(c70, c, off + 7 * ldc, va, vb, overwrite);
        put(c71, c, off + 7 * ldc + VB, va, vb, overwrite);
        put(c72, c, off + 7 * ldc + 2 * VB, va, vb, overwrite);
    }

    static void tile4(float[] a, int ao, float[] b, int bo, int kc, MemorySegment c, long off, long ldc, float alpha,
                      float beta, boolean overwrite) {
        FloatVector z = FloatVector.zero(F);
        FloatVector c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z, c30 = z, c31 = z,
                c32 = z;
        for (int k = 0; k < kc; k++) {
            int bk = bo + k * NR;
            int ak = ao + k * 4;
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
        }
        FloatVector va = FloatVector.broadcast(F, alpha);
        FloatVector vb = FloatVector.broadcast(F, beta);
        put(c00, c, off, va, vb, overwrite);
        put(c01, c, off + VB, va, vb, overwrite);
        put(c02, c, off + 2 * VB, va, vb, overwrite);
        put(c10, c, off + ldc, va, vb, overwrite);
        put(c11, c, off + ldc + VB, va, vb, overwrite);
        put(c12, c, off + ldc + 2 * VB, va, vb, overwrite);
        put(c20, c, off + 2 * ldc, va, vb, overwrite);
        put(c21, c, off + 2 * ldc + VB, va, vb, overwrite);
        put(c22, c, off + 2 * ldc + 2 * VB, va, vb, overwrite);
        put(c30, c, off + 3 * ldc, va, vb, overwrite);
        put(c31, c, off + 3 * ldc + VB, va, vb, overwrite);
        put(c32, c, off + 3 * ldc + 2 * VB, va, vb, overwrite);
    }

    private static void put(FloatVector acc, MemorySegment c, long off, FloatVector va, FloatVector vb,
                            boolean overwrite) {
        FloatVector v = acc.mul(va);
        if (!overwrite) {
            v = FloatVector.fromMemorySegment(F, c, off, LE).fma(vb, v);
        }
        v.intoMemorySegment(c, off, LE);
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
}
