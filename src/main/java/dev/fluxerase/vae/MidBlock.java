package dev.fluxerase.vae;

import dev.fluxerase.tensor.Allocations;
import dev.fluxerase.tensor.Tensor;

/** diffusers UNetMidBlock2D = BFL mid: resnet, attention (when mid_block_add_attention), resnet, all at one width. */
final class MidBlock {
    private final ResnetBlock first;
    private final SpatialAttention attention;
    private final ResnetBlock second;

    private MidBlock(ResnetBlock first, SpatialAttention attention, ResnetBlock second) {
        this.first = first;
        this.attention = attention;
        this.second = second;
    }

    /** Loads {@code prefix} = {@code encoder.mid_block} or {@code decoder.mid_block} (diffusers names). */
    static MidBlock load(VaeWeights w, Allocations placed, String prefix, int c) {
        return new MidBlock(ResnetBlock.load(w, placed, prefix + ".resnets.0", c, c),
                w.config().midBlockAddAttention() ? SpatialAttention.load(w, placed, prefix + ".attentions.0", c)
                        : null, ResnetBlock.load(w, placed, prefix + ".resnets.1", c, c));
    }

    /** The block's output for x, which it takes over (as {@link ResnetBlock#forward} does). */
    Tensor forward(Tensor x) {
        Tensor h = first.forward(x);
        if (attention != null) {
            h = attention.forward(h);
        }
        return second.forward(h);
    }
}
