package dev.fluxerase.pipeline;

import dev.fluxerase.pipeline.ModelFolder.Component;
import dev.fluxerase.testing.Resources;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Resolving --model: diffusers folders, hub cache entries, BFL single files, overrides, and one-line failures. */
class ModelFolderTest {
    static final String REPO = "black-forest-labs/FLUX.1-dev";

    @TempDir
    Path tmp;

    @AfterEach
    void unlink() {
        Folders.removeLinks(tmp);
    }

    @Test
    void diffusersFolderHasEveryComponent() {
        ModelFolder m = ModelFolder.resolve(Tiny.MODEL.toString(), null, null, Path.of("/nonexistent"));
        assertEquals(List.of(), m.missing());
        assertEquals(Tiny.MODEL.resolve("transformer"), m.path(Component.TRANSFORMER));
        assertEquals(Tiny.MODEL.resolve("scheduler/scheduler_config.json"), m.path(Component.SCHEDULER));
        assertEquals("transformer/", m.origin(Component.TRANSFORMER));
        assertNull(m.snapshot());
    }

    @Test
    void repoIdIsFoundOfflineInTheHubCacheThroughRefsMain() throws Exception {
        Path cache = tmp.resolve("hub");
        Path old = Folders.hubEntry(cache, REPO, "1111111111111111111111111111111111111111", false);
        Path current = Folders.hubEntry(cache, REPO, "2222222222222222222222222222222222222222", true);
        // refs/main wins even over a newer snapshot
        Files.setLastModifiedTime(old, FileTime.fromMillis(System.currentTimeMillis() + 60_000));
        ModelFolder m = ModelFolder.resolve(REPO, null, null, cache);
        assertEquals(current, m.root());
        assertEquals("2222222222222222222222222222222222222222", m.snapshot());
        assertEquals(List.of(), m.missing());
        assertTrue(m.describe().contains("Hugging Face cache snapshot 2222"), m.describe());
        Doctor.Report r = Doctor.check(m);
        assertTrue(r.ok(), r.problems().toString());
    }

    @Test
    void withoutRefsTheNewestSnapshotIsUsed() throws Exception {
        Path cache = tmp.resolve("hub");
        Path a = Folders.hubEntry(cache, REPO, "aaaa000000000000000000000000000000000000", false);
        Path b = Folders.hubEntry(cache, REPO, "bbbb000000000000000000000000000000000000", false);
        Files.setLastModifiedTime(a, FileTime.fromMillis(System.currentTimeMillis() + 60_000));
        Files.setLastModifiedTime(b, FileTime.fromMillis(System.currentTimeMillis() - 60_000));
        assertEquals(a, ModelFolder.resolve(REPO, null, null, cache).root());
        // the repo's cache folder itself is accepted as --model too
        Path repoDir = cache.resolve("models--black-forest-labs--FLUX.1-dev");
        assertEquals(a, ModelFolder.resolve(repoDir.toString(), null, null, tmp.resolve("elsewhere")).root());
    }

    @Test
    void hubCacheLocationFollowsHuggingFaceHub() {
        Path home = Path.of("/home/u");
        assertEquals(Path.of("/c/hub"), HfCache.cacheDir(Map.of("HF_HUB_CACHE", "/c/hub", "HF_HOME", "/h"), home));
        assertEquals(Path.of("/h/hub"), HfCache.cacheDir(Map.of("HF_HOME", "/h"), home));
        assertEquals(Path.of("/x/huggingface/hub"), HfCache.cacheDir(Map.of("XDG_CACHE_HOME", "/x"), home));
        assertEquals(Path.of("/home/u/.cache/huggingface/hub"), HfCache.cacheDir(Map.of(), home));
        assertTrue(HfCache.isRepoId("black-forest-labs/FLUX.1-dev"));
        assertFalse(HfCache.isRepoId("./FLUX.1-dev"));
        assertFalse(HfCache.isRepoId("a/b/c"));
    }

    @Test
    void unknownRepoIdIsOneLineWithTheDownloadHint() {
        PipelineException e = assertThrows(PipelineException.class,
                () -> ModelFolder.resolve(REPO, null, null, tmp.resolve("hub")));
        assertTrue(e.getMessage().contains("not in the Hugging Face cache"), e.getMessage());
        assertTrue(e.getMessage().contains("huggingface-cli download black-forest-labs/FLUX.1-dev"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void emptySnapshotsFolderIsOneLine() throws Exception {
        Files.createDirectories(tmp.resolve("hub/models--black-forest-labs--FLUX.1-dev/snapshots"));
        PipelineException e = assertThrows(PipelineException.class,
                () -> ModelFolder.resolve(REPO, null, null, tmp.resolve("hub")));
        assertTrue(e.getMessage().contains("no snapshot"), e.getMessage());
    }

    @Test
    void aFileOrAMissingPathAsModelIsOneLine() throws Exception {
        Path file = Files.writeString(tmp.resolve("flux1-dev.safetensors"), "x");
        assertTrue(assertThrows(PipelineException.class, () -> ModelFolder.resolve(file.toString(), null, null, tmp))
                .getMessage().contains("--transformer"));
        assertTrue(assertThrows(PipelineException.class,
                () -> ModelFolder.resolve(tmp.resolve("nope").toString(), null, null, tmp)).getMessage()
                .contains("no such folder"));
        assertTrue(assertThrows(PipelineException.class,
                () -> ModelFolder.resolve(Tiny.MODEL.toString(), tmp.resolve("gone.safetensors"), null, tmp))
                .getMessage().startsWith("--transformer "));
    }

    @Test
    void missingComponentsAreNamedWithWhatWasLookedFor() {
        Path dir = Folders.linked(tmp.resolve("m"), List.of("vae", "text_encoder_2", "scheduler"));
        ModelFolder m = ModelFolder.resolve(dir.toString(), null, null, tmp);
        assertEquals(List.of(Component.TEXT_ENCODER_2, Component.VAE, Component.SCHEDULER), m.missing());
        PipelineException e = assertThrows(PipelineException.class, () -> m.require(Component.VAE));
        assertTrue(e.getMessage().contains("vae/ with *.safetensors or a PixelUnshuffleCodec config.json, or"
                + " ae.safetensors"), e.getMessage());
        Doctor.Report r = Doctor.check(m);
        assertEquals(List.of("text_encoder_2 is missing", "vae is missing"), r.problems());
        assertTrue(r.lines().stream().anyMatch(l -> l.component() == Component.SCHEDULER && l.ok()
                && l.text().contains("FLUX.1-dev's settings")));
    }

    @Test
    void bflSingleFilesAtTheRootAreUsedWhenTheFoldersHoldNoWeights() throws Exception {
        Path dir = Folders.linked(tmp.resolve("m"), List.of("transformer", "vae"));
        Files.createDirectories(dir.resolve("transformer"));
        Files.createSymbolicLink(dir.resolve("transformer/config.json"), Tiny.MODEL.resolve("transformer/config.json"));
        Files.createDirectories(dir.resolve("vae"));
        Files.createSymbolicLink(dir.resolve("vae/config.json"), Tiny.MODEL.resolve("vae/config.json"));
        Folders.bflTransformer(dir.resolve("flux1-dev.safetensors"));
        Folders.bflVae(dir.resolve("ae.safetensors"));
        ModelFolder m = ModelFolder.resolve(dir.toString(), null, null, tmp);
        assertEquals(dir.resolve("flux1-dev.safetensors"), m.path(Component.TRANSFORMER));
        assertEquals(dir.resolve("ae.safetensors"), m.path(Component.VAE));
        assertEquals("single file", m.origin(Component.VAE));
        Doctor.Report r = Doctor.check(m);
        assertTrue(r.ok(), r.problems().toString());
        String transformer = r.lines().getFirst().text();
        assertTrue(transformer.contains("BFL naming") && transformer.contains("(single file)"), transformer);
        assertTrue(r.lines().stream().anyMatch(l -> l.text().contains("bfl naming")), r.lines().toString());
    }

    @Test
    void overridesReplaceTheFolderComponents() {
        Path t = tmp.resolve("flux1-dev.safetensors");
        Path v = tmp.resolve("ae.safetensors");
        Folders.bflTransformer(t);
        Folders.bflVae(v);
        ModelFolder m = ModelFolder.resolve(Tiny.MODEL.toString(), t, v, tmp);
        assertEquals(t, m.path(Component.TRANSFORMER));
        assertEquals("--vae", m.origin(Component.VAE));
        Doctor.Report r = Doctor.check(m);
        assertTrue(r.ok(), r.problems().toString());
    }

    @Test
    void doctorNamesMismatchedEncoders() throws Exception {
        Path dir = Folders.linked(tmp.resolve("m"), List.of("text_encoder", "text_encoder_2"));
        Files.createSymbolicLink(dir.resolve("text_encoder"), Resources.path("text-encoders/clip-tiny"));
        Files.createSymbolicLink(dir.resolve("text_encoder_2"), Resources.path("text-encoders/t5-tiny"));
        Doctor.Report r = Doctor.check(ModelFolder.resolve(dir.toString(), null, null, tmp));
        assertEquals(List.of(
                "mismatch: the transformer's joint_attention_dim is 32 but the T5 encoder's d_model is 64",
                "mismatch: the transformer's pooled_projection_dim is 16 but the CLIP text model's hidden size is 64"),
                r.problems());
    }

    @Test
    void doctorReportsABrokenComponentInOneLine() throws Exception {
        Path dir = Folders.linked(tmp.resolve("m"), List.of("vae"));
        Files.createDirectories(dir.resolve("vae"));
        Files.createSymbolicLink(dir.resolve("vae/config.json"), Tiny.MODEL.resolve("vae/config.json"));
        Files.write(dir.resolve("vae/diffusion_pytorch_model.safetensors"), new byte[]{5, 0, 0, 0, 0, 0, 0, 0, '{'});
        Doctor.Report r = Doctor.check(ModelFolder.resolve(dir.toString(), null, null, tmp));
        assertEquals(1, r.problems().size(), r.problems().toString());
        assertTrue(r.problems().getFirst().startsWith("vae: "), r.problems().getFirst());
        assertFalse(r.problems().getFirst().contains("\n"));
    }
}
