package dev.fluxerase.text;

import dev.fluxerase.tensor.Allocations;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

/** The pieces both text encoders build from {@link Backend} ops: embedding lookup, Linear, affine LayerNorm, attention. */
final class EncoderOps {
    private EncoderOps() {
    }

    /** x[b·L + t, :] = table[ids[b][t], :], converting the table's dtype to f32. Every row must have the same length. */
    static void embed(Backend be, Tensor table, int[][] ids, Tensor x) {
        long vocab = table.dim(0);
        int len = ids[0].length;
        for (int b = 0; b < ids.length; b++) {
            for (int t = 0; t < len; t++) {
                int id = ids[b][t];
                if (id < 0 || id >= vocab) {
                    throw new IllegalArgumentException("token id " + id + " at [" + b + ", " + t + "] is outside the"
                            + " vocabulary of " + vocab);
                }
                be.copy(table.sliceRows(id, 1), x.sliceRows((long) b * len + t, 1));
            }
        }
    }

    /** The rows × cols id matrix checked for shape: at least one row, all of one length between 1 and maxLen. */
    static void checkIds(int[][] ids, int maxLen, String model) {
        if (ids.length == 0 || ids[0].length == 0) {
            throw new IllegalArgumentException(model + ": no token ids");
        }
        for (int b = 0; b < ids.length; b++) {
            if (ids[b].length != ids[0].length) {
                throw new IllegalArgumentException(model + ": row " + b + " has " + ids[b].length + " ids, row 0 has "
                        + ids[0].length + " (pad every row to one length)");
            }
        }
        if (ids[0].length > maxLen) {
            throw new IllegalArgumentException(model + ": " + ids[0].length + " ids per row, at most " + maxLen);
        }
    }

    /** y = x·Wᵀ (+ bias): W [out, in] read in place in its stored dtype. */
    static void linear(Backend be, Tensor x, Tensor w, Tensor bias, Tensor y) {
        be.gemm(false, true, 1f, x, w, 0f, y);
        if (bias != null) {
            be.addBias(y, bias);
        }
    }

    /**
     * y = LayerNorm(x)·w + b. The backend's layerNorm has no affine; the scale is applied as a gate onto a zeroed y
     * (0 + w·x̂, one rounding, exactly w·x̂) so that BF16 and F16 weights need no widened copy beyond the [1, C] row.
     */
    static void layerNorm(Backend be, Tensor x, Tensor y, Tensor scaleRow, Tensor bias, Tensor normed, float eps) {
        be.layerNorm(x, normed, null, null, eps);
        be.fill(y, 0f);
        be.gateAdd(y.view(1, y.rows(), y.cols()), normed, scaleRow, 0);
        be.addBias(y, bias);
    }

    /**
     * Multi-head attention for q, k, v, out [B·L, H·D] with an additive term per score matrix (a causal mask or T5's
     * position bias) or none: per (batch, head) scores = scale·q·kᵀ + add, softmax, times v. Holds the heads split to
     * [B, H, L, D], one [L, L] score buffer reused by every head, and the per-head views, so a forward allocates them once.
     */
    static final class Attention {
        private final int batch;
        private final int heads;
        private final int len;
        private final int dim;
        private final Tensor qh;
        private final Tensor kh;
        private final Tensor vh;
        private final Tensor oh;
        private final Tensor scores;
        private final Tensor[] q;
        private final Tensor[] k;
        private final Tensor[] v;
        private final Tensor[] o;
        private final long[] rowMajor;
        private final long[] headMajor;
        private final long[] sizes;

        /** The buffers come from {@code scratch}, whose owner frees them when the forward ends. */
        Attention(Allocations scratch, int batch, int heads, int len, int dim) {
            this.batch = batch;
            this.heads = heads;
            this.len = len;
            this.dim = dim;
            qh = scratch.allocate(DType.F32, batch, heads, len, dim);
            kh = scratch.allocate(DType.F32, batch, heads, len, dim);
            vh = scratch.allocate(DType.F32, batch, heads, len, dim);
            oh = scratch.allocate(DType.F32, batch, heads, len, dim);
            scores = scratch.allocate(DType.F32, len, len);
            int n = batch * heads;
            q = perHead(qh, n);
            k = perHead(kh, n);
            v = perHead(vh, n);
            o = perHead(oh, n);
            long inner = (long) heads * dim;
            rowMajor = new long[]{len * inner, dim, inner, 1};
            headMajor = new long[]{(long) heads * len * dim, (long) len * dim, dim, 1};
            sizes = new long[]{batch, heads, len, dim};
        }

        private Tensor[] perHead(Tensor t, int n) {
            Tensor flat = t.view((long) n * len, dim);
            Tensor[] views = new Tensor[n];
            for (int i = 0; i < n; i++) {
                views[i] = flat.sliceRows((long) i * len, len);
            }
            return views;
        }

        /** additive holds one [L, L] matrix per head, a single one shared by all heads, or is null for none. */
        void run(Backend be, Tensor qIn, Tensor kIn, Tensor vIn, Tensor out, Tensor[] additive, float scale) {
            split(be, qIn, qh);
            split(be, kIn, kh);
            split(be, vIn, vh);
            for (int b = 0; b < batch; b++) {
                for (int h = 0; h < heads; h++) {
                    int i = b * heads + h;
                    be.gemm(false, true, scale, q[i], k[i], 0f, scores);
                    if (additive != null) {
                        be.axpy(1f, additive[additive.length == 1 ? 0 : h], scores);
                    }
                    be.softmax(scores, scores);
                    be.gemm(false, false, 1f, scores, v[i], 0f, o[i]);
                }
            }
            be.copyStrided(oh, 0, headMajor, out, 0, rowMajor, sizes, false);
        }

        /** [B·L, H·D] → [B, H, L, D]. */
        private void split(Backend be, Tensor src, Tensor dst) {
            be.copyStrided(src, 0, rowMajor, dst, 0, headMajor, sizes, false);
        }
    }
}
