package dev.fluxerase.tensor;

import java.util.Arrays;

/**
 * The layout part of {@link Backend#copyStrided}'s contract, shared by every backend so that all of them accept and reject
 * the same calls with the same one-line messages: four sizes and four strides per side, no negative size, and every
 * addressed element inside its tensor. Dtype and device checks stay with each backend.
 */
public final class StridedLayout {
    private StridedLayout() {
    }

    /** Throws IllegalArgumentException on a bad layout; returns false when there is nothing to copy (a size is 0). */
    public static boolean check(String op, Tensor src, long srcOffset, long[] srcStrides, Tensor dst, long dstOffset,
                                long[] dstStrides, long[] sizes) {
        if (sizes.length != 4 || srcStrides.length != 4 || dstStrides.length != 4) {
            throw new IllegalArgumentException(op + ": sizes and strides must have 4 entries, got sizes "
                    + Arrays.toString(sizes) + ", src strides " + Arrays.toString(srcStrides) + ", dst strides "
                    + Arrays.toString(dstStrides));
        }
        boolean empty = false;
        for (long s : sizes) {
            if (s < 0) {
                throw new IllegalArgumentException(op + ": negative size in " + Arrays.toString(sizes));
            }
            empty |= s == 0;
        }
        if (empty) {
            return false;
        }
        inside(op, "src", src, srcOffset, srcStrides, sizes);
        inside(op, "dst", dst, dstOffset, dstStrides, sizes);
        return true;
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
        if (lo < 0 || hi >= t.numel()) {
            throw new IllegalArgumentException(op + ": " + what + " elements [" + lo + ", " + hi + "] (offset " + offset
                    + ", strides " + Arrays.toString(strides) + ", sizes " + Arrays.toString(sizes) + ") outside " + t);
        }
    }
}
