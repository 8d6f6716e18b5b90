package dev.fluxerase.vae;

import dev.fluxerase.safetensors.SafetensorsFile;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.fluxerase.vae.VaeGolden.TINY;
import static dev.fluxerase.vae.VaeGolden.tensor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

    /**
     * Every conv kernel reaches the backend frozen, and as the same object at every decode, so the CPU GEMM packs it once
     * for the decoder's life instead of once per decode and column tile.
     */
    @Test
    void convKernelsReachTheBackendFrozenAndTheSameAtEveryDecode() {
        List<List<Tensor>> perDecode = new ArrayList<>();
        Backend watching = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[]{Backend.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("conv2d") && !perDecode.isEmpty()) {
                        perDecode.getLast().add((Tensor) args[1]);
                    }
                    try {
                        return method.invoke(VaeGolden.CPU, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        Tensor z = tensor(TINY.resolve("inputs.safetensors"), "latent_z");
        try (TensorSource s = SafetensorsFile.open(TINY.resolve("weights_diffusers.safetensors"));
             VaeWeights w = VaeWeights.of(s, AutoencoderConfig.read(TINY.resolve("config_g32.json")));
             VaeDecoder decoder = VaeDecoder.load(w, watching)) {
            for (int decode = 0; decode < 2; decode++) {
                perDecode.add(new ArrayList<>());
                decoder.decode(z);
            }
        }
        assertTrue(perDecode.get(0).size() > 10, perDecode.get(0).size() + " convs in a decode");
        for (Tensor k : perDecode.get(0)) {
            assertTrue(k.isFrozen(), "a conv kernel " + Arrays.toString(k.shape()) + " reached the backend unfrozen");
        }
        assertEquals(perDecode.get(0), perDecode.get(1), "the second decode's kernels are the first one's objects");
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
