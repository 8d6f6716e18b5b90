package dev.fluxerase.vae;

import dev.fluxerase.tensor.Allocations;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.ConvGeometry;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

import java.nio.file.Path;
import java.util.function.BiConsumer;

/**
 * The VAE encoder (diffusers {@code Encoder} = BFL {@code Encoder}): conv_in (in → level-0 width), down blocks of
 * layers_per_block ResNets each and, except the last, a stride-2 downsample conv (zero pad right/bottom); mid block;
 * GroupNorm, swish, conv_out to 2·latent channels = mean | logvar. It computes on the backend it was loaded for, as
 * {@link VaeDecoder} does: parameters converted to f32 and placed there at load (freed by {@link #close}), images up,
 * latents back as host tensors.
 */
public final class VaeEncoder implements AutoCloseable {

    private final AutoencoderConfig config;
    private final Backend be;
    private final Allocations placed;
    private final Conv2d convIn;
    private final ResnetBlock[][] resnets;
    private final Conv2d[] downsamplers;
    private final MidBlock mid;
    private final GroupNorm normOut;
    private final Conv2d convOut;

    private VaeEncoder(VaeWeights w, Allocations p) {
        config = w.config();
        be = p.backend();
        placed = p;
        int levels = config.levels();
        convIn = Conv2d.load(w, p, "encoder.conv_in", config.inChannels(), config.channels(0), 3);
        resnets = new ResnetBlock[levels][config.layersPerBlock()];
        downsamplers = new Conv2d[levels];
        int prev = config.channels(0);
        for (int i = 0; i < levels; i++) {
            int c = config.channels(i);
            for (int j = 0; j < resnets[i].length; j++) {
                resnets[i][j] = ResnetBlock.load(w, p, "encoder.down_blocks." + i + ".resnets." + j, j == 0 ? prev : c,
                        c);
            }
            if (i < levels - 1) {
                downsamplers[i] = Conv2d.load(w, p, "encoder.down_blocks." + i + ".downsamplers.0.conv", c, c, 3);
            }
            prev = c;
        }
        int top = config.channels(levels - 1);
        mid = MidBlock.load(w, p, "encoder.mid_block", top);
        normOut = GroupNorm.load(w, p, "encoder.conv_norm_out", top);
        convOut = Conv2d.load(w, p, "encoder.conv_out", top, 2 * config.latentChannels(), 3);
        w.requireAllUsed("encoder.");
    }

    /**
     * Reads and converts the encoder's parameters onto {@code backend}; every tensor under {@code encoder.} must be one
     * of them.
     */
    public static VaeEncoder load(VaeWeights w, Backend backend) {
        return Allocations.building(backend, p -> new VaeEncoder(w, p));
    }

    /** {@link VaeWeights#open(Path)} then {@link #load(VaeWeights, Backend)}; the file is closed afterwards. */
    public static VaeEncoder load(Path path, Backend backend) {
        try (VaeWeights w = VaeWeights.open(path)) {
            return load(w, backend);
        }
    }

    public AutoencoderConfig config() {
        return config;
    }

    /**
     * FLUX encoding (BFL {@code AutoEncoder.encode}): the mean of the latent distribution mapped to the transformer's
     * space, (mean − shift_factor) · scaling_factor in float32. Images are host tensors [B, in, H, W] in [−1, 1], H and
     * W multiples of {@link AutoencoderConfig#downsampleFactor()}.
     */
    public Tensor encode(Tensor image) {
        return config.scaling().toFlux(moments(image).mean());
    }

    /** The diagonal Gaussian the encoder outputs, as host tensors; logvar clamped to [−30, 20] as diffusers. */
    public LatentCodec.Moments moments(Tensor image) {
        return moments(image, null);
    }

    /**
     * {@link #moments(Tensor)} that also hands {@code probe} each image's intermediate maps as host [1, C, H, W]
     * tensors: {@code enc_conv_in}, {@code enc_down_block_i}, {@code enc_mid_block}, for debugging.
     */
    public LatentCodec.Moments moments(Tensor image, BiConsumer<String, Tensor> probe) {
        float[] in = Layout.nchw(image, "image", config.inChannels());
        int batch = (int) image.dim(0);
        int h = (int) image.dim(2);
        int w = (int) image.dim(3);
        int f = config.downsampleFactor();
        if (h % f != 0 || w % f != 0) {
            throw new VaeException("image: height " + h + " and width " + w + " must be multiples of " + f);
        }
        int lc = config.latentChannels();
        // the host array itself on a host backend, a copy on a device (freed at the end)
        Tensor pixels = be.toDevice(Tensor.of(in, image.shape()));
        // mean | logvar as conv_out writes them, channels first: image b's mean is its first lc planes
        Tensor moments = be.allocate(DType.F32, batch, 2L * lc, h / f, w / f);
        for (int b = 0; b < batch; b++) {
            Tensor m = convIn.forwardAndFree(Layout.toMap(be, pixels, b), ConvGeometry.SAME);
            Layout.report(be, probe, "enc_conv_in", m);
            for (int i = 0; i < resnets.length; i++) {
                for (ResnetBlock r : resnets[i]) {
                    m = r.forward(m);
                }
                if (downsamplers[i] != null) {
                    m = downsamplers[i].forwardAndFree(m, ConvGeometry.DOWN);
                }
                Layout.report(be, probe, "enc_down_block_" + i, m);
            }
            m = mid.forward(m);
            Layout.report(be, probe, "enc_mid_block", m);
            normOut.inPlace(m, true);
            Tensor out = convOut.forwardAndFree(m, ConvGeometry.SAME);
            Layout.toNchw(be, out, moments, b);
            be.free(out);
        }
        be.free(pixels);
        float[] both = be.download(moments);
        be.free(moments);
        int plane = lc * (h / f) * (w / f);
        float[] mean = new float[batch * plane];
        float[] logvar = new float[batch * plane];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(both, 2 * b * plane, mean, b * plane, plane);
            for (int i = 0; i < plane; i++) {
                logvar[b * plane + i] = Math.clamp(both[(2 * b + 1) * plane + i], -30f, 20f);
            }
        }
        return new LatentCodec.Moments(Tensor.of(mean, batch, lc, h / f, w / f), Tensor.of(logvar, batch, lc, h / f,
                w / f));
    }

    /** Frees the parameters' copies on a device backend (nothing on a host one). */
    @Override
    public void close() {
        placed.close();
    }
}
