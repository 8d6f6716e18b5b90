package dev.fluxerase.vae;

import dev.fluxerase.safetensors.SafetensorsFile;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Compare;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.fluxerase.vae.VaeGolden.TINY;
import static dev.fluxerase.vae.VaeGolden.f64;
import static dev.fluxerase.vae.VaeGolden.tensor;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The tiny FLUX-layout VAE (text-vae-tiny/vae_tiny) against diffusers' float32 and float64 runs, one body per check for
 * every backend: VaeGoldenTest runs them on the CPU backend, CudaVaeGoldenTest on the GPU, so a check added here holds
 * on both. The generator measured float32-vs-float64 differences of about 2e-6 and expects a float32 port within 1e-5
 * of _f32 and 1e-4 of _f64; the CPU measures 1.4e-6 or less against both, so both bounds are 1e-5. How a comparison is
 * asserted and reported is the caller's ({@link Close}): the GPU's skips on the stand-in, whose kernels compute nothing.
 */
public final class VaeGoldenChecks {
    public static final double F32_BOUND = 1e-5;
    public static final double F64_BOUND = 1e-5;
    /** The two group counts the goldens were made with: 8, and FLUX's 32. */
    public static final List<String> CONFIGS = List.of("g8", "g32");
    private static final Path WEIGHTS = TINY.resolve("weights_diffusers.safetensors");
    private static final Path INPUTS = TINY.resolve("inputs.safetensors");

    private VaeGoldenChecks() {
    }

    /** Asserts rel_to_max(ours, ref) ≤ bound; ref is a float32 or float64 golden, widened to double. */
    @FunctionalInterface
    public interface Close {
        void check(String what, Tensor ours, double[] ref, double bound);
    }

    private static AutoencoderConfig config(String c) {
        return AutoencoderConfig.read(TINY.resolve("config_" + c + ".json"));
    }

    private static void both(Close close, String what, Tensor ours, Path out, String name) {
        Tensor f32 = tensor(out, name + "_f32");
        assertArrayEquals(f32.shape(), ours.shape(), what + " shape");
        close.check(what + " vs f32", ours, Compare.doubles(f32), F32_BOUND);
        close.check(what + " vs f64", ours, f64(out, name + "_f64"), F64_BOUND);
    }

    /** The decoder of config {@code c} ("g8" or "g32") on {@code be}: FLUX latents to the image. */
    public static void decoder(Backend be, String c, Close close) {
        Path out = TINY.resolve("outputs_" + c + ".safetensors");
        try (TensorSource s = SafetensorsFile.open(WEIGHTS); VaeWeights w = VaeWeights.of(s, config(c));
             VaeDecoder decoder = VaeDecoder.load(w, be)) {
            assertEquals(VaeWeights.Naming.DIFFUSERS, w.naming());
            both(close, "decoded " + c, decoder.decode(tensor(INPUTS, "latent_z")), out, "decoded");
        }
    }

    /** The encoder of config {@code c} on {@code be}: the posterior's mean and logvar, and the FLUX latent. */
    public static void encoder(Backend be, String c, Close close) {
        Path out = TINY.resolve("outputs_" + c + ".safetensors");
        try (TensorSource s = SafetensorsFile.open(WEIGHTS); VaeWeights w = VaeWeights.of(s, config(c));
             VaeEncoder encoder = VaeEncoder.load(w, be)) {
            Tensor image = tensor(INPUTS, "image");
            LatentCodec.Moments m = encoder.moments(image);
            both(close, "mean " + c, m.mean(), out, "mean");
            both(close, "logvar " + c, m.logvar(), out, "logvar");
            both(close, "latent_flux " + c, encoder.encode(image), out, "latent_flux");
        }
    }

    /** Every intermediate of g32 (FLUX's group count) on {@code be}, so a mismatch points at the block that causes it. */
    public static void intermediates(Backend be, Close close) {
        Path out = TINY.resolve("outputs_g32.safetensors");
        Map<String, Tensor> seen = new LinkedHashMap<>();
        try (TensorSource s = SafetensorsFile.open(WEIGHTS); VaeWeights w = VaeWeights.of(s, config("g32"));
             VaeDecoder decoder = VaeDecoder.load(w, be); VaeEncoder encoder = VaeEncoder.load(w, be)) {
            decoder.decodeRaw(tensor(INPUTS, "decoder_input_f32"), seen::put);
            encoder.moments(tensor(INPUTS, "image"), seen::put);
        }
        assertEquals(List.of("dec_conv_in", "dec_mid_block", "dec_up_block_0", "dec_up_block_1", "enc_conv_in",
                "enc_down_block_0", "enc_down_block_1", "enc_mid_block"), List.copyOf(seen.keySet()));
        for (Map.Entry<String, Tensor> e : seen.entrySet()) {
            Tensor ref = tensor(out, "intermediate_" + e.getKey() + "_f32");
            assertArrayEquals(ref.shape(), e.getValue().shape(), e.getKey() + " shape");
            close.check(e.getKey(), e.getValue(), Compare.doubles(ref), F32_BOUND);
        }
    }
}
