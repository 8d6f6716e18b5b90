package dev.fluxerase.vae;

import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** FLUX.1's real VAE geometry (4 levels, 2/3 res blocks, 32 groups) loads from a BFL-named checkpoint. */
class FluxSizeVaeTest {

    @Test
    void bflNamedFluxVaeLoadsEveryParameter() {
        try (FluxVaeCheckpoint ckpt = new FluxVaeCheckpoint(null)) {
            assertEquals(FluxVaeCheckpoint.FLUX_VAE_PARAMETERS, ckpt.parameters(), "FLUX.md §5.4 parameter count");
            VaeGolden.MapSource source = new VaeGolden.MapSource("flux-ae-zeros", ckpt.tensors());
            try (VaeWeights w = VaeWeights.of(source, AutoencoderConfig.FLUX)) {
                assertEquals(VaeWeights.Naming.BFL, w.naming());
                VaeDecoder decoder = VaeDecoder.load(w, VaeGolden.CPU);
                VaeEncoder encoder = VaeEncoder.load(w, VaeGolden.CPU);
                assertEquals(8, decoder.config().downsampleFactor());
                // all-zero weights give bias-only outputs; this checks geometry, not values
                Tensor image = decoder.decode(Tensor.zeros(1, 16, 1, 1));
                assertArrayEquals(new long[]{1, 3, 8, 8}, image.shape());
                assertArrayEquals(new long[]{1, 16, 1, 1}, encoder.encode(image).shape());
            }
        }
    }

    /**
     * The decoder's parameter count, which sizes a device's share of a decode, equals the decoder tensors of the
     * checkpoint enumerated from BFL's module structure (and the PyTorch decoder of bench/torch_cpu_codecs.py: 49,545,475).
     */
    @Test
    void decoderParameterCountMatchesTheCheckpoint() {
        try (FluxVaeCheckpoint ckpt = new FluxVaeCheckpoint(null)) {
            long decoder = ckpt.tensors().entrySet().stream().filter(e -> e.getKey().startsWith("decoder."))
                    .mapToLong(e -> e.getValue().numel()).sum();
            assertEquals(49_545_475L, decoder);
            assertEquals(decoder, VaeDecoder.parameterCount(AutoencoderConfig.FLUX));
        }
    }
}
