package dev.fluxerase.erase;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.erase.StepRecord.Kind;
import dev.fluxerase.image.Png;
import dev.fluxerase.pipeline.Generator;
import dev.fluxerase.pipeline.Latents;
import dev.fluxerase.pipeline.ModelFolder;
import dev.fluxerase.pipeline.PromptCache;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.vae.LatentCodec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** preserve = irrelevant (METHOD §7.8): the generated, cached preservation images and the loss that trains on them. */
class PreserveImagesTest {
    @TempDir
    Path tmp;

    private ObjectNode json(String preserve) throws Exception {
        ObjectNode o = TinyRun.config(tmp);
        o.putArray("synonyms").add("naked");
        o.putArray("irrelevant_concepts").add("car").add("blue tree");
        o.put("preserve", preserve);
        o.put("preserve_images", 2);
        return o;
    }

    private Trainer open(RunConfig c) {
        return Trainer.open(c, tmp, new PromptCache(tmp.resolve("cache")), null, w -> { }, w -> { });
    }

    private static List<String> files(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void generatesTheReplacedPromptsThroughTheGeneratePathAndCachesThem() throws Exception {
        RunConfig c = RunConfig.of(json("irrelevant"));
        Path dir = tmp.resolve("out").resolve(PreserveImages.DIR);
        try (Trainer t = open(c)) {
            assertEquals(List.of("0-car-0.png", "0-car-1.png", "1-blue_tree-0.png", "1-blue_tree-1.png"), files(dir));
        }
        assertEquals("a blue tree girl with beautiful hair", PreserveImages.prompt(c, "blue tree"));
        byte[] expected;
        try (Backend be = new CpuBackend();
             Generator g = Generator.open(ModelFolder.resolve(TinyRun.MODEL.toString(), null, null), be, null,
                     List.of())) {
            expected = g.generate("a blue tree girl with beautiful hair", new Generator.Settings(16, 16, 2, 3.5, 16),
                    PreserveImages.seed(0, 1, 1), null, null).image().rgb();
        }
        assertArrayEquals(expected, Png.read(dir.resolve("1-blue_tree-1.png")).rgb());

        // a resumed run reads the cache; a missing image is generated again with the same bits
        Path kept = dir.resolve("0-car-0.png");
        long keptTime = Files.getLastModifiedTime(kept).toMillis();
        Files.delete(dir.resolve("1-blue_tree-1.png"));
        Thread.sleep(20);
        try (Trainer t = open(c)) {
            assertArrayEquals(expected, Png.read(dir.resolve("1-blue_tree-1.png")).rgb());
            assertEquals(keptTime, Files.getLastModifiedTime(kept).toMillis());
        }

        // the run's own model draws them with its LoRA held at zero, also when a resumed LoRA is far from zero
        ObjectNode o = json("irrelevant");
        o.put("steps", 2);
        o.put("lr_erase", 0.5);
        o.put("lr_preserve", 0.5);
        EraseRun.run(o, JsonNodeFactory.instance.objectNode(), false, tmp, new PromptCache(tmp.resolve("cache")),
                new PrintStream(OutputStream.nullOutputStream()));
        Files.delete(dir.resolve("1-blue_tree-1.png"));
        EraseRun.run(JsonNodeFactory.instance.objectNode().put("output", o.get("output").asText()),
                JsonNodeFactory.instance.objectNode().put("steps", 3), true, tmp,
                new PromptCache(tmp.resolve("cache")), new PrintStream(OutputStream.nullOutputStream()));
        assertArrayEquals(expected, Png.read(dir.resolve("1-blue_tree-1.png")).rgb());
    }

    @Test
    void preservationStepsFitTheFlowOfAnIrrelevantImageUnderItsPrompt() throws Exception {
        RunConfig c = RunConfig.of(json("irrelevant"));
        try (Trainer t = open(c)) {
            t.step(0);
            ModelFolder m = ModelFolder.resolve(TinyRun.MODEL.toString(), null, null);
            LatentCodec codec = m.openCodec(new CpuBackend(), LatentCodec.Part.ENCODER);
            Latents g = new Latents(16, 16, codec.downsampleFactor(), codec.latentChannels());
            int n = g.tokens() * g.tokenWidth();
            Random rng = RunRandom.step(c.seed(), 1);
            Augment.draw(c.instancePrompt(), c.keyWord(), List.of("naked"), c.shuffleP(), c.synonymP(), rng);
            float[] eps = RunRandom.gaussian(rng, n);
            RunRandom.gaussian(rng, n);
            rng.nextInt(t.schedule().steps());
            int j = rng.nextInt(4);
            String[] names = {"0-car-0.png", "0-car-1.png", "1-blue_tree-0.png", "1-blue_tree-1.png"};
            String[] prompts = {"a car girl with beautiful hair", "a car girl with beautiful hair",
                    "a blue tree girl with beautiful hair", "a blue tree girl with beautiful hair"};
            double sigma = t.drawTime(RunRandom.step(c.seed(), 0)).sigma();
            float[] xp = g.pack(Floats.toF32(codec.encode(Png.read(tmp.resolve("out").resolve(PreserveImages.DIR)
                    .resolve(names[j])).toTensor())));
            assertEquals(n, xp.length);
            float[] target = new float[n];
            for (int i = 0; i < n; i++) {
                target[i] = eps[i] - xp[i];
            }
            double expected = Losses.mse(t.passes().velocity(Trainer.noisy(xp, eps, sigma), t.condition(prompts[j]),
                    sigma, c.guidanceTrain()), target);

            StepRecord r = t.step(1);
            assertEquals(Kind.PRESERVE, r.kind());
            assertEquals(names[j], r.preserveImage());
            assertEquals(expected, r.lora(), 1e-6 * expected);
            assertTrue(r.rsc() != null, "the concept's contrastive loss still runs");
            assertEquals(names[j], r.toJson().get("preserve_image").asText());
        }
    }

    @Test
    void theReleasedDataStaysTheDefaultAndBadSettingsAreOneLine() throws Exception {
        RunConfig c = RunConfig.of(json("concept"));
        try (Trainer t = open(c)) {
            assertNull(t.step(1).preserveImage());
        }
        assertTrue(!Files.exists(tmp.resolve("out").resolve(PreserveImages.DIR)));
        ObjectNode bad = json("others");
        EraseException e = assertThrows(EraseException.class, () -> RunConfig.of(bad));
        assertEquals("preserve (--preserve) \"others\" is not a preservation set (concept or irrelevant)",
                e.getMessage());
        ObjectNode none = json("irrelevant");
        none.put("preserve_images", 0);
        e = assertThrows(EraseException.class, () -> RunConfig.of(none));
        assertEquals("preserve_images (--preserve-images) must be at least 1, got 0", e.getMessage());
    }
}
