package dev.fluxerase.vae;

import dev.fluxerase.tensor.Tensor;

import java.nio.file.Path;
import java.util.function.BiConsumer;

/**
 * The VAE decoder (diffusers {@code Decoder} = BFL {@code Decoder}): conv_in (latent → widest), mid block, up blocks from
 * the lowest resolution up (diffusers up_blocks.k = BFL up.(levels−1−k)), each layers_per_block+1 ResNets and, except the
 * last, a nearest ×2 upsample + conv; then GroupNorm, swish, conv_out. Parameters are f32 arrays converted at load.
 */
public final class VaeDecoder {
    private final AutoencoderConfig config;
    private final Conv2d convIn;
    private final MidBlock mid;
    private final ResnetBlock[][] resnets;
    private final Conv2d[] upsamplers;
    private final GroupNorm normOut;
    private final Conv2d convOut;

    private VaeDecoder(VaeWeights w) {
        config = w.config();
        int levels = config.levels();
        int top = config.channels(levels - 1);
        convIn = Conv2d.load(w, "decoder.conv_in", config.latentChannels(), top, 3);
        mid = MidBlock.load(w, "decoder.mid_block", top);
        resnets = new ResnetBlock[levels][config.layersPerBlock() + 1];
        upsamplers = new Conv2d[levels];
        int prev = top;
        for (int k = 0; k < levels; k++) {
            int c = config.channels(levels - 1 - k);
            for (int j = 0; j < resnets[k].length; j++) {
                resnets[k][j] = ResnetBlock.load(w, "decoder.up_blocks." + k + ".resnets." + j, j == 0 ? prev : c, c);
            }
            if (k < levels - 1) {
                upsamplers[k] = Conv2d.load(w, "decoder.up_blocks." + k + ".upsamplers.0.conv", c, c, 3);
            }
            prev = c;
        }
        normOut = GroupNorm.load(w, "decoder.conv_norm_out", config.channels(0));
        convOut = Conv2d.load(w, "decoder.conv_out", config.channels(0), config.outChannels(), 3);
        w.requireAllUsed("decoder.");
    }

    /** Reads and converts the decoder's parameters; every tensor under {@code decoder.} must be one of them. */
    public static VaeDecoder load(VaeWeights w) {
        return new VaeDecoder(w);
    }

    /** {@link VaeWeights#open(Path)} then {@link #load(VaeWeights)}; the file is closed afterwards. */
    public static VaeDecoder load(Path path) {
        try (VaeWeights w = VaeWeights.open(path)) {
            return load(w);
        }
    }

    public AutoencoderConfig config() {
        return config;
    }

    /**
     * FLUX decoding: latents [B, latent, h, w] in the transformer's normalised space (after unpacking) are mapped to the
     * VAE's space with z / scaling_factor + shift_factor (in float32, as FluxPipeline and BFL do), then decoded to
     * [B, out, h·f, w·f] in about [−1, 1], unclamped (f = {@link AutoencoderConfig#downsampleFactor()}).
     */
    public Tensor decode(Tensor latents) {
        return run(toVaeSpace(latents, config), null);
    }

    /** z / scaling_factor + shift_factor, elementwise in float32. */
    static Tensor toVaeSpace(Tensor latents, AutoencoderConfig config) {
        float[] z = FeatureMap.nchw(latents, "latents", config.latentChannels());
        config.scaling().fromFlux(z);
        return Tensor.of(z, latents.shape());
    }

    /** The decoder alone, on latents already in the VAE's space (no scaling). */
    public Tensor decodeRaw(Tensor x) {
        return run(x, null);
    }

    /**
     * {@link #decodeRaw(Tensor)} that also hands {@code probe} each image's intermediate maps as [1, C, H, W] tensors:
     * {@code dec_conv_in}, {@code dec_mid_block}, {@code dec_up_block_k} (diffusers numbering), for debugging.
     */
    public Tensor decodeRaw(Tensor x, BiConsumer<String, Tensor> probe) {
        return run(x, probe);
    }

    private Tensor run(Tensor x, BiConsumer<String, Tensor> probe) {
        float[] in = FeatureMap.nchw(x, "decoder input", config.latentChannels());
        int batch = (int) x.dim(0);
        int h = (int) x.dim(2);
        int w = (int) x.dim(3);
        int f = config.downsampleFactor();
        float[] out = new float[Math.multiplyExact(Math.multiplyExact(batch * config.outChannels(), h * f), w * f)];
        for (int b = 0; b < batch; b++) {
            FeatureMap m = convIn.forward(FeatureMap.fromNchw(in, b, config.latentChannels(), h, w), Conv2d.Mode.SAME, null);
            report(probe, "dec_conv_in", m);
            m = mid.forward(m);
            report(probe, "dec_mid_block", m);
            for (int k = 0; k < resnets.length; k++) {
                for (ResnetBlock r : resnets[k]) {
                    m = r.forward(m);
                }
                if (upsamplers[k] != null) {
                    m = upsamplers[k].forward(m, Conv2d.Mode.UP, null);
                }
                report(probe, "dec_up_block_" + k, m);
            }
            convOut.forward(normOut.forward(m, true), Conv2d.Mode.SAME, null).toNchw(out, b);
        }
        return Tensor.of(out, batch, config.outChannels(), (long) h * f, (long) w * f);
    }

    /**
     * The arrays {@link #run} holds at once, stage by stage, for one image at a time plus the batch's output: a ResNet
     * block from c_in to c channels keeps its input beside two c-or-c_in maps (input, norm, conv; then input, conv,
     * norm; ...), so c_in + c + max(c_in, c) maps of its resolution; an upsampler its input and the ×2 output; the end
     * its last map, the normed copy and the 3-channel result. The mid block, at the latent resolution, is never the
     * largest for FLUX's channel counts and is counted as a ResNet block.
     */
    static LatentCodec.Footprint footprint(AutoencoderConfig config, int batch, int h, int w) {
        int levels = config.levels();
        int f = config.downsampleFactor();
        long pixels = (long) h * w;
        long out = (long) batch * config.outChannels() * pixels * f * f;
        long peak = 0;
        long largest = out;
        int prev = config.channels(levels - 1);
        peak = Math.max(peak, 3L * prev * pixels);
        for (int k = 0; k < levels; k++) {
            int c = config.channels(levels - 1 - k);
            int cin = prev;
            peak = Math.max(peak, (long) (cin + c + Math.max(cin, c)) * pixels);
            largest = Math.max(largest, (long) Math.max(cin, c) * pixels);
            if (k < levels - 1) {
                peak = Math.max(peak, 5L * c * pixels);
                pixels *= 4;
                largest = Math.max(largest, (long) c * pixels);
            }
            prev = c;
        }
        peak = Math.max(peak, (2L * config.channels(0) + config.outChannels()) * pixels);
        return new LatentCodec.Footprint(4 * (peak + out), largest);
    }

    static void report(BiConsumer<String, Tensor> probe, String name, FeatureMap m) {
        if (probe != null) {
            probe.accept(name, m.toTensor());
        }
    }
}
