package dev.fluxerase.vae;

import dev.fluxerase.tensor.Tensor;

/**
 * What turns images into the latents FLUX's transformer denoises and back: FLUX's VAE ({@link AutoencoderCodec}) or a
 * fixed pixel rearrangement ({@link PixelCodec}). Latents are always in the transformer's space, after the codec's
 * {@link LatentScaling}; the sampler packs them 2×2 into tokens of 4 × {@link #latentChannels()} values. Images and
 * latents in and out are host tensors, whatever backend a codec computes on; closing a codec gives back what it placed
 * on a device.
 */
public interface LatentCodec extends AutoCloseable {

    /** The halves of a codec with weights that a caller needs loaded; a weightless codec ignores them. */
    enum Part {
        ENCODER, DECODER
    }

    /** The diffusers {@code _class_name} of the vae/ config: AutoencoderKL or PixelUnshuffleCodec. */
    String kind();

    /** Image pixels per latent pixel along each axis (8 for FLUX's VAE). */
    int downsampleFactor();

    int latentChannels();

    LatentScaling scaling();

    /**
     * The encoder's diagonal Gaussian over raw latents (before {@link #scaling()}), [B, latent, h, w] each.
     *
     * @param logvar null where the encoding is exact (a point mass at the mean): a codec without a posterior
     */
    record Moments(Tensor mean, Tensor logvar) {
    }

    /** {@link #encode}'s input to the encoder's distribution over raw latents, of which {@link #encode} is the mean. */
    Moments moments(Tensor image);

    /**
     * Images [B, 3, H, W] in [−1, 1] (H and W multiples of {@link #downsampleFactor()}) to latents
     * [B, {@link #latentChannels()}, H/f, W/f] in the transformer's space.
     */
    default Tensor encode(Tensor image) {
        return scaling().toFlux(moments(image).mean());
    }

    /** Latents in the transformer's space [B, {@link #latentChannels()}, h, w] to images [B, 3, h·f, w·f], about [−1, 1]. */
    Tensor decode(Tensor latents);

    /**
     * What {@link #decode} of {@code batch} latents of h × w holds on the Java heap at its peak: the bytes of the arrays
     * alive at once, and the element count of the largest one (a Java array holds at most 2³¹ − 9). A codec that
     * computes on a device holds its feature maps there, not on the heap.
     */
    Footprint decodeFootprint(int batch, int h, int w);

    record Footprint(long peakBytes, long largestArray) {
    }

    /**
     * What {@link #decode} of {@code batch} latents of h × w holds in its backend's device memory at its peak, the
     * codec's parameters included; 0 for a codec that computes on the host.
     */
    default long deviceDecodeBytes(int batch, int h, int w) {
        return 0;
    }

    /** Gives back what the codec placed on a device (nothing for a host backend or a weightless codec). */
    @Override
    default void close() {
    }
}
