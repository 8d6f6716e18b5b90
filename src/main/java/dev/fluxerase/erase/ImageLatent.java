package dev.fluxerase.erase;

import dev.fluxerase.image.RgbImage;
import dev.fluxerase.pipeline.Latents;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.vae.LatentCodec;
import dev.fluxerase.vae.LatentScaling;

import java.util.Random;

/**
 * A training image's x0, encoded once per run: the codec's posterior over raw latents, packed into the transformer's
 * tokens (packing moves values and scaling acts on each alone, so packing first changes no bit). With
 * {@code latents: mean} every use gives the posterior mean in the transformer's space; with {@code latents: sample} a
 * fresh draw, (mean + exp(½·logvar)·ε − shift)·scale, as the released code's {@code vae.encode(x).latent_dist.sample()}
 * followed by its scaling. A codec whose encoding is exact (the toy's pixel codec) has no spread: its posterior is the
 * point at the mean, so there every draw is the mean.
 */
final class ImageLatent {
    private final float[] mean;
    /** exp(½·logvar), packed; null when every use is the mean. */
    private final float[] std;
    private final LatentScaling scaling;

    private ImageLatent(float[] mean, float[] std, LatentScaling scaling) {
        this.mean = mean;
        this.std = std;
        this.scaling = scaling;
    }

    /** Encodes {@code image}; the spread is kept only for {@code latents: sample}. */
    static ImageLatent encode(LatentCodec codec, Latents geometry, RgbImage image, RunConfig.LatentDraw draw) {
        LatentCodec.Moments m = codec.moments(image.toTensor());
        float[] logvar = draw == RunConfig.LatentDraw.SAMPLE && m.logvar() != null
                ? geometry.pack(Floats.toF32(m.logvar())) : null;
        return of(geometry.pack(Floats.toF32(m.mean())), logvar, codec.scaling());
    }

    /** From packed raw moments; {@code logvar} null: every use is the mean. */
    static ImageLatent of(float[] mean, float[] logvar, LatentScaling scaling) {
        float[] std = null;
        if (logvar != null) {
            std = new float[logvar.length];
            for (int i = 0; i < std.length; i++) {
                // StrictMath: a resumed run may compute this in another JIT tier, where Math.exp may round otherwise
                std[i] = (float) StrictMath.exp(0.5 * logvar[i]);
            }
        }
        return new ImageLatent(mean, std, scaling);
    }

    /** x0 for one use: the mean, or a draw whose ε are the next Gaussians of {@code rng}, one per value. */
    float[] draw(Random rng) {
        float[] z = mean.clone();
        if (std != null) {
            float[] eps = RunRandom.gaussian(rng, z.length);
            for (int i = 0; i < z.length; i++) {
                z[i] += std[i] * eps[i];
            }
        }
        scaling.toFlux(z);
        return z;
    }
}
