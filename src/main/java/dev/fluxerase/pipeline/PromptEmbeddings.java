package dev.fluxerase.pipeline;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Tensor;

import java.util.Arrays;

/**
 * What FLUX is conditioned on for one prompt (FLUX.md §5.1): the T5 token ids and last hidden state
 * {@code t5 [1, N, d_model]} (padding positions included), and the CLIP token ids and pooled output
 * {@code clipPooled [1, hidden]}. Both tensors are CPU F32.
 */
public record PromptEmbeddings(int[] t5Ids, int[] clipIds, Tensor t5, Tensor clipPooled) {

    public PromptEmbeddings {
        t5Ids = t5Ids.clone();
        clipIds = clipIds.clone();
        for (Tensor t : new Tensor[]{t5, clipPooled}) {
            if (t.device() != Device.CPU || t.dtype() != DType.F32) {
                throw new IllegalArgumentException("prompt embeddings must be CPU F32 tensors, got " + t);
            }
        }
        if (t5.rank() != 3 || t5.dim(0) != 1 || t5.dim(1) != t5Ids.length || clipPooled.rank() != 2
                || clipPooled.dim(0) != 1) {
            throw new IllegalArgumentException("prompt embeddings: expected t5 [1, " + t5Ids.length + ", d] and"
                    + " clip_pooled [1, h], got " + Arrays.toString(t5.shape()) + " and "
                    + Arrays.toString(clipPooled.shape()));
        }
    }

    @Override
    public int[] t5Ids() {
        return t5Ids.clone();
    }

    @Override
    public int[] clipIds() {
        return clipIds.clone();
    }

    /** N, the T5 sequence length. */
    public int t5Length() {
        return t5Ids.length;
    }
}
