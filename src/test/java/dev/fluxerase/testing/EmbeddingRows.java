package dev.fluxerase.testing;

import dev.fluxerase.tensor.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * Full-vocabulary embedding tables rebuilt from the rows a trimmed golden keeps: a model's outputs depend only on the
 * rows of the ids it is fed, so a test's checkpoint needs no others.
 */
public final class EmbeddingRows {
    private EmbeddingRows() {
    }

    /** A [vocab, d] table in the rows' dtype: row ids[r] is rows[r], every other row zero. */
    public static Tensor table(Tensor rows, long[] ids, long vocab) {
        long rowBytes = rows.dim(1) * rows.dtype().byteSize();
        MemorySegment full = MemorySegment.ofArray(new byte[Math.toIntExact(vocab * rowBytes)]);
        for (int r = 0; r < ids.length; r++) {
            MemorySegment.copy(rows.data(), r * rowBytes, full, ids[r] * rowBytes, rowBytes);
        }
        return Tensor.wrap(rows.dtype(), full, vocab, rows.dim(1));
    }
}
