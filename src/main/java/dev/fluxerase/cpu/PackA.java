package dev.fluxerase.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Packs rows of op(A) into the layout {@link GemmKernel} reads: MR-row slivers, each k-major (the MR values of one k are
 * adjacent), rows past the end zero-filled so the kernel never needs a row tail. A is F32, [m, k] or, transposed, [k, m].
 */
final class PackA {
    private static final VectorSpecies<Float> F = GemmKernel.F;
    private static final int VL = GemmKernel.VL;
    private static final int MR = GemmKernel.MR;
    /** The fewest lanes that hold MR floats, with a mask of the first MR: one k of a transposed A in one move. */
    static final VectorSpecies<Float> ROW =
            VectorSpecies.of(float.class, VectorShape.forBitSize(Integer.highestOneBit(MR * 2 - 1) * Float.SIZE));
    static final VectorMask<Float> ROW_MASK = ROW.indexInRange(0, MR);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private PackA() {
    }

    /**
     * Packs slivers [s0, s1) of the op(A) block rows [i0, i0 + mc) × k [p0, p0 + kc) into dst, sliver s at
     * dst[off + s·MR·kc]. lda is the row length of A as stored.
     */
    static void pack(MemorySegment a, boolean transA, long lda, long i0, int mc, long p0, int kc, int s0, int s1,
                     float[] dst, int off) {
        for (int s = s0; s < s1; s++) {
            int d = off + s * MR * kc;
            int rows = Math.min(MR, mc - s * MR);
            long i = i0 + (long) s * MR;
            if (transA) {
                packTransposed(a, lda, i, rows, p0, kc, dst, d);
            } else {
                packRows(a, lda, i, rows, p0, kc, dst, d);
            }
        }
    }

    /**
     * A stored [m, k]: each row of the sliver is contiguous in k and goes to the packed sliver with stride MR, VL values
     * loaded at once and moved one by one, for the reason given at {@link PackB}'s packTransposed.
     */
    private static void packRows(MemorySegment a, long lda, long i, int rows, long p0, int kc, float[] dst, int d) {
        int full = kc - kc % VL;
        float[] lanes = new float[VL];
        for (int r = 0; r < rows; r++) {
            long src = ((i + r) * lda + p0) * Float.BYTES;
            int k = 0;
            for (; k < full; k += VL) {
                FloatVector.fromMemorySegment(F, a, src + (long) k * Float.BYTES, LE).intoArray(lanes, 0);
                for (int l = 0; l < VL; l++) {
                    dst[d + (k + l) * MR + r] = lanes[l];
                }
            }
            for (; k < kc; k++) {
                dst[d + k * MR + r] = a.get(F32, src + (long) k * Float.BYTES);
            }
        }
        for (int r = rows; r < MR; r++) {
            for (int k = 0; k < kc; k++) {
                dst[d + k * MR + r] = 0f;
            }
        }
    }

    /** A stored [k, m]: the MR values of one k are already adjacent. */
    private static void packTransposed(MemorySegment a, long lda, long i, int rows, long p0, int kc, float[] dst, int d) {
        for (int k = 0; k < kc; k++) {
            long src = ((p0 + k) * lda + i) * Float.BYTES;
            int o = d + k * MR;
            if (rows == MR) {
                FloatVector.fromMemorySegment(ROW, a, src, LE, ROW_MASK).intoArray(dst, o, ROW_MASK);
                continue;
            }
            for (int r = 0; r < rows; r++) {
                dst[o + r] = a.get(F32, src + (long) r * Float.BYTES);
            }
            for (int r = rows; r < MR; r++) {
                dst[o + r] = 0f;
            }
        }
    }
}
