package dev.fluxerase.vae;

import dev.fluxerase.tensor.Allocations;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.ConvGeometry;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

/**
 * A conv layer of the VAE, with bias, over channels-last maps [1, H, W, C] on its backend ({@link Backend#conv2d}): 1×1
 * (a per-pixel linear map, {@link ConvGeometry#POINTWISE}), or 3×3 in one of the VAE's geometries ({@link
 * ConvGeometry#SAME}, {@link ConvGeometry#DOWN}, {@link ConvGeometry#UP}). The kernel is held as the loader reorders it,
 * [cout, k, k, cin], on the backend with the bias for as long as the model is open. Inference only.
 */
final class Conv2d {
    final int cin;
    final int cout;
    final int k;
    private final Backend be;
    private final Tensor weight;
    private final Tensor bias;

    /** {@code weight} is [cout][ky][kx][cin] and {@code bias} [cout], placed on the backend of {@code placed}. */
    Conv2d(Allocations placed, int cin, int cout, int k, float[] weight, float[] bias) {
        if ((k != 1 && k != 3) || weight.length != cout * k * k * cin || bias.length != cout) {
            throw new IllegalArgumentException("conv " + cin + "→" + cout + " k" + k + " with " + weight.length
                    + " weights and " + bias.length + " biases");
        }
        this.cin = cin;
        this.cout = cout;
        this.k = k;
        this.be = placed.backend();
        // the converted arrays themselves on a host backend (no second copy of the VAE's 335 MB), copies on a device;
        // frozen, as nothing writes them while the model is open, so the CPU GEMM packs each once
        this.weight = placed.toDevice(Tensor.of(weight, cout, k, k, cin)).frozen();
        this.bias = placed.toDevice(Tensor.of(bias, cout));
    }

    static Conv2d load(VaeWeights w, Allocations placed, String prefix, int cin, int cout, int k) {
        return new Conv2d(placed, cin, cout, k, w.conv(prefix + ".weight", cout, cin, k),
                w.vector(prefix + ".bias", cout));
    }

    /** A linear layer over the pixels of a map (the attention's projections): a 1×1 conv, same numbers. */
    static Conv2d linear(VaeWeights w, Allocations placed, String prefix, int c) {
        return new Conv2d(placed, c, c, 1, w.linear(prefix + ".weight", c, c), w.vector(prefix + ".bias", c));
    }

    /** A new map conv(x) + bias in geometry {@code g}; the caller frees it. */
    Tensor forward(Tensor x, ConvGeometry g) {
        Tensor y = be.allocate(DType.F32, 1, g.outSize(x.dim(1), k), g.outSize(x.dim(2), k), cout);
        be.conv2d(x, weight, bias, y, g, false);
        return y;
    }

    /** {@link #forward}, then x freed: for a stage that is the last to read its input. */
    Tensor forwardAndFree(Tensor x, ConvGeometry g) {
        Tensor y = forward(x, g);
        be.free(x);
        return y;
    }

    /** y += conv(x) + bias: a ResNet block's skip, or the attention's residual, already in y is added in the conv. */
    void accumulate(Tensor x, ConvGeometry g, Tensor y) {
        be.conv2d(x, weight, bias, y, g, true);
    }
}
