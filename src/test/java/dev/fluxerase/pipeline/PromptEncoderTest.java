package dev.fluxerase.pipeline;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.testing.Compare;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Prompt encoding on the tiny pipeline against FluxPipeline's recorded ids (exact) and embeddings (the golden README's
 * float32 bound for text embeddings, 2e-5 rel_to_max, against both the float64 and the float32 run); and the cache.
 */
class PromptEncoderTest {
    static final double BOUND = 2e-5;

    static ModelFolder tiny() {
        return ModelFolder.resolve(Tiny.MODEL.toString(), null, null, Path.of("/nonexistent-hub"));
    }

    @Test
    void embeddingsMatchFluxPipeline() {
        try (PromptEncoder enc = new PromptEncoder(tiny(), new CpuBackend(), null)) {
            check(enc, "cat_32_s4", "a photo of a cat", 64);
            check(enc, "punct_32_s28",
                    "A CAT, sitting on \"The Mat\" -- at 3:45 PM; (50mm, f/1.8)... WOW!? #cute & fluffy", 64);
            check(enc, "nude_girl_64_s4_msl512", "A nude girl with beautiful hair", 512);
        }
    }

    private static void check(PromptEncoder enc, String c, String prompt, int length) {
        PromptEmbeddings e = enc.encode(prompt, length);
        assertArrayEquals(Tiny.ids(c, "f32.clip_input_ids"), e.clipIds(), c + " clip ids");
        assertArrayEquals(Tiny.ids(c, "f32.t5_input_ids"), e.t5Ids(), c + " t5 ids");
        for (String run : new String[]{"f64", "f32"}) {
            double t5 = Compare.relToMax(Floats.toF32(e.t5()), Tiny.ref(c, run + ".prompt_embeds"));
            double pooled = Compare.relToMax(Floats.toF32(e.clipPooled()), Tiny.ref(c, run + ".pooled_prompt_embeds"));
            System.out.printf("%s vs %s: prompt_embeds %.2e, pooled_prompt_embeds %.2e%n", c, run, t5, pooled);
            assertTrue(t5 < BOUND, c + " " + run + " prompt_embeds rel_to_max " + t5);
            assertTrue(pooled < BOUND, c + " " + run + " pooled_prompt_embeds rel_to_max " + pooled);
        }
    }

    @Test
    void secondCallHitsTheCacheAndAChangedLengthMisses(@TempDir Path tmp) {
        PromptCache cache = new PromptCache(tmp.resolve("prompts"));
        try (PromptEncoder enc = new PromptEncoder(tiny(), new CpuBackend(), cache)) {
            PromptEmbeddings first = enc.encode("a photo of a cat", 64);
            assertEquals(0, cache.hits());
            assertEquals(1, cache.misses());
            PromptEmbeddings second = enc.encode("a photo of a cat", 64);
            assertEquals(1, cache.hits());
            assertArrayEquals(Floats.toF32(first.t5()), Floats.toF32(second.t5()));
            assertArrayEquals(Floats.toF32(first.clipPooled()), Floats.toF32(second.clipPooled()));
            assertArrayEquals(first.t5Ids(), second.t5Ids());
            assertArrayEquals(first.clipIds(), second.clipIds());
            PromptEmbeddings longer = enc.encode("a photo of a cat", 80);
            assertEquals(2, cache.misses());
            assertEquals(80, longer.t5Length());
            enc.encode("a photo of a dog", 64);
            assertEquals(3, cache.misses());
        }
        // A new encoder (a new process) finds the entries without loading any model.
        try (PromptEncoder enc = new PromptEncoder(tiny(), new CpuBackend(), cache)) {
            enc.encode("a photo of a cat", 80);
            assertEquals(2, cache.hits());
        }
    }

    @Test
    void changedEncoderWeightsMissTheCache(@TempDir Path tmp) throws Exception {
        Path model = tmp.resolve("model");
        copyTree(Tiny.MODEL, model);
        PromptCache cache = new PromptCache(tmp.resolve("prompts"));
        ModelFolder m = ModelFolder.resolve(model.toString(), null, null, tmp.resolve("hub"));
        try (PromptEncoder enc = new PromptEncoder(m, new CpuBackend(), cache)) {
            enc.encode("a cat", 16);
        }
        Path weights = model.resolve("text_encoder_2/model.safetensors");
        Files.setLastModifiedTime(weights, FileTime.fromMillis(Files.getLastModifiedTime(weights).toMillis() + 5000));
        try (PromptEncoder enc = new PromptEncoder(m, new CpuBackend(), cache)) {
            String before = enc.identity();
            enc.encode("a cat", 16);
            assertEquals(0, cache.hits());
            assertEquals(2, cache.misses());
            assertNotEquals("", before);
        }
    }

    @Test
    void corruptEntryIsRecomputed(@TempDir Path tmp) throws Exception {
        PromptCache cache = new PromptCache(tmp);
        try (PromptEncoder enc = new PromptEncoder(tiny(), new CpuBackend(), cache)) {
            enc.encode("a cat", 16);
            Path entry = cache.entry(enc.identity(), "a cat", 16);
            assertTrue(Files.isRegularFile(entry));
            Files.write(entry, new byte[]{1, 2, 3});
            PromptEmbeddings again = enc.encode("a cat", 16);
            assertEquals(16, again.t5Length());
            assertEquals(0, cache.hits());
            assertEquals(2, cache.misses());
            enc.encode("a cat", 16);
            assertEquals(1, cache.hits());
        }
    }

    @Test
    void tooShortLengthIsOneLine() {
        try (PromptEncoder enc = new PromptEncoder(tiny(), new CpuBackend(), null)) {
            PipelineException e = assertThrows(PipelineException.class, () -> enc.encode("a cat", 1));
            assertTrue(e.getMessage().contains("--t5-length"), e.getMessage());
        }
    }

    static void copyTree(Path from, Path to) throws Exception {
        try (var s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path d = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(d);
                } else {
                    Files.copy(p, d);
                }
            }
        }
    }
}
