package dev.fluxerase.text;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.cpu.NaiveBackend;
import dev.fluxerase.safetensors.SafetensorsException;
import dev.fluxerase.safetensors.SafetensorsFile;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static dev.fluxerase.text.EncoderTestData.assertClose;
import static dev.fluxerase.text.EncoderTestData.ids;
import static dev.fluxerase.text.EncoderTestData.longs;
import static dev.fluxerase.text.EncoderTestData.resource;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** CLIP text model against transformers' CLIPTextModel goldens (text-vae-tiny/clip_text_tiny and the pipeline's BF16 model). */
class ClipTextModelTest {
    private static final String[] CASES = {"cat_32_s4", "nude_girl_64_s4_msl512", "punct_32_s28"};

    private final Backend backend = new NaiveBackend();

    /** The golden comparisons run on the reference backend and on the fast one. */
    static Backend[] backends() {
        return new Backend[]{new NaiveBackend(), new CpuBackend()};
    }

    @ParameterizedTest
    @MethodSource("backends")
    void tinyGoldenLastHiddenStateAndPooledOutput(Backend backend) {
        try (ClipTextModel model = ClipTextModel.load(resource("clip-tiny"), backend);
             SafetensorsFile golden = SafetensorsFile.open(resource("clip-tiny-golden.safetensors"))) {
            int[][] ids = ids(golden.tensor("input_ids"));
            ClipTextModel.Output out = model.encode(ids);
            assertClose(out.lastHiddenState(), golden.tensor("last_hidden_state_f32"), 1e-5, "last_hidden_state vs f32");
            assertClose(out.lastHiddenState(), golden.tensor("last_hidden_state_f64"), 1e-4, "last_hidden_state vs f64");
            assertClose(out.pooled(), golden.tensor("pooler_output_f32"), 1e-5, "pooler_output vs f32");
            assertClose(out.pooled(), golden.tensor("pooler_output_f64"), 1e-4, "pooler_output vs f64");

            long[] expected = longs(golden.tensor("pooled_index"));
            for (int b = 0; b < ids.length; b++) {
                assertEquals(expected[b], ClipTextModel.pooledIndex(ids[b], model.config()), "pooled index of row " + b);
            }
        }
    }

    @Test
    void rowsAreIndependentAndCausal() {
        // a row encoded alone equals the same row inside a batch; changing ids after position t leaves 0..t unchanged
        try (ClipTextModel model = ClipTextModel.load(resource("clip-tiny"), backend);
             SafetensorsFile golden = SafetensorsFile.open(resource("clip-tiny-golden.safetensors"))) {
            int[][] ids = ids(golden.tensor("input_ids"));
            float[] batch = Floats.toF32(model.encode(ids).lastHiddenState());
            float[] alone = Floats.toF32(model.encode(new int[][]{ids[1]}).lastHiddenState());
            int width = alone.length;
            float[] row1 = Arrays.copyOfRange(batch, width, 2 * width);
            assertArrayEquals(alone, row1, 0f);

            int[] changed = ids[2].clone();
            int t = 40;
            for (int i = t + 1; i < changed.length; i++) {
                changed[i] = (changed[i] + 7) % 998;
            }
            float[] other = Floats.toF32(model.encode(new int[][]{changed}).lastHiddenState());
            float[] orig = Floats.toF32(model.encode(new int[][]{ids[2]}).lastHiddenState());
            int c = model.config().hiddenSize();
            assertArrayEquals(Arrays.copyOf(orig, (t + 1) * c), Arrays.copyOf(other, (t + 1) * c), 0f);
            assertFalse(Arrays.equals(orig, other), "later positions must change");
        }
    }

    @Test
    void pooledIndexRules() {
        ClipTextConfig legacy = config(2);
        ClipTextConfig modern = config(49407);
        int[] ids = {49406, 320, 49407, 49407, 49407};
        assertEquals(2, ClipTextModel.pooledIndex(ids, legacy));
        assertEquals(2, ClipTextModel.pooledIndex(ids, modern));
        // the rules differ when the largest id is not the EOS: argmax versus first EOS
        int[] odd = {49406, 49408, 7, 49407, 49407};
        assertEquals(1, ClipTextModel.pooledIndex(odd, legacy));
        assertEquals(3, ClipTextModel.pooledIndex(odd, modern));
        assertEquals(0, ClipTextModel.pooledIndex(new int[]{5, 6, 7}, modern), "no EOS: index 0, as argmax of zeros");
    }

    private static ClipTextConfig config(int eos) {
        return new ClipTextConfig(49409, 16, 64, 1, 2, 77, "quick_gelu", 1e-5, eos);
    }

    @ParameterizedTest
    @MethodSource("backends")
    void pipelineBf16FolderMatchesPipelineOutputs(Backend backend) {
        try (ClipTextModel model = ClipTextModel.load(EncoderTestData.pipelineModel("text_encoder"), backend);
             SafetensorsFile cases = SafetensorsFile.open(resource("pipeline-cases.safetensors"))) {
            assertEquals(49408, model.config().vocabSize());
            for (String c : CASES) {
                int[][] ids = ids(cases.tensor(c + "/clip_input_ids"));
                ClipTextModel.Output out = model.encode(ids);
                assertClose(out.pooled(), cases.tensor(c + "/pooled_prompt_embeds"), 2e-5, c + " pooled vs f32");
                assertClose(out.pooled(), cases.tensor(c + "/pooled_prompt_embeds_f64"), 2e-5, c + " pooled vs f64");
                assertClose(out.lastHiddenState(), cases.tensor(c + "/clip_last_hidden_state"), 2e-5,
                        c + " last_hidden_state vs f32");
            }
        }
    }

    @Test
    void configIsReadFromTransformersJson() {
        ClipTextConfig c = ClipTextConfig.read(EncoderTestData.pipelineModel("text_encoder/config.json"));
        assertEquals(new ClipTextConfig(49408, 16, 64, 2, 2, 77, "quick_gelu", 1e-5, 2), c);
        assertEquals(8, c.headDim());
        assertTrue(c.legacyPooling());
    }

    @Test
    void unsupportedOrBrokenConfigIsOneLine(@TempDir Path dir) throws IOException {
        Path file = writeConfig(dir, "hidden_act", "gelu");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ClipTextConfig.read(file));
        assertEquals(file + ": config hidden_act \"gelu\" is not supported: only quick_gelu (CLIP-L's) is implemented",
                e.getMessage());
        Path missing = writeConfig(dir, "num_attention_heads", null);
        e = assertThrows(IllegalArgumentException.class, () -> ClipTextConfig.read(missing));
        assertEquals(missing + ": config is missing \"num_attention_heads\"", e.getMessage());
    }

    @Test
    void mismatchedOrMissingWeightsNameFileTensorAndShapes(@TempDir Path dir) throws IOException {
        Path weights = resource("clip-tiny/model.safetensors");
        Files.copy(weights, dir.resolve("model.safetensors"));
        writeConfig(dir, "intermediate_size", 256);
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> ClipTextModel.load(dir, backend));
        assertEquals(dir.resolve("model.safetensors") + ": tensor 'text_model.encoder.layers.0.mlp.fc1.weight': expected"
                + " shape [256, 64], got [128, 64]", e.getMessage());

        writeConfig(dir, "num_hidden_layers", 3);
        e = assertThrows(SafetensorsException.class, () -> ClipTextModel.load(dir, backend));
        assertEquals(dir.resolve("model.safetensors") + ": tensor 'text_model.encoder.layers.2.layer_norm1.weight':"
                + " missing (expected shape [64])", e.getMessage());
    }

    @Test
    void badIdsAreOneLine() {
        try (ClipTextModel model = ClipTextModel.load(resource("clip-tiny"), backend)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> model.encode(new int[][]{{998, 1000, 999}}));
            assertEquals("token id 1000 at [0, 1] is outside the vocabulary of 1000", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> model.encode(new int[][]{new int[78]}));
            assertEquals("CLIP text model: 78 ids per row, at most 77", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> model.encode(new int[][]{{1, 2}, {1}}));
            assertEquals("CLIP text model: row 1 has 1 ids, row 0 has 2 (pad every row to one length)", e.getMessage());
        }
    }

    /** The tiny golden's config.json with one key replaced (or removed when value is null), written to dir. */
    private static Path writeConfig(Path dir, String key, Object value) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode n = (ObjectNode) json.readTree(resource("clip-tiny/config.json").toFile());
        if (value == null) {
            n.remove(key);
        } else {
            n.set(key, json.valueToTree(value));
        }
        Path file = dir.resolve("config.json");
        json.writeValue(file.toFile(), n);
        return file;
    }

    @Test
    void outputShapes() {
        try (ClipTextModel model = ClipTextModel.load(resource("clip-tiny"), backend)) {
            ClipTextModel.Output out = model.encode(new int[][]{{998, 5, 999}, {998, 999, 999}});
            assertArrayEquals(new long[]{2, 3, 64}, out.lastHiddenState().shape());
            assertArrayEquals(new long[]{2, 64}, out.pooled().shape());
            Tensor flat = out.lastHiddenState();
            assertEquals(flat.get(64 * 2), out.pooled().get(0), 0f, "row 0 pools position 2 (first 999)");
            assertEquals(flat.get(3 * 64 + 64), out.pooled().get(64), 0f, "row 1 pools position 1");
        }
    }
}
