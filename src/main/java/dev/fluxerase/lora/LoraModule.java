package dev.fluxerase.lora;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

import java.util.Arrays;
import java.util.function.UnaryOperator;

/**
 * A LoRA on one Linear of the diffusers FLUX transformer: {@code W' = W + (alpha / rank) · B · A} (FLUX.md §6.1).
 *
 * @param module diffusers module path inside the transformer, e.g. {@code transformer_blocks.0.attn.add_q_proj}
 * @param a      "lora_A" / "lora_down", F32 [rank, in]: on the host as read from a file, on a backend's device when
 *               trained there ({@code erase} on cuda)
 * @param b      "lora_B" / "lora_up", F32 [out, rank], on the same device as a
 * @param alpha  scale numerator; the scale is alpha / rank
 * @param keyA   tensor name of A in the file it came from (null when created in memory)
 * @param keyB   tensor name of B in the file it came from (null when created in memory)
 */
public record LoraModule(String module, Tensor a, Tensor b, float alpha, String keyA, String keyB) {

    public LoraModule {
        for (Tensor t : new Tensor[]{a, b}) {
            if (t.dtype() != DType.F32 || t.rank() != 2 || t.device() != a.device()) {
                throw new IllegalArgumentException(module + ": LoRA factors must be 2-D F32 tensors on one device, got "
                        + a + " and " + b);
            }
        }
        if (a.dim(0) != b.dim(1) || a.dim(0) == 0) {
            throw new IllegalArgumentException(module + ": rank mismatch, A " + Arrays.toString(a.shape()) + " vs B "
                    + Arrays.toString(b.shape()));
        }
        if (!Float.isFinite(alpha)) {
            throw new IllegalArgumentException(module + ": alpha " + alpha + " is not finite");
        }
    }

    /** This LoRA with both factors passed through {@code move}: {@code Backend::toDevice}, {@code Backend::toHost}. */
    public LoraModule map(UnaryOperator<Tensor> move) {
        return new LoraModule(module, move.apply(a), move.apply(b), alpha, keyA, keyB);
    }

    public int rank() {
        return (int) a.dim(0);
    }

    public long in() {
        return a.dim(1);
    }

    public long out() {
        return b.dim(0);
    }

    /** alpha / rank, the factor in front of B·A. */
    public float scale() {
        return alpha / rank();
    }
}
