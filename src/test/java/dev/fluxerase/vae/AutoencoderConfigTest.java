package dev.fluxerase.vae;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AutoencoderConfigTest {
    /** black-forest-labs/FLUX.1-dev vae/config.json. */
    private static final String FLUX_DEV_VAE = """
            {
              "_class_name": "AutoencoderKL",
              "_diffusers_version": "0.30.0.dev0",
              "act_fn": "silu",
              "block_out_channels": [128, 256, 512, 512],
              "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
              "force_upcast": true,
              "in_channels": 3,
              "latent_channels": 16,
              "latents_mean": null,
              "latents_std": null,
              "layers_per_block": 2,
              "mid_block_add_attention": true,
              "norm_num_groups": 32,
              "out_channels": 3,
              "sample_size": 1024,
              "scaling_factor": 0.3611,
              "shift_factor": 0.1159,
              "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"],
              "use_post_quant_conv": false,
              "use_quant_conv": false
            }""";

    @Test
    void fluxConfigFileIsThePreset(@TempDir Path dir) throws IOException {
        Path f = Files.writeString(dir.resolve("config.json"), FLUX_DEV_VAE);
        AutoencoderConfig c = AutoencoderConfig.read(f);
        assertEquals(AutoencoderConfig.FLUX, c);
        assertEquals(8, c.downsampleFactor());
        assertEquals(4, c.levels());
        assertArrayEquals(new int[]{128, 256, 512, 512}, c.blockOutChannels());
    }

    @Test
    void tinyGoldenConfigs() {
        AutoencoderConfig g8 = AutoencoderConfig.read(VaeGolden.TINY.resolve("config_g8.json"));
        assertEquals(new AutoencoderConfig(3, 3, 16, new int[]{32, 64}, 1, 8, 0.3611, 0.1159, true), g8);
        assertEquals(2, g8.downsampleFactor());
    }

    @Test
    void foreignConfigsGiveOneLineErrors(@TempDir Path dir) throws IOException {
        assertError(dir, FLUX_DEV_VAE.replace("\"use_quant_conv\": false", "\"use_quant_conv\": true"),
                "use_quant_conv is true: not FLUX's VAE layout");
        assertError(dir, FLUX_DEV_VAE.replace("AutoencoderKL", "AutoencoderTiny"), "_class_name is AutoencoderTiny");
        assertError(dir, FLUX_DEV_VAE.replace("\"norm_num_groups\": 32", "\"norm_num_groups\": 48"),
                "norm_num_groups 48 does not divide block_out_channels [128, 256, 512, 512]");
        assertError(dir, FLUX_DEV_VAE.replace("\"UpDecoderBlock2D\", \"UpDecoderBlock2D\", \"UpDecoderBlock2D\", ", ""),
                "up_block_types is [\"UpDecoderBlock2D\"], expected 4 × UpDecoderBlock2D");
        assertError(dir, FLUX_DEV_VAE.replace("\"layers_per_block\": 2", "\"layers_per_block\": \"2\""),
                "layers_per_block must be an integer, found \"2\"");
        assertError(dir, "[1, 2]", "VAE config is not a JSON object");
        assertError(dir, "{ not json", "cannot read VAE config");
    }

    @Test
    void absentQuantKeysAreAccepted(@TempDir Path dir) throws IOException {
        String json = FLUX_DEV_VAE.replace("\"use_post_quant_conv\": false,", "").replace("\"use_quant_conv\": false", "\"x\": 0");
        assertEquals(AutoencoderConfig.FLUX, AutoencoderConfig.read(Files.writeString(dir.resolve("c.json"), json)));
    }

    private static void assertError(Path dir, String json, String part) throws IOException {
        Path f = Files.writeString(dir.resolve("config.json"), json);
        VaeException e = assertThrows(VaeException.class, () -> AutoencoderConfig.read(f));
        assertTrue(e.getMessage().startsWith(f + ": ") && e.getMessage().contains(part), e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    }

    /**
     * FLUX's VAE decoding a 128×128 latent (1024² image), by hand: the largest live set is the last level's first ResNet
     * block, 256 → 128 channels at 1024² pixels, (256 + 128 + 256)·2²⁰ floats, plus the 3·2²⁰ output; the largest map
     * is 256 channels at 1024² (the upsampler's output and that block's input). At 4096² that map no longer fits in one
     * Java array (256·2²⁴ = 2³² floats).
     */
    @Test
    void decodeFootprintOfFluxsVaeByHand() {
        LatentCodec.Footprint f = VaeDecoder.footprint(AutoencoderConfig.FLUX, 1, 128, 128);
        assertEquals(4L * (640 + 3) * (1 << 20), f.peakBytes());
        assertEquals(256L << 20, f.largestArray());
        assertEquals(256L << 24, VaeDecoder.footprint(AutoencoderConfig.FLUX, 1, 512, 512).largestArray());
        assertEquals(4L * (640 + 2 * 3) * (1 << 20), VaeDecoder.footprint(AutoencoderConfig.FLUX, 2, 128, 128)
                .peakBytes());
    }
}
