package dev.fluxerase.vae;

import dev.fluxerase.tensor.Allocations;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.ConvGeometry;
import dev.fluxerase.tensor.Tensor;

/**
 * diffusers ResnetBlock2D as the VAE uses it (no time embedding, output scale 1) = BFL ResnetBlock:
 * h = conv1(swish(norm1(x))), h = conv2(swish(norm2(h))), out = skip(x) + h, where skip is a 1×1 conv
 * ({@code conv_shortcut} / BFL {@code nin_shortcut}) when the channel count changes and the identity otherwise.
 */
final class ResnetBlock {
    private final Backend be;
    private final GroupNorm norm1;
    private final Conv2d conv1;
    private final GroupNorm norm2;
    private final Conv2d conv2;
    private final Conv2d shortcut;

    private ResnetBlock(Backend be, GroupNorm norm1, Conv2d conv1, GroupNorm norm2, Conv2d conv2, Conv2d shortcut) {
        this.be = be;
        this.norm1 = norm1;
        this.conv1 = conv1;
        this.norm2 = norm2;
        this.conv2 = conv2;
        this.shortcut = shortcut;
    }

    static ResnetBlock load(VaeWeights w, Allocations placed, String prefix, int cin, int cout) {
        return new ResnetBlock(placed.backend(), GroupNorm.load(w, placed, prefix + ".norm1", cin),
                Conv2d.load(w, placed, prefix + ".conv1", cin, cout, 3), GroupNorm.load(w, placed, prefix + ".norm2",
                cout), Conv2d.load(w, placed, prefix + ".conv2", cout, cout, 3),
                cin == cout ? null : Conv2d.load(w, placed, prefix + ".conv_shortcut", cin, cout, 1));
    }

    /**
     * The block's output for x, which it takes over: an identity skip accumulates conv2 into x itself, a 1×1 one into
     * its own output, after which x is freed. At most the input, the first norm and h are alive at once (then the
     * input, h and the skip), which is what {@link VaeDecoder#footprint} counts.
     */
    Tensor forward(Tensor x) {
        Tensor n1 = norm1.forward(x, true);
        Tensor h = conv1.forward(n1, ConvGeometry.SAME);
        be.free(n1);
        norm2.inPlace(h, true);
        Tensor y = shortcut == null ? x : shortcut.forwardAndFree(x, ConvGeometry.POINTWISE);
        conv2.accumulate(h, ConvGeometry.SAME, y);
        be.free(h);
        return y;
    }
}
