package dev.fluxerase.vae;

/**
 * diffusers ResnetBlock2D as the VAE uses it (no time embedding, output scale 1) = BFL ResnetBlock:
 * h = conv1(swish(norm1(x))), h = conv2(swish(norm2(h))), out = skip(x) + h, where skip is a 1×1 conv
 * ({@code conv_shortcut} / BFL {@code nin_shortcut}) when the channel count changes and the identity otherwise.
 */
final class ResnetBlock {
    private final GroupNorm norm1;
    private final Conv2d conv1;
    private final GroupNorm norm2;
    private final Conv2d conv2;
    private final Conv2d shortcut;

    private ResnetBlock(GroupNorm norm1, Conv2d conv1, GroupNorm norm2, Conv2d conv2, Conv2d shortcut) {
        this.norm1 = norm1;
        this.conv1 = conv1;
        this.norm2 = norm2;
        this.conv2 = conv2;
        this.shortcut = shortcut;
    }

    static ResnetBlock load(VaeWeights w, String prefix, int cin, int cout) {
        return new ResnetBlock(GroupNorm.load(w, prefix + ".norm1", cin), Conv2d.load(w, prefix + ".conv1", cin, cout, 3),
                GroupNorm.load(w, prefix + ".norm2", cout), Conv2d.load(w, prefix + ".conv2", cout, cout, 3),
                cin == cout ? null : Conv2d.load(w, prefix + ".conv_shortcut", cin, cout, 1));
    }

    FeatureMap forward(FeatureMap x) {
        FeatureMap h = conv1.forward(norm1.forward(x, true), Conv2d.Mode.SAME, null);
        FeatureMap skip = shortcut == null ? x : shortcut.forward(x, null, null);
        return conv2.forward(norm2.forward(h, true), Conv2d.Mode.SAME, skip);
    }
}
