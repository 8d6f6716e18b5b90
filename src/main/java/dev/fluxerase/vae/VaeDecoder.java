package dev.fluxerase.vae;

import dev.fluxerase.tensor.Allocations;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.ConvGeometry;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

import java.nio.file.Path;
import java.util.function.BiConsumer;

/**
 * The VAE decoder (diffusers {@code Decoder} = BFL {@code Decoder}): conv_in (latent → widest), mid block, up blocks from
 * the lowest resolution up (diffusers up_blocks.k = BFL up.(levels−1−k)), each layers_per_block+1 ResNets and, except the
 * last, a nearest ×2 upsample + conv; then GroupNorm, swish, conv_out. It computes on the backend it was loaded for:
 * parameters are converted to f32 at load and placed there (freed by {@link #close}), the latents go up and the images
 * come back as host tensors, and the maps in between are freed as soon as the next stage has read them.
 */
public final class VaeDecoder implements AutoCloseable {
    private final AutoencoderConfig config;
    private final Backend be;
    private final Allocations placed;
    private final Conv2d convIn;
    private final MidBlock mid;
    private final ResnetBlock[][] resnets;
    private final Conv2d[] upsamplers;
    private final GroupNorm normOut;
    private final Conv2d convOut;

    private VaeDecoder(VaeWeights w, Allocations p) {
        config = w.config();
        be = p.backend();
        placed = p;
        int levels = config.levels();
        int top = config.channels(levels - 1);
        convIn = Conv2d.load(w, p, "decoder.conv_in", config.latentChannels(), top, 3);
        mid = MidBlock.load(w, p, "decoder.mid_block", top);
        resnets = new ResnetBlock[levels][config.layersPerBlock() + 1];
        upsamplers = new Conv2d[levels];
        int prev = top;
        for (int k = 0; k < levels; k++) {
            int c = config.channels(levels - 1 - k);
            for (int j = 0; j < resnets[k].length; j++) {
                resnets[k][j] = ResnetBlock.load(w, p, "decoder.up_blocks." + k + ".resnets." + j, j == 0 ? prev : c,
                        c);
            }
            if (k < levels - 1) {
                upsamplers[k] = Conv2d.load(w, p, "decoder.up_blocks." + k + ".upsamplers.0.conv", c, c, 3);
            }
            prev = c;
        }
        normOut = GroupNorm.load(w, p, "decoder.conv_norm_out", config.channels(0));
        convOut = Conv2d.load(w, p, "decoder.conv_out", config.channels(0), config.outChannels(), 3);
        w.requireAllUsed("decoder.");
    }

    /**
     * Reads and converts the decoder's parameters onto {@code backend}; every tensor under {@code decoder.} must be one
     * of them.
     */
    public static VaeDecoder load(VaeWeights w, Backend backend) {
        return Allocations.building(backend, p -> new VaeDecoder(w, p));
    }

    /** {@link VaeWeights#open(Path)} then {@link #load(VaeWeights, Backend)}; the file is closed afterwards. */
    public static VaeDecoder load(Path path, Backend backend) {
        try (VaeWeights w = VaeWeights.open(path)) {
            return load(w, backend);
        }
    }

    public AutoencoderConfig config() {
        return config;
    }

    /**
     * FLUX decoding: latents [B, latent, h, w] in the transformer's normalised space (after unpacking) are mapped to the
     * VAE's space with z / scaling_factor + shift_factor (in float32, as FluxPipeline and BFL do), then decoded to
     * [B, out, h·f, w·f] in about [−1, 1], unclamped (f = {@link AutoencoderConfig#downsampleFactor()}). Both are host
     * tensors.
     */
    public Tensor decode(Tensor latents) {
        return run(toVaeSpace(latents, config), null);
    }

    /** z / scaling_factor + shift_factor, elementwise in float32. */
    static Tensor toVaeSpace(Tensor latents, AutoencoderConfig config) {
        float[] z = Layout.nchw(latents, "latents", config.latentChannels());
        config.scaling().fromFlux(z);
        return Tensor.of(z, latents.shape());
    }

    /** The decoder alone, on latents already in the VAE's space (no scaling). */
    public Tensor decodeRaw(Tensor x) {
        return run(x, null);
    }

    /**
     * {@link #decodeRaw(Tensor)} that also hands {@code probe} each image's intermediate maps as host [1, C, H, W]
     * tensors: {@code dec_conv_in}, {@code dec_mid_block}, {@code dec_up_block_k} (diffusers numbering), for debugging.
     */
    public Tensor decodeRaw(Tensor x, BiConsumer<String, Tensor> probe) {
        return run(x, probe);
    }

    private Tensor run(Tensor x, BiConsumer<String, Tensor> probe) {
        float[] in = Layout.nchw(x, "decoder input", config.latentChannels());
        int batch = (int) x.dim(0);
        long f = config.downsampleFactor();
        // the host array itself on a host backend, a copy on a device (freed at the end)
        Tensor latents = be.toDevice(Tensor.of(in, x.shape()));
        Tensor out = be.allocate(DType.F32, batch, config.outChannels(), x.dim(2) * f, x.dim(3) * f);
        for (int b = 0; b < batch; b++) {
            Tensor m = convIn.forwardAndFree(Layout.toMap(be, latents, b), ConvGeometry.SAME);
            Layout.report(be, probe, "dec_conv_in", m);
            m = mid.forward(m);
            Layout.report(be, probe, "dec_mid_block", m);
            for (int k = 0; k < resnets.length; k++) {
                for (ResnetBlock r : resnets[k]) {
                    m = r.forward(m);
                }
                if (upsamplers[k] != null) {
                    m = upsamplers[k].forwardAndFree(m, ConvGeometry.UP);
                }
                Layout.report(be, probe, "dec_up_block_" + k, m);
            }
            normOut.inPlace(m, true);
            Tensor image = convOut.forwardAndFree(m, ConvGeometry.SAME);
            Layout.toNchw(be, image, out, b);
            be.free(image);
        }
        be.free(latents);
        return be.moveToHost(out);
    }

    /** Frees the parameters' copies on a device backend (nothing on a host one). */
    @Override
    public void close() {
        placed.close();
    }

    /**
     * The decoder's parameters (conv_in, the mid block, the up blocks with their upsamplers, norm_out, conv_out), which
     * a device backend holds as f32 while the codec is open: 49,545,475 for FLUX.1's VAE.
     */
    static long parameterCount(AutoencoderConfig config) {
        int levels = config.levels();
        long c = config.channels(levels - 1);
        long n = conv(config.latentChannels(), c, 3) + 2 * resnet(c, c) + (config.midBlockAddAttention() ? 2 * c + 4
                * (c * c + c) : 0);
        for (int k = 0; k < levels; k++) {
            long out = config.channels(levels - 1 - k);
            for (int j = 0; j <= config.layersPerBlock(); j++) {
                n += resnet(c, out);
                c = out;
            }
            if (k < levels - 1) {
                n += conv(c, c, 3);
            }
        }
        return n + 2 * c + conv(c, config.outChannels(), 3);
    }

    private static long conv(long cin, long cout, int k) {
        return cin * cout * k * k + cout;
    }

    /** Two group norms and two 3×3 convs, and a 1×1 shortcut when the channel count changes. */
    private static long resnet(long cin, long cout) {
        return 2 * cin + conv(cin, cout, 3) + 2 * cout + conv(cout, cout, 3) + (cin == cout ? 0 : conv(cin, cout, 1));
    }

    /**
     * What {@link #run} holds on the Java heap at once when it computes on a host backend, stage by stage, for one image
     * at a time plus the batch's output: a ResNet block from c_in to c channels keeps its input beside the first norm
     * (c_in) and h (c), then beside h and the skip (c), so c_in + c + max(c_in, c) maps of its resolution; an upsampler
     * its input and the ×2 output; the end its last map (normed in place), the 3-channel result and the batch's output.
     * The mid block, at the latent resolution, is never the largest for FLUX's channel counts and is counted as a ResNet
     * block. On a device backend the maps live in device memory and the heap holds only the latents and images that
     * cross ({@link AutoencoderCodec#decodeFootprint}).
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
        peak = Math.max(peak, (long) (config.channels(0) + config.outChannels()) * pixels);
        return new LatentCodec.Footprint(4 * (peak + out), largest);
    }
}
