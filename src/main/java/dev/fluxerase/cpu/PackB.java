package dev.fluxerase.cpu;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Packs a block of op(B) into the layout {@link GemmKernel} reads: NR-column slivers, each k-major (the NR values of one k
 * are adjacent), columns past the end zero-filled. B is read in place as F32, BF16 or F16 and widened to f32 here, so the
 * kernel only ever sees f32. B is [k, n] or, transposed (the Linear weight [out, in]), [n, k].
 */
final class PackB {
    private static final VectorSpecies<Float> F = GemmKernel.F;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    /** Half-precision lanes, as many as F has: loaded and widened to F. */
    private static final VectorSpecies<Short> S =
            VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final int VL = GemmKernel.VL;
    private static final int NR = GemmKernel.NR;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private PackB() {
    }

    /**
     * Packs the op(B) block k [p0, p0 + kc) × columns [j0, j0 + nc) into dst, sliver t (columns j0 + t·NR ...) at
     * dst[t·NR·kc]. ldb is the row length of B as stored.
     */
    static void pack(MemorySegment b, DType dtype, boolean transB, long ldb, long p0, int kc, long j0, int nc,
                     float[] dst) {
        int slivers = (nc + NR - 1) / NR;
        if (!transB) {
            packRows(b, dtype, ldb, p0, kc, j0, nc, slivers, dst);
            return;
        }
        for (int t = 0; t < slivers; t++) {
            packTransposed(b, dtype, ldb, p0, kc, j0 + (long) t * NR, Math.min(NR, nc - t * NR), dst, t * NR * kc);
        }
    }

    /**
     * B stored [k, n]: the NR values of one k of a sliver are contiguous, so whole vectors move. Row by row of B, so that
     * the reads run along memory.
     */
    private static void packRows(MemorySegment b, DType dtype, long ldb, long p0, int kc, long j0, int nc, int slivers,
                                 float[] dst) {
        int es = dtype.byteSize();
        for (int k = 0; k < kc; k++) {
            long src = (p0 + k) * ldb + j0;
            for (int t = 0; t < slivers; t++) {
                int o = t * NR * kc + k * NR;
                int cols = Math.min(NR, nc - t * NR);
                long s = src + (long) t * NR;
                if (cols == NR) {
                    for (int v = 0; v < NR; v += VL) {
                        load(b, dtype, (s + v) * es).intoArray(dst, o + v);
                    }
                } else {
                    for (int c = 0; c < cols; c++) {
                        dst[o + c] = Floats.read(b, dtype, s + c);
                    }
                    for (int c = cols; c < NR; c++) {
                        dst[o + c] = 0f;
                    }
                }
            }
        }
    }

    /**
     * B stored [n, k]: each column of the sliver is a contiguous row of B, spread over the packed rows with stride NR: VL
     * values are loaded and widened as a vector, stored to a small array and moved one by one. A scatter store would do
     * the moves at once, but it has no instruction below AVX-512, and its Java fallback took about a tenth of a FLUX
     * forward on AVX2 (tools/vector-fallbacks.sh).
     */
    private static void packTransposed(MemorySegment b, DType dtype, long ldb, long p0, int kc, long j, int cols,
                                       float[] dst, int d) {
        int es = dtype.byteSize();
        int full = kc - kc % VL;
        float[] lanes = new float[VL];
        for (int c = 0; c < cols; c++) {
            long src = (j + c) * ldb + p0;
            int k = 0;
            for (; k < full; k += VL) {
                load(b, dtype, (src + k) * es).intoArray(lanes, 0);
                for (int i = 0; i < VL; i++) {
                    dst[d + (k + i) * NR + c] = lanes[i];
                }
            }
            for (; k < kc; k++) {
                dst[d + k * NR + c] = Floats.read(b, dtype, src + k);
            }
        }
        for (int c = cols; c < NR; c++) {
            for (int k = 0; k < kc; k++) {
                dst[d + k * NR + c] = 0f;
            }
        }
    }

    /** VL consecutive values of b from byte offset off, widened to f32. */
    static FloatVector load(MemorySegment b, DType dtype, long off) {
        return switch (dtype) {
            case F32 -> FloatVector.fromMemorySegment(F, b, off, LE);
            case BF16 -> bf16ToF32(ShortVector.fromMemorySegment(S, b, off, LE));
            case F16 -> f16ToF32(ShortVector.fromMemorySegment(S, b, off, LE));
            default -> throw new IllegalArgumentException("gemm: b must be F32, BF16 or F16, is " + dtype);
        };
    }

    /** bf16 is the upper half of an f32: shifting left by 16 drops the sign extension of the widening. */
    static FloatVector bf16ToF32(ShortVector h) {
        IntVector x = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
        return x.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /**
     * IEEE binary16 → binary32, exact for every input. Exponent and mantissa move up by 13 bits and the exponent is
     * rebiased by 112; Inf/NaN (exponent 31) get a further 112 so their exponent becomes 255 with the payload kept;
     * subnormals (exponent 0) are rebuilt as (2^-14 + m·2^-24) − 2^-14, which is exact in f32.
     */
    static FloatVector f16ToF32(ShortVector h) {
        IntVector x = ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).and(0xffff);
        IntVector em = x.and(0x7fff).lanewise(VectorOperators.LSHL, 13);
        IntVector exp = x.and(0x7c00);
        IntVector sign = x.and(0x8000).lanewise(VectorOperators.LSHL, 16);
        VectorMask<Integer> special = exp.eq(0x7c00);
        VectorMask<Integer> small = exp.eq(0);
        IntVector normal = em.add(112 << 23).add(112 << 23, special);
        FloatVector sub = em.add(113 << 23).reinterpretAsFloats().sub(0x1p-14f);
        IntVector bits = normal.blend(sub.reinterpretAsInts(), small);
        return bits.or(sign).reinterpretAsFloats();
    }
}
