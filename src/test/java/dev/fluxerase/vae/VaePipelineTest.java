package dev.fluxerase.vae;

import dev.fluxerase.image.Png;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.safetensors.SafetensorsFile;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Resources;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static dev.fluxerase.vae.VaeGolden.PIPELINE;
import static dev.fluxerase.vae.VaeGolden.assertClose;
import static dev.fluxerase.vae.VaeGolden.assertClose64;
import static dev.fluxerase.vae.VaeGolden.f64;
import static dev.fluxerase.vae.VaeGolden.tensor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * pipeline-tiny's BF16 diffusers VAE folder (the test resources' copy of the whole model folder) and the last stage of
 * FluxPipeline for case cat_32_s4: final latents (unpacked) → decoder input → decoded image → [0, 1] image → 8 bits.
 */
class VaePipelineTest {
    private static final Path VAE = Resources.path("pipeline-tiny/model/vae");
    private static final Path CASE = PIPELINE.resolve("cat_32_s4.safetensors");

    @Test
    void bf16FolderDecodesLikeFluxPipeline(@TempDir Path dir) {
        VaeDecoder decoder = VaeDecoder.load(VAE, VaeGolden.CPU);
        assertEquals(new AutoencoderConfig(3, 3, 16, new int[]{32, 64}, 1, 32, 0.3611, 0.1159, true), decoder.config());
        Tensor latents = tensor(CASE, "final_latents_unpacked");

        Tensor input = VaeDecoder.toVaeSpace(latents, decoder.config());
        Tensor refInput = tensor(CASE, "vae_decoder_input");
        for (int i = 0; i < refInput.numel(); i++) {
            assertEquals(Float.floatToIntBits(refInput.get(i)), Float.floatToIntBits(input.get(i)), "decoder input " + i);
        }

        Tensor decoded = decoder.decode(latents);
        assertClose("decoded_raw", decoded, tensor(CASE, "decoded_raw_f32"), 1e-5);
        assertClose64("decoded_raw vs f64", decoded, f64(CASE, "decoded_raw_f64"), 1e-5);

        // the pipeline's np image is [H, W, 3] in [0, 1]; ours must be its 8-bit rounding (numpy_to_pil)
        RgbImage image = RgbImage.fromTensor(decoded, 0);
        Tensor ref = tensor(CASE, "image_f32");
        assertEquals(32, image.width());
        assertEquals(32, image.height());
        for (int y = 0; y < 32; y++) {
            for (int x = 0; x < 32; x++) {
                for (int c = 0; c < 3; c++) {
                    double want = ref.get((y * 32L + x) * 3 + c) * 255.0;
                    assertTrue(Math.abs(image.get(x, y, c) - want) <= 0.5 + 1e-3,
                            "pixel (" + x + ", " + y + ") channel " + c + ": " + image.get(x, y, c) + " vs " + want);
                }
            }
        }
        Path png = dir.resolve("cat.png");
        Png.write(png, image);
        assertEquals(image, Png.read(png));
    }

    @Test
    void pipelineRootUsesItsVaeFolder(@TempDir Path root) throws IOException {
        Files.writeString(root.resolve("model_index.json"), "{\"_class_name\": \"FluxPipeline\"}");
        Path vae = Files.createDirectory(root.resolve("vae"));
        for (String f : new String[]{"config.json", "diffusion_pytorch_model.safetensors"}) {
            Files.copy(VAE.resolve(f), vae.resolve(f));
        }
        try (VaeWeights w = VaeWeights.open(root)) {
            assertEquals(VaeWeights.Naming.DIFFUSERS, w.naming());
            assertEquals(32, w.config().normNumGroups());
        }
        Files.delete(vae.resolve("config.json"));
        VaeException e = assertThrows(VaeException.class, () -> VaeWeights.open(root));
        assertTrue(e.getMessage().startsWith(vae + ": no config.json"), e.getMessage());
    }

    /** A folder holding only the decoder: loading the encoder names the first missing tensor. */
    @Test
    void missingEncoderIsNamed(@TempDir Path dir) throws IOException {
        Files.copy(VAE.resolve("config.json"), dir.resolve("config.json"));
        try (TensorSource full = SafetensorsFile.open(VAE.resolve("diffusion_pytorch_model.safetensors"))) {
            Map<String, Tensor> decoderOnly = new LinkedHashMap<>();
            for (String name : full.names()) {
                if (name.startsWith("decoder.")) {
                    decoderOnly.put(name, full.tensor(name));
                }
            }
            SafetensorsWriter.write(dir.resolve("diffusion_pytorch_model.safetensors"), decoderOnly, Map.of());
        }
        VaeException e = assertThrows(VaeException.class, () -> VaeEncoder.load(dir, VaeGolden.CPU));
        assertTrue(e.getMessage().contains("diffusion_pytorch_model.safetensors: missing tensor encoder.conv_in.weight"),
                e.getMessage());
    }
}
