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
