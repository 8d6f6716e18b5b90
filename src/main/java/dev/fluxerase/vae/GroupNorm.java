package dev.fluxerase.vae;

import dev.fluxerase.tensor.Allocations;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

/**
 * GroupNorm with affine scale and shift, eps 1e-6 (every norm of FLUX's VAE), optionally followed by swish
 * x·sigmoid(x), which every norm but the attention's is, over a channels-last map [1, H, W, C] on its backend
 * ({@link Backend#groupNorm}: statistics over all pixels of a group of c/groups consecutive channels). Inference only.
 */
final class GroupNorm {
    static final float EPS = 1e-6f;

    final int c;
    final int groups;
    private final Backend be;
    private final Tensor gamma;
    private final Tensor beta;

    GroupNorm(Allocations placed, int c, int groups, float[] gamma, float[] beta) {
        if (c % groups != 0 || gamma.length != c || beta.length != c) {
            throw new IllegalArgumentException("GroupNorm(" + groups + ", " + c + ") with " + gamma.length + "/"
                    + beta.length + " affine values");
        }
        this.c = c;
        this.groups = groups;
        this.be = placed.backend();
        this.gamma = placed.toDevice(Tensor.of(gamma, c));
        this.beta = placed.toDevice(Tensor.of(beta, c));
    }

    static GroupNorm load(VaeWeights w, Allocations placed, String prefix, int c) {
        return new GroupNorm(placed, c, w.config().normNumGroups(), w.vector(prefix + ".weight", c),
                w.vector(prefix + ".bias", c));
    }

    /** A new normalised map; the caller frees it. */
    Tensor forward(Tensor x, boolean swish) {
        Tensor y = be.allocate(DType.F32, x.shape());
        run(x, y, swish);
        return y;
    }

    /** Normalises x in place (when x is not needed afterwards, which saves a map). */
    void inPlace(Tensor x, boolean swish) {
        run(x, x, swish);
    }

    private void run(Tensor x, Tensor y, boolean swish) {
        long pixels = x.dim(1) * x.dim(2);
        be.groupNorm(x.view(1, pixels, c), gamma, beta, y.view(1, pixels, c), groups, EPS, swish);
    }
}
