package dev.fluxerase.vae;

import dev.fluxerase.tensor.Tensor;

import java.util.EnumSet;
import java.util.List;

/**
 * FLUX's VAE as a {@link LatentCodec}: the encoder's Gaussian, its mean as the latent, and the decoder, each with the
 * config's scaling ({@link VaeEncoder#encode}, {@link VaeDecoder#decode}). Only the parts asked for are converted at
 * load (the decoder is most of FLUX's 84M VAE parameters, and generation never encodes), so the other direction is a
 * programming error.
 */
public final class AutoencoderCodec implements LatentCodec {
    public static final String CLASS_NAME = "AutoencoderKL";

    private final AutoencoderConfig config;
    private final VaeEncoder encoder;
    private final VaeDecoder decoder;

    private AutoencoderCodec(AutoencoderConfig config, VaeEncoder encoder, VaeDecoder decoder) {
        this.config = config;
        this.encoder = encoder;
        this.decoder = decoder;
    }

    /** Converts the {@code parts} of {@code w} (none: only the config, for describing the codec). */
    public static AutoencoderCodec load(VaeWeights w, List<Part> parts) {
        EnumSet<Part> p = parts.isEmpty() ? EnumSet.noneOf(Part.class) : EnumSet.copyOf(parts);
        return new AutoencoderCodec(w.config(), p.contains(Part.ENCODER) ? VaeEncoder.load(w) : null,
                p.contains(Part.DECODER) ? VaeDecoder.load(w) : null);
    }

    public AutoencoderConfig config() {
        return config;
    }

    @Override
    public String kind() {
        return CLASS_NAME;
    }

    @Override
    public int downsampleFactor() {
        return config.downsampleFactor();
    }

    @Override
    public int latentChannels() {
        return config.latentChannels();
    }

    @Override
    public LatentScaling scaling() {
        return config.scaling();
    }

    @Override
    public Moments moments(Tensor image) {
        return encoder().moments(image);
    }

    private VaeEncoder encoder() {
        if (encoder == null) {
            throw new IllegalStateException("the VAE codec was opened without Part.ENCODER");
        }
        return encoder;
    }

    @Override
    public Tensor decode(Tensor latents) {
        if (decoder == null) {
            throw new IllegalStateException("the VAE codec was opened without Part.DECODER");
        }
        return decoder.decode(latents);
    }

    @Override
    public Footprint decodeFootprint(int batch, int h, int w) {
        return VaeDecoder.footprint(config, batch, h, w);
    }
}
