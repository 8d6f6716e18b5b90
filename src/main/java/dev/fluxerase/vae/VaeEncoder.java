package dev.fluxerase.vae;

import dev.fluxerase.tensor.Tensor;

import java.nio.file.Path;
import java.util.function.BiConsumer;

/**
 * The VAE encoder (diffusers {@code Encoder} = BFL {@code Encoder}): conv_in (in → level-0 width), down blocks of
 * layers_per_block ResNets each and, except the last, a stride-2 downsample conv (zero pad right/bottom); mid block;
 * GroupNorm, swish, conv_out to 2·latent channels = mean | logvar. Parameters are f32 arrays converted at load.
 */
public final class VaeEncoder {

    private final AutoencoderConfig config;
    private final Conv2d convIn;
    private final ResnetBlock[][] resnets;
    private final Conv2d[] downsamplers;
    private final MidBlock mid;
    private final GroupNorm normOut;
    private final Conv2d convOut;

    private VaeEncoder(VaeWeights w) {
        config = w.config();
        int levels = config.levels();
        convIn = Conv2d.load(w, "encoder.conv_in", config.inChannels(), config.channels(0), 3);
        resnets = new ResnetBlock[levels][config.layersPerBlock()];
        downsamplers = new Conv2d[levels];
        int prev = config.channels(0);
        for (int i = 0; i < levels; i++) {
            int c = config.channels(i);
            for (int j = 0; j < resnets[i].length; j++) {
                resnets[i][j] = ResnetBlock.load(w, "encoder.down_blocks." + i + ".resnets." + j, j == 0 ? prev : c, c);
            }
            if (i < levels - 1) {
                downsamplers[i] = Conv2d.load(w, "encoder.down_blocks." + i + ".downsamplers.0.conv", c, c, 3);
            }
            prev = c;
        }
        int top = config.channels(levels - 1);
        mid = MidBlock.load(w, "encoder.mid_block", top);
        normOut = GroupNorm.load(w, "encoder.conv_norm_out", top);
        convOut = Conv2d.load(w, "encoder.conv_out", top, 2 * config.latentChannels(), 3);
        w.requireAllUsed("encoder.");
    }

    /** Reads and converts the encoder's parameters; every tensor under {@code encoder.} must be one of them. */
    public static VaeEncoder load(VaeWeights w) {
        return new VaeEncoder(w);
    }

    /** {@link VaeWeights#open(Path)} then {@link #load(VaeWeights)}; the file is closed afterwards. */
    public static VaeEncoder load(Path path) {
        try (VaeWeights w = VaeWeights.open(path)) {
            return load(w);
        }
    }

    public AutoencoderConfig config() {
        return config;
    }

    /**
     * FLUX encoding (BFL {@code AutoEncoder.encode}): the mean of the latent distribution mapped to the transformer's
     * space, (mean − shift_factor) · scaling_factor in float32. Images are [B, in, H, W] in [−1, 1], H and W multiples
     * of {@link AutoencoderConfig#downsampleFactor()}.
     */
    public Tensor encode(Tensor image) {
        return config.scaling().toFlux(moments(image).mean());
    }

    /** The diagonal Gaussian the encoder outputs; logvar clamped to [−30, 20] as diffusers. */
    public LatentCodec.Moments moments(Tensor image) {
        return moments(image, null);
    }

    /**
     * {@link #moments(Tensor)} that also hands {@code probe} each image's intermediate maps as [1, C, H, W] tensors:
     * {@code enc_conv_in}, {@code enc_down_block_i}, {@code enc_mid_block}, for debugging.
     */
    public LatentCodec.Moments moments(Tensor image, BiConsumer<String, Tensor> probe) {
        float[] in = FeatureMap.nchw(image, "image", config.inChannels());
        int batch = (int) image.dim(0);
        int h = (int) image.dim(2);
        int w = (int) image.dim(3);
        int f = config.downsampleFactor();
        if (h % f != 0 || w % f != 0) {
            throw new VaeException("image: height " + h + " and width " + w + " must be multiples of " + f);
        }
        int lc = config.latentChannels();
        int plane = (h / f) * (w / f);
        float[] mean = new float[batch * lc * plane];
        float[] logvar = new float[batch * lc * plane];
        for (int b = 0; b < batch; b++) {
            FeatureMap m = convIn.forward(FeatureMap.fromNchw(in, b, config.inChannels(), h, w), Conv2d.Mode.SAME, null);
            VaeDecoder.report(probe, "enc_conv_in", m);
            for (int i = 0; i < resnets.length; i++) {
                for (ResnetBlock r : resnets[i]) {
                    m = r.forward(m);
                }
                if (downsamplers[i] != null) {
                    m = downsamplers[i].forward(m, Conv2d.Mode.DOWN, null);
                }
                VaeDecoder.report(probe, "enc_down_block_" + i, m);
            }
            m = mid.forward(m);
            VaeDecoder.report(probe, "enc_mid_block", m);
            FeatureMap moments = convOut.forward(normOut.forward(m, true), Conv2d.Mode.SAME, null);
            for (int ch = 0; ch < lc; ch++) {
                int dst = (b * lc + ch) * plane;
                for (int p = 0; p < plane; p++) {
                    mean[dst + p] = moments.data[p * 2 * lc + ch];
                    logvar[dst + p] = Math.clamp(moments.data[p * 2 * lc + lc + ch], -30f, 20f);
                }
            }
        }
        return new LatentCodec.Moments(Tensor.of(mean, batch, lc, h / f, w / f), Tensor.of(logvar, batch, lc, h / f, w / f));
    }
}
