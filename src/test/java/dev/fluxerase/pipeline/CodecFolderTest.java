package dev.fluxerase.pipeline;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.pipeline.ModelFolder.Component;
import dev.fluxerase.testing.ToyFolder;
import dev.fluxerase.vae.AutoencoderCodec;
import dev.fluxerase.vae.LatentCodec;
import dev.fluxerase.vae.PixelCodec;
import dev.fluxerase.vae.VaeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A model folder whose vae/ is the weightless pixel codec: found, opened, checked by doctor, and generated with. */
class CodecFolderTest {
    static final Path NO_HUB = Path.of("/nonexistent-hub");

    @TempDir
    Path tmp;

    private static ModelFolder resolve(Path dir) {
        return ModelFolder.resolve(dir.toString(), null, null, NO_HUB);
    }

    @Test
    void pixelCodecFolderIsFoundWithoutWeightsAndPassesDoctor() {
        Path toy = ToyFolder.create(tmp.resolve("toy"));
        ModelFolder m = resolve(toy);
        assertEquals(List.of(), m.missing());
        assertEquals(toy.resolve("vae"), m.path(Component.VAE));
        assertEquals("vae/", m.origin(Component.VAE));
        LatentCodec codec = m.openCodec(new CpuBackend(), LatentCodec.Part.ENCODER, LatentCodec.Part.DECODER);
        PixelCodec px = assertInstanceOf(PixelCodec.class, codec);
        assertEquals(2, px.patchSize());
        assertEquals(12, px.latentChannels());
        Doctor.Report r = Doctor.check(m);
        assertTrue(r.ok(), r.problems().toString());
        String vae = r.lines().stream().filter(l -> l.component() == Component.VAE).findFirst().orElseThrow().text();
        assertEquals(toy.resolve("vae") + ": PixelUnshuffleCodec (pixel space, no weights), patch_size 2, in_channels 3;"
                + " latent channels 12, image = 2 x latent, scaling_factor 1.0, shift_factor 0.0", vae);
        String transformer = r.lines().get(0).text();
        assertTrue(transformer.contains("in_channels 48"), transformer);
    }

    @Test
    void vaeCodecIsOpenedWithTheAskedPartsOnly() {
        ModelFolder tiny = resolve(Tiny.MODEL);
        AutoencoderCodec decoding = assertInstanceOf(AutoencoderCodec.class, tiny.openCodec(new CpuBackend(),
                LatentCodec.Part.DECODER));
        assertEquals("AutoencoderKL", decoding.kind());
        assertEquals(2, decoding.downsampleFactor());
        assertEquals(16, decoding.latentChannels());
        assertEquals(0.3611, decoding.scaling().scalingFactor());
        assertThrows(IllegalStateException.class, () -> decoding.encode(dev.fluxerase.tensor.Tensor.zeros(1, 3, 8, 8)));
    }

    @Test
    void pixelCodecAgainstA64ChannelTransformerIsAMismatch() {
        Path toy = ToyFolder.create(tmp.resolve("toy"));
        ModelFolder m = ModelFolder.resolve(toy.toString(), Tiny.MODEL.resolve("transformer"), null, NO_HUB);
        Doctor.Report r = Doctor.check(m);
        assertEquals(List.of("mismatch: the vae's PixelUnshuffleCodec has 12 latent channels, which pack to 48 per"
                + " token, but the transformer's in_channels is 64"), r.problems());
        // generation refuses it before the first step, in one line
        PipelineException e = assertThrows(PipelineException.class, () -> {
            try (Generator g = Generator.open(m, new CpuBackend(), null, List.of())) {
                g.generate("a cat", new Generator.Settings(16, 16, 1, 3.5, 16), 0, null, null);
            }
        });
        assertEquals("the VAE's 12 latent channels pack to 48 per token, the transformer takes in_channels 64",
                e.getMessage());
    }

    @Test
    void aBadPixelCodecConfigIsOneLineNamingFileAndKey() throws Exception {
        Path toy = ToyFolder.create(tmp.resolve("toy"));
        Path config = toy.resolve("vae/config.json");
        Files.writeString(config, "{\"_class_name\": \"PixelUnshuffleCodec\", \"patch_size\": 2, \"in_channels\": 3.5}");
        ModelFolder m = resolve(toy);
        VaeException e = assertThrows(VaeException.class, m::openCodec);
        assertEquals(config + ": in_channels must be a positive integer, found 3.5", e.getMessage());
        Doctor.Report r = Doctor.check(m);
        assertEquals(List.of("vae: " + config + ": in_channels must be a positive integer, found 3.5"), r.problems());
        // a vae/ folder with neither weights nor a pixel codec config is missing, and says what was looked for
        Files.writeString(config, "{\"_class_name\": \"AutoencoderKL\"}");
        ModelFolder without = resolve(toy);
        assertEquals(List.of(Component.VAE), without.missing());
        assertEquals("vae/ with *.safetensors or a PixelUnshuffleCodec config.json, or ae.safetensors (or --vae)",
                without.lookedFor(Component.VAE));
    }

    @Test
    void toyFolderGeneratesThirtyTwoPixelImages() {
        ModelFolder m = resolve(ToyFolder.create(tmp.resolve("toy")));
        try (Generator g = Generator.open(m, new CpuBackend(), new PromptCache(tmp.resolve("cache")), List.of())) {
            Latents geo = g.geometry(32, 32);
            assertEquals(64, geo.tokens());
            assertEquals(48, geo.tokenWidth());
            Generator.Result r = g.generate("a red square", new Generator.Settings(32, 32, 2, 3.5, 16), 1, null, null);
            assertEquals(32, r.image().width());
            assertEquals(32, r.image().height());
            // the pixel codec decodes the latents themselves: the image is the unpacked, shuffled final latents
            float[] z = geo.unpack(r.latents());
            assertEquals(z[0], r.decoded().get(0));
            assertEquals(z[geo.latentHeight() * geo.latentWidth()], r.decoded().get(1));
            assertFalse(r.image().equals(g.generate("a red square", new Generator.Settings(32, 32, 2, 3.5, 16), 2,
                    null, null).image()));
        }
    }
}
