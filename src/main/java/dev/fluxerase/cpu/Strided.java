package dev.fluxerase.cpu;

import dev.fluxerase.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * Strided 4-D F32 copy (head split/merge, sequence concatenation, column ranges). The backward of a copy is the same copy
 * with src and dst swapped and accumulate set, so there is nothing to save.
 */
final class Strided {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private Strided() {
    }

    /** Validates ranks and that every addressed element lies inside its tensor. */
    static void check(Tensor src, long srcOffset, long[] srcStrides, Tensor dst, long dstOffset, long[] dstStrides,
                      long[] sizes) {
        String op = "copyStrided";
        Checks.f32(op, "src", src);
        Checks.f32(op, "dst", dst);
        Checks.require(sizes.length == 4 && srcStrides.length == 4 && dstStrides.length == 4,
                op + ": sizes and strides must have 4 entries, got sizes " + Arrays.toString(sizes) + ", src strides "
                        + Arrays.toString(srcStrides) + ", dst strides " + Arrays.toString(dstStrides));
        for (long s : sizes) {
            Checks.require(s >= 0, op + ": negative size in " + Arrays.toString(sizes));
            if (s == 0) {
                return;
            }
        }
        inside(op, "src", src, srcOffset, srcStrides, sizes);
        inside(op, "dst", dst, dstOffset, dstStrides, sizes);
    }

    private static void inside(String op, String what, Tensor t, long offset, long[] strides, long[] sizes) {
        long lo = offset;
        long hi = offset;
        for (int i = 0; i < 4; i++) {
            long reach = Math.multiplyExact(strides[i], sizes[i] - 1);
            if (reach < 0) {
                lo += reach;
            } else {
                hi += reach;
            }
        }
        Checks.require(lo >= 0 && hi < t.numel(), op + ": " + what + " elements [" + lo + ", " + hi + "] (offset " + offset
                + ", strides " + Arrays.toString(strides) + ", sizes " + Arrays.toString(sizes) + ") outside " + t);
    }

    /**
     * The fast path: the innermost dimension is walked as a run (a bulk copy when both innermost strides are 1), and the
     * outer three dimensions are split across threads by the caller through {@code [from, to)} of the flattened i0·i1·i2.
     */
    static void copyRange(MemorySegment src, long srcOffset, long[] ss, MemorySegment dst, long dstOffset, long[] ds,
                          long[] sizes, boolean accumulate, long from, long to) {
        long n3 = sizes[3];
        boolean contiguous = ss[3] == 1 && ds[3] == 1;
        for (long outer = from; outer < to; outer++) {
            long i2 = outer % sizes[2];
            long i01 = outer / sizes[2];
            long i1 = i01 % sizes[1];
            long i0 = i01 / sizes[1];
            long s = srcOffset + i0 * ss[0] + i1 * ss[1] + i2 * ss[2];
            long d = dstOffset + i0 * ds[0] + i1 * ds[1] + i2 * ds[2];
            if (contiguous && !accumulate) {
                MemorySegment.copy(src, s * 4, dst, d * 4, n3 * 4);
            } else if (contiguous) {
                Vec.addInto(src, s, dst, d, (int) n3);
            } else {
                for (long i3 = 0; i3 < n3; i3++) {
                    float v = src.getAtIndex(F32, s + i3 * ss[3]);
                    long di = d + i3 * ds[3];
                    dst.setAtIndex(F32, di, accumulate ? dst.getAtIndex(F32, di) + v : v);
                }
            }
        }
    }
}
