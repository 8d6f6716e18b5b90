package dev.fluxerase.eval;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.cpu.NaiveBackend;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.safetensors.SafetensorsException;
import dev.fluxerase.safetensors.SafetensorsFile;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.text.ClipModel;
import dev.fluxerase.text.ClipTextModel;
import dev.fluxerase.text.ClipTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;

import static dev.fluxerase.eval.ClipGoldens.assertClose;
import static dev.fluxerase.eval.ClipGoldens.ints;
import static dev.fluxerase.eval.ClipGoldens.resource;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** CLIPModel embeddings and torchmetrics' CLIP score against the eval-tiny goldens (README §1 and §3). */
class ClipScoreTest {
    /** README tolerances: hidden states, pooled outputs and embeddings abs 2e-5 + rel 1e-4; cosine 1e-5; score 1e-3. */
    private static final double ABS = 2e-5;
    private static final double REL = 1e-4;

    static Backend[] backends() {
        return new Backend[]{new NaiveBackend(), new CpuBackend()};
    }

    @ParameterizedTest
    @MethodSource("backends")
    void embeddingsCosinesAndScoresMatchTheGolden(Backend backend, @TempDir Path dir) {
        Path folder = ClipGoldens.folder(dir.resolve("clip"), UnaryOperator.identity());
        try (ClipScore metric = ClipScore.open(folder.toString(), dir.resolve("no-hub"), backend);
             SafetensorsFile golden = SafetensorsFile.open(resource("clip_score.safetensors"))) {
            ClipScore.Pairs p = metric.update(ClipGoldens.images(), ClipGoldens.prompts());

            int[] ids = ints(golden.tensor("input_ids"));
            int[] pooled = ints(golden.tensor("pooled_index"));
            for (int k = 0; k < 4; k++) {
                assertArrayEquals(Arrays.copyOfRange(ids, 77 * k, 77 * k + 77), p.inputIds()[k], "ids " + k);
                assertEquals(pooled[k], ClipTextModel.pooledIndex(p.inputIds()[k], metric.model().config().text()));
            }
            try (SafetensorsFile px = SafetensorsFile.open(resource("images/pixel_values_32.safetensors"))) {
                float[] all = Floats.toF32(p.pixelValues());
                for (int k = 0; k < 4; k++) {
                    float[] ref = Floats.toF32(px.tensor("img" + k + ".pixel_values_32"));
                    assertArrayEquals(ref, Arrays.copyOfRange(all, k * ref.length, (k + 1) * ref.length), 0f);
                }
            }
            check(golden, "vision_last_hidden_state", p.images().tower().lastHiddenState());
            check(golden, "vision_pooled", p.images().tower().pooled());
            check(golden, "image_embeds", p.images().embeds());
            check(golden, "text_pooled", p.texts().tower().pooled());
            check(golden, "text_embeds", p.texts().embeds());

            assertClose("cosine", floats(p.cosine()), Floats.toF32(golden.tensor("cosine")), 1e-5, 0);
            assertClose("clip_score_per_pair", floats(p.scores()), Floats.toF32(golden.tensor("clip_score_per_pair")),
                    1e-3, 0);
            // pair 0 scores −2.59: the mean is clamped, not the pairs
            assertEquals(Floats.toF32(golden.tensor("clip_score_torchmetrics"))[0], metric.compute(), 1e-3);

            // logits_per_image[i, j] = exp(logit_scale)·cos(image i, prompt j)
            assertEquals(Floats.toF32(golden.tensor("logit_scale"))[0], metric.model().logitScale(), 0f);
            float[] ei = Floats.toF32(p.images().embeds());
            float[] et = Floats.toF32(p.texts().embeds());
            float[] logits = new float[16];
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 4; j++) {
                    logits[i * 4 + j] = (float) (Math.exp(metric.model().logitScale())
                            * ClipScore.cosine(ei, i * 16, et, j * 16, 16));
                }
            }
            assertClose("logits_per_image", logits, Floats.toF32(golden.tensor("logits_per_image")), 2e-3, 0);
        }
    }

    @Test
    void theMeanIsClampedAfterAveragingOverEveryUpdate(@TempDir Path dir) {
        List<RgbImage> images = ClipGoldens.images();
        List<String> prompts = ClipGoldens.prompts();
        try (ClipScore metric = ClipScore.open(ClipGoldens.folder(dir, UnaryOperator.identity()).toString(),
                dir.resolve("no-hub"), new CpuBackend());
             SafetensorsFile golden = SafetensorsFile.open(resource("clip_score.safetensors"))) {
            assertTrue(Double.isNaN(metric.compute()));
            double first = metric.update(images.subList(0, 1), prompts.subList(0, 1)).scores()[0];
            assertTrue(first < 0, "pair 0 scores " + first);
            assertEquals(0, metric.compute());
            metric.update(images.subList(1, 4), prompts.subList(1, 4));
            assertEquals(Floats.toF32(golden.tensor("clip_score_torchmetrics"))[0], metric.compute(), 1e-3);
        }
    }

    @Test
    void promptsTruncatedBeforeTheEosGiveTheMax77Goldens(@TempDir Path dir) {
        // tokenizer(padding="max_length", max_length=77, truncation=True): BOS, 75 tokens, EOS; only prompt 3 changes
        Path folder = ClipGoldens.folder(dir, UnaryOperator.identity());
        try (ClipScore metric = ClipScore.open(folder.toString(), dir.resolve("no-hub"), new CpuBackend());
             SafetensorsFile golden = SafetensorsFile.open(resource("clip_score.safetensors"))) {
            ClipTokenizer tokenizer = ClipTokenizer.load(folder);
            int[][] ids = ClipGoldens.prompts().stream().map(tokenizer::inputIds).toArray(int[][]::new);
            assertArrayEquals(ints(golden.tensor("input_ids_max77")), Arrays.stream(ids).flatMapToInt(Arrays::stream)
                    .toArray());
            ClipModel.Embeddings<ClipTextModel.Output> texts = metric.model().encodeTexts(ids);
            check(golden, "text_embeds_max77", texts.embeds());
            float[] ei = Floats.toF32(metric.score(ClipGoldens.images(), ClipGoldens.prompts()).images().embeds());
            float[] et = Floats.toF32(texts.embeds());
            float[] scores = new float[4];
            for (int k = 0; k < 4; k++) {
                scores[k] = (float) (100 * ClipScore.cosine(ei, k * 16, et, k * 16, 16));
            }
            assertClose("clip_score_per_pair_max77", scores, Floats.toF32(golden.tensor("clip_score_per_pair_max77")),
                    1e-3, 0);
        }
    }

    @Test
    void aRepoIdIsFoundInTheHubCacheAndNothingIsDownloaded(@TempDir Path dir) throws IOException {
        Path repo = dir.resolve("hub/models--openai--clip-vit-large-patch14");
        ClipGoldens.folder(repo.resolve("snapshots/0123abc"), UnaryOperator.identity());
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs/main"), "0123abc\n");
        try (ClipScore metric = ClipScore.open("openai/clip-vit-large-patch14", dir.resolve("hub"), new CpuBackend());
             SafetensorsFile golden = SafetensorsFile.open(resource("clip_score.safetensors"))) {
            ClipScore.Pairs p = metric.score(ClipGoldens.images(), ClipGoldens.prompts());
            assertClose("clip_score_per_pair via the hub cache", floats(p.scores()),
                    Floats.toF32(golden.tensor("clip_score_per_pair")), 1e-3, 0);
        }
        var e = assertThrows(IllegalArgumentException.class,
                () -> ClipScore.open("openai/clip-vit-base-patch32", dir.resolve("hub"), new CpuBackend()));
        assertEquals("CLIP model openai/clip-vit-base-patch32: not a folder, and not in the Hugging Face cache (no "
                + dir.resolve("hub/models--openai--clip-vit-base-patch32/snapshots") + "); download it with"
                + " `huggingface-cli download openai/clip-vit-base-patch32` or pass a folder", e.getMessage());
    }

    @Test
    void f32WeightsGiveTheSameEmbeddingsAndBf16WeightsLoad(@TempDir Path dir) {
        // widening F16 to F32 is exact, so the stored dtype must not change a single result
        List<RgbImage> images = ClipGoldens.images();
        List<String> prompts = ClipGoldens.prompts();
        Backend backend = new NaiveBackend();
        float[][] ref;
        try (ClipScore f16 = ClipScore.open(ClipGoldens.folder(dir.resolve("f16"), UnaryOperator.identity()).toString(),
                dir, backend)) {
            ClipScore.Pairs p = f16.score(images, prompts);
            ref = new float[][]{Floats.toF32(p.images().embeds()), Floats.toF32(p.texts().embeds())};
        }
        try (ClipScore f32 = ClipScore.open(ClipGoldens.folder(dir.resolve("f32"), ClipGoldens::toF32).toString(), dir,
                backend)) {
            ClipScore.Pairs p = f32.score(images, prompts);
            assertArrayEquals(ref[0], Floats.toF32(p.images().embeds()), 0f);
            assertArrayEquals(ref[1], Floats.toF32(p.texts().embeds()), 0f);
        }
        try (ClipScore bf16 = ClipScore.open(ClipGoldens.folder(dir.resolve("bf16"), Floats::toBf16).toString(), dir,
                backend)) {
            for (double s : bf16.score(images, prompts).scores()) {
                assertTrue(Double.isFinite(s));
            }
        }
    }

    @Test
    void wrongFilesAreOneLineNamingFileTensorAndShapes(@TempDir Path dir) throws IOException {
        Path folder = ClipGoldens.folder(dir.resolve("clip"), UnaryOperator.identity());
        Path config = folder.resolve("config.json");
        Files.writeString(config, Files.readString(config).replace("\"projection_dim\": 16", "\"projection_dim\": 8"));
        var shape = assertThrows(SafetensorsException.class, () -> ClipModel.load(folder, new NaiveBackend()));
        assertEquals(folder.resolve("model.safetensors") + ": tensor 'text_projection.weight': expected shape [8, 32],"
                + " got [16, 32]", shape.getMessage());

        Files.writeString(config, Files.readString(config).replace("\"projection_dim\": 8", "\"projection_dim\": 16"));
        try (ClipModel model = ClipModel.load(folder, new NaiveBackend())) {
            var pixels = assertThrows(IllegalArgumentException.class,
                    () -> model.encodeImages(Tensor.zeros(1, 3, 224, 224)));
            assertEquals("CLIP vision model: pixel values must be a CPU float tensor [B, 3, 32, 32], got "
                    + Tensor.zeros(1, 3, 224, 224), pixels.getMessage());
        }

        Files.copy(resource("clip/preprocessor_224.json"), folder.resolve("preprocessor_config.json"),
                StandardCopyOption.REPLACE_EXISTING);
        var crop = assertThrows(IllegalArgumentException.class,
                () -> ClipScore.open(folder.toString(), dir, new NaiveBackend()));
        assertEquals("CLIP score: the processor's 224×224 crop does not give the model's 32×32 input", crop.getMessage());

        Files.copy(resource("clip/preprocessor_config.json"), folder.resolve("preprocessor_config.json"),
                StandardCopyOption.REPLACE_EXISTING);
        Files.writeString(config, "{\"architectures\": [\"CLIPTextModel\"], \"hidden_size\": 32}");
        var tower = assertThrows(IllegalArgumentException.class, () -> ClipModel.load(folder, new NaiveBackend()));
        assertEquals(config + ": config has no \"text_config\" object (a CLIPModel config.json is expected, not a"
                + " single tower's)", tower.getMessage());
    }

    private static void check(SafetensorsFile golden, String name, Tensor ours) {
        Tensor ref = golden.tensor(name);
        assertArrayEquals(ref.shape(), ours.shape(), name + " shape");
        assertClose(name, Floats.toF32(ours), Floats.toF32(ref), ABS, REL);
    }

    private static float[] floats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }
}
