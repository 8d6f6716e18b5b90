package dev.fluxerase.cli;

import dev.fluxerase.testing.ToyFolder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code doctor}: one line per component, problems listed, exit status 1 when something needed is missing. */
class DoctorCommandTest {
    static final Path MODEL = GenerateCommandTest.TINY.resolve("model");

    @TempDir
    Path tmp;

    @Test
    void tinyPipelineIsHealthy() {
        CliRun r = CliRun.of("doctor", "--model", MODEL.toString());
        assertEquals(0, r.exit(), r.out() + r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(9, lines.size(), r.out());
        assertEquals("model           " + MODEL, lines.get(0));
        assertTrue(lines.get(1).startsWith("transformer     " + MODEL.resolve("transformer") + ": FLUX transformer,"
                + " diffusers naming, BF16, 134,784 parameters in 112 tensors; in_channels 64, hidden 32 (2 heads of"
                + " 16), joint_attention_dim 32, pooled_projection_dim 16"), lines.get(1));
        assertTrue(lines.get(3).contains("T5EncoderModel, BF16, 1,048,864 parameters in 21 tensors; d_model 32"),
                lines.get(3));
        assertTrue(lines.get(6).startsWith("vae             " + MODEL.resolve("vae") + ": AutoencoderKL, diffusers"
                + " naming,") && lines.get(6).contains("latent channels 16")
                && lines.get(6).contains("image = 2 x latent"), lines.get(6));
        assertEquals("ok: every component is present and the parts fit together", lines.get(8));
    }

    @Test
    void hubRepoIdResolvesThroughHfCacheOption() throws Exception {
        Path snap = tmp.resolve("hub/models--black-forest-labs--FLUX.1-dev/snapshots/abc123");
        Files.createDirectories(snap.getParent());
        Files.createSymbolicLink(snap, MODEL);
        CliRun r = CliRun.of("doctor", "--model", "black-forest-labs/FLUX.1-dev", "--hf-cache",
                tmp.resolve("hub").toString());
        assertEquals(0, r.exit(), r.out() + r.err());
        assertTrue(r.out().startsWith("model           black-forest-labs/FLUX.1-dev (Hugging Face cache snapshot"
                + " abc123 at "), r.out());
        Files.delete(snap);
    }

    @Test
    void missingVaeFailsWithAProblemLine() throws Exception {
        Path m = tmp.resolve("m");
        Files.createDirectories(m);
        for (String s : List.of("transformer", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2")) {
            Files.createSymbolicLink(m.resolve(s), MODEL.resolve(s));
        }
        CliRun r = CliRun.of("doctor", "--model", m.toString());
        assertEquals(1, r.exit());
        assertTrue(r.out().contains("vae             MISSING: looked for vae/ with *.safetensors or a"
                + " PixelUnshuffleCodec config.json, or ae.safetensors (or --vae)"), r.out());
        assertTrue(r.out().strip().endsWith("problem: vae is missing"), r.out());
        for (String s : List.of("transformer", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2")) {
            Files.delete(m.resolve(s));
        }
    }

    @Test
    void unknownModelIsOneLine() {
        CliRun r = CliRun.of("doctor", "--model", "nobody/nothing", "--hf-cache", tmp.toString());
        assertEquals(1, r.exit());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().startsWith("flux-erase: --model nobody/nothing: not a folder, and not in the Hugging Face"
                + " cache"), r.err());
    }

    @Test
    void pixelCodecFolderIsHealthyAndShowsItsDefaults() throws Exception {
        Path toy = ToyFolder.create(tmp.resolve("toy"), "{\"resolution\": 32, \"t5_length\": 16, \"steps\": 20}");
        CliRun r = CliRun.of("doctor", "--model", toy.toString());
        assertEquals(0, r.exit(), r.out() + r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(10, lines.size(), r.out());
        assertEquals("defaults        resolution 32, t5_length 16, steps 20 (model_index.json flux_erase_defaults)",
                lines.get(1));
        assertTrue(lines.get(2).contains("in_channels 48"), lines.get(2));
        assertEquals("vae             " + toy.resolve("vae") + ": PixelUnshuffleCodec (pixel space, no weights),"
                + " patch_size 2, in_channels 3; latent channels 12, image = 2 x latent, scaling_factor 1.0,"
                + " shift_factor 0.0", lines.get(7));
        assertEquals("ok: every component is present and the parts fit together", lines.get(9));

        ToyFolder.writeDefaults(toy, "{\"resolution\": 0}");
        CliRun bad = CliRun.of("doctor", "--model", toy.toString());
        assertEquals(1, bad.exit());
        assertTrue(bad.out().strip().endsWith("problem: " + toy.resolve("model_index.json") + ": flux_erase_defaults"
                + ".resolution must be an integer of at least 1, got 0"), bad.out());
    }
}
