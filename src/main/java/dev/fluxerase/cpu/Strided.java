package dev.fluxerase.cpu;

import java.util.Arrays;

/**
 * Strided 4-D F32 copy (head split/merge, sequence concatenation, column ranges). The backward of a copy is the same copy
 * with src and dst swapped and accumulate set, so there is nothing to save.
 */
final class Strided {
    private Strided() {
    }

    /**
     * The fast path: the innermost dimension is walked as a run (a bulk copy or vector add when both innermost strides are 1),
     * and the outer three dimensions are split across threads by flattened index i0·i1·i2. Strides and offsets were checked
     * to stay inside the tensors, which fit in arrays, so int arithmetic is exact.
     */
    static void copy(Arr src, long srcOffset, long[] ss, Arr dst, long dstOffset, long[] ds, long[] sizes,
                     boolean accumulate) {
        long outerL = sizes[0] * sizes[1] * sizes[2];
        int n3 = (int) sizes[3];
        if (outerL == 0 || n3 == 0) {
            return;
        }
        int outer = Math.toIntExact(outerL);
        boolean contiguous = ss[3] == 1 && ds[3] == 1;
        int chunks = disjoint(ds, sizes) ? Parallel.chunks(outer, 2L * n3) : 1;
        Parallel.run(chunks, outer, (c, from, to) -> {
            for (int o = from; o < to; o++) {
                long i2 = o % sizes[2];
                long i01 = o / sizes[2];
                long i1 = i01 % sizes[1];
                long i0 = i01 / sizes[1];
                int s = (int) (srcOffset + i0 * ss[0] + i1 * ss[1] + i2 * ss[2]) + src.off;
                int d = (int) (dstOffset + i0 * ds[0] + i1 * ds[1] + i2 * ds[2]) + dst.off;
                if (contiguous && !accumulate) {
                    System.arraycopy(src.a, s, dst.a, d, n3);
                } else if (contiguous) {
                    Vec.add(src.a, s, dst.a, d, n3);
                } else {
                    int s3 = (int) ss[3];
                    int d3 = (int) ds[3];
                    for (int i3 = 0; i3 < n3; i3++) {
                        float v = src.a[s + i3 * s3];
                        dst.a[d + i3 * d3] = accumulate ? dst.a[d + i3 * d3] + v : v;
                    }
                }
            }
        });
    }

    /**
     * True when no two index tuples address the same dst element (each stride, in increasing order, clears the extent of
     * the smaller ones), so that threads never write one element. Otherwise (a stride-0 dimension: the adjoint of a
     * broadcast) the copy runs on one thread, in the reference's loop order.
     */
    private static boolean disjoint(long[] strides, long[] sizes) {
        long[][] dims = new long[4][];
        int n = 0;
        for (int i = 0; i < 4; i++) {
            if (sizes[i] > 1) {
                dims[n++] = new long[]{Math.abs(strides[i]), sizes[i]};
            }
        }
        Arrays.sort(dims, 0, n, (a, b) -> Long.compare(a[0], b[0]));
        long extent = 1;
        for (int i = 0; i < n; i++) {
            if (dims[i][0] < extent) {
                return false;
            }
            extent = dims[i][0] * (dims[i][1] - 1) + extent;
        }
        return true;
    }
}
