package dev.fluxerase.vae;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Tensor;

import java.util.EnumSet;
import java.util.List;

/**
 * FLUX's VAE as a {@link LatentCodec}: the encoder's Gaussian, its mean as the latent, and the decoder, each with the
 * config's scaling ({@link VaeEncoder#encode}, {@link VaeDecoder#decode}), computing on the backend it was opened
 * with. Only the parts asked for are converted at load (the decoder is most of FLUX's 84M VAE parameters, and
 * generation never encodes), so the other direction is a programming error.
 */
public final class AutoencoderCodec implements LatentCodec {
    public static final String CLASS_NAME = "AutoencoderKL";

    private final AutoencoderConfig config;
    private final Backend backend;
    private final VaeEncoder encoder;
    private final VaeDecoder decoder;

    private AutoencoderCodec(AutoencoderConfig config, Backend backend, VaeEncoder encoder, VaeDecoder decoder) {
        this.config = config;
        this.backend = backend;
        this.encoder = encoder;
        this.decoder = decoder;
    }

    /**
     * Converts the {@code parts} of {@code w} onto {@code backend} (none: only the config, for describing the codec and
     * sizing a decode on that backend). {@code backend} is null only without parts: a codec for describing alone, which
     * sizes a decode as on a host backend.
     */
    public static AutoencoderCodec load(VaeWeights w, Backend backend, List<Part> parts) {
        EnumSet<Part> p = parts.isEmpty() ? EnumSet.noneOf(Part.class) : EnumSet.copyOf(parts);
        VaeEncoder encoder = p.contains(Part.ENCODER) ? VaeEncoder.load(w, backend) : null;
        try {
            return new AutoencoderCodec(w.config(), backend, encoder, p.contains(Part.DECODER)
                    ? VaeDecoder.load(w, backend) : null);
        } catch (RuntimeException e) {
            if (encoder != null) {
                encoder.close();
            }
            throw e;
        }
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

    /**
     * On a host backend, {@link VaeDecoder#footprint}; on a device only the images that come back and the latents'
     * host copies (the input and its scaled copy) are on the heap.
     */
    @Override
    public Footprint decodeFootprint(int batch, int h, int w) {
        if (backend == null || backend.device() == Device.CPU) {
            return VaeDecoder.footprint(config, batch, h, w);
        }
        long f = config.downsampleFactor();
        long images = (long) batch * config.outChannels() * h * f * w * f;
        long latents = (long) batch * config.latentChannels() * h * w;
        return new Footprint(4 * (images + 2 * latents), images);
    }

    /** On a device: the decoder's f32 parameters and its feature maps, as {@link VaeDecoder#footprint} counts them. */
    @Override
    public long deviceDecodeBytes(int batch, int h, int w) {
        if (backend == null || backend.device() == Device.CPU) {
            return 0;
        }
        return 4 * VaeDecoder.parameterCount(config) + VaeDecoder.footprint(config, batch, h, w).peakBytes();
    }

    @Override
    public void close() {
        if (encoder != null) {
            encoder.close();
        }
        if (decoder != null) {
            decoder.close();
        }
    }
}
