package dev.fluxerase.vae;

import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static dev.fluxerase.vae.VaeGolden.TINY;
import static dev.fluxerase.vae.VaeGolden.tensor;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The tiny FLUX-layout VAE against diffusers' float32 and float64 runs on the CPU backend ({@link VaeGoldenChecks},
 * whose bounds are 1e-5 against both; this port measures 1.4e-6 or less), and the bit-exact FLUX scaling.
 */
class VaeGoldenTest {

    @ParameterizedTest
    @ValueSource(strings = {"g8", "g32"})
    void decoderMatchesDiffusers(String c) {
        VaeGoldenChecks.decoder(VaeGolden.CPU, c, VaeGolden::assertClose64);
    }

    @ParameterizedTest
    @ValueSource(strings = {"g8", "g32"})
    void encoderMatchesDiffusers(String c) {
        VaeGoldenChecks.encoder(VaeGolden.CPU, c, VaeGolden::assertClose64);
    }

    /** Every intermediate of g32 (FLUX's group count), so a mismatch points at the block that causes it. */
    @Test
    void intermediatesMatchDiffusers() {
        VaeGoldenChecks.intermediates(VaeGolden.CPU, VaeGolden::assertClose64);
    }

    /** z / 0.3611 + 0.1159 in float32 reproduces the golden decoder input bit for bit, as FluxPipeline computes it. */
    @Test
    void fluxScalingIsBitExact() {
        Tensor z = tensor(TINY.resolve("inputs.safetensors"), "latent_z");
        Tensor ref = tensor(TINY.resolve("inputs.safetensors"), "decoder_input_f32");
        Tensor ours = VaeDecoder.toVaeSpace(z, AutoencoderConfig.read(TINY.resolve("config_g32.json")));
        for (int i = 0; i < ref.numel(); i++) {
            assertEquals(Float.floatToIntBits(ref.get(i)), Float.floatToIntBits(ours.get(i)), "element " + i);
        }
    }
}
