package dev.fluxerase.vae;

import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

/**
 * The affine map between a codec's raw latents and the normalised space the transformer works in: {@code
 * z = (latent − shift_factor) · scaling_factor} (BFL's {@code AutoEncoder.encode}) and back {@code
 * latent = z / scaling_factor + shift_factor} (FluxPipeline before the decode), elementwise in float32 with both
 * factors rounded to float32 first. Every codec applies it here, so the rounding is the same for all of them.
 */
public record LatentScaling(double scalingFactor, double shiftFactor) {

    public LatentScaling {
        if (!(scalingFactor > 0) || !Double.isFinite(scalingFactor) || !Double.isFinite(shiftFactor)) {
            throw new IllegalArgumentException("scaling_factor " + scalingFactor + " must be positive and finite and"
                    + " shift_factor " + shiftFactor + " finite");
        }
    }

    /** Raw latents to the transformer's space, in place. */
    public void toFlux(float[] latent) {
        float scale = (float) scalingFactor;
        float shift = (float) shiftFactor;
        for (int i = 0; i < latent.length; i++) {
            latent[i] = (latent[i] - shift) * scale;
        }
    }

    /** Raw latents to the transformer's space, as a new F32 tensor of the same shape. */
    public Tensor toFlux(Tensor latent) {
        float[] z = Floats.toF32(latent);
        toFlux(z);
        return Tensor.of(z, latent.shape());
    }

    /** The transformer's space back to raw latents, in place. */
    public void fromFlux(float[] z) {
        float scale = (float) scalingFactor;
        float shift = (float) shiftFactor;
        for (int i = 0; i < z.length; i++) {
            z[i] = z[i] / scale + shift;
        }
    }
}
