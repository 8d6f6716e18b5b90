package dev.fluxerase.text;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.cpu.NaiveBackend;
import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.SafetensorsException;
import dev.fluxerase.safetensors.SafetensorsFile;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.EmbeddingRows;
import dev.fluxerase.testing.Compare;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import static dev.fluxerase.text.EncoderTestData.assertClose;
import static dev.fluxerase.text.EncoderTestData.ids;
import static dev.fluxerase.text.EncoderTestData.longs;
import static dev.fluxerase.text.EncoderTestData.resource;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** T5 encoder against transformers' T5EncoderModel goldens (text-vae-tiny/t5_encoder_tiny and the pipeline's BF16 model). */
class T5EncoderTest {
    private static final String[] CASES = {"cat_32_s4", "nude_girl_64_s4_msl512", "punct_32_s28"};

    private final Backend backend = new NaiveBackend();

    /** The golden comparisons run on the reference backend and on the fast one. */
    static Backend[] backends() {
        return new Backend[]{new NaiveBackend(), new CpuBackend()};
    }

    @Test
    void bucketTableMatchesTransformersForAllRelativePositionsBelow512() {
        try (SafetensorsFile golden = SafetensorsFile.open(resource("t5-tiny-golden.safetensors"))) {
            long[] table = longs(golden.tensor("relative_position_bucket_table"));
            assertEquals(1023, table.length);
            for (int i = 0; i < table.length; i++) {
                int rel = i - 511;
                assertEquals(table[i], T5Encoder.relativePositionBucket(rel, 32, 128), "bucket of rel " + rel);
            }
        }
    }

    @Test
    void bucketsByHand() {
        // exact below 8, log-spaced to 128, then the last bucket; keys after the query take the upper half
        assertEquals(0, T5Encoder.relativePositionBucket(0, 32, 128));
        assertEquals(7, T5Encoder.relativePositionBucket(-7, 32, 128));
        assertEquals(16 + 7, T5Encoder.relativePositionBucket(7, 32, 128));
        assertEquals(8, T5Encoder.relativePositionBucket(-8, 32, 128));
        assertEquals(16 + 12, T5Encoder.relativePositionBucket(32, 32, 128), "8 + 8·ln(4)/ln(16)");
        assertEquals(15, T5Encoder.relativePositionBucket(-127, 32, 128));
        assertEquals(31, T5Encoder.relativePositionBucket(100_000, 32, 128));
    }

    @Test
    void positionBiasIsBlockZerosTableLookedUpByBucket() {
        try (T5Encoder model = T5Encoder.load(resource("t5-tiny"), backend);
             SafetensorsFile golden = SafetensorsFile.open(resource("t5-tiny-golden.safetensors"))) {
            float[] bias = model.positionBias(12);
            double[] expected = Compare.doubles(golden.tensor("position_bias_12_f64"));
            assertEquals(expected.length, bias.length);
            for (int i = 0; i < bias.length; i++) {
                assertEquals(expected[i], bias[i], 0.0, "position bias element " + i);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void tinyGoldenWithPaddingAndLongInput(Backend backend) {
        try (T5Encoder model = T5Encoder.load(resource("t5-tiny"), backend);
             SafetensorsFile golden = SafetensorsFile.open(resource("t5-tiny-golden.safetensors"))) {
            Tensor out = model.encode(ids(golden.tensor("input_ids")));
            assertClose(out, golden.tensor("last_hidden_state_f32"), 1e-5, "last_hidden_state vs f32");
            assertClose(out, golden.tensor("last_hidden_state_f64"), 1e-4, "last_hidden_state vs f64");
            Tensor lng = model.encode(ids(golden.tensor("input_ids_long")));
            assertClose(lng, golden.tensor("last_hidden_state_long_f32"), 1e-5, "150 tokens vs f32");
            assertClose(lng, golden.tensor("last_hidden_state_long_f64"), 1e-4, "150 tokens vs f64");
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void pipelineBf16FolderMatchesPipelineOutputs(Backend backend, @TempDir Path dir) {
        rebuildPipelineFolder(dir, "shared.weight");
        try (T5Encoder model = T5Encoder.load(dir, backend);
             SafetensorsFile cases = SafetensorsFile.open(resource("pipeline-cases.safetensors"))) {
            assertEquals(32128, model.config().vocabSize());
            for (String c : CASES) {
                Tensor out = model.encode(ids(cases.tensor(c + "/t5_input_ids")));
                assertClose(out, cases.tensor(c + "/prompt_embeds"), 2e-5, c + " prompt_embeds vs f32");
                if (cases.contains(c + "/prompt_embeds_f64")) {
                    assertClose(out, cases.tensor(c + "/prompt_embeds_f64"), 2e-5, c + " prompt_embeds vs f64");
                }
            }
        }
    }

    @Test
    void embedTokensIsAcceptedInPlaceOfShared(@TempDir Path dir) {
        rebuildPipelineFolder(dir, "encoder.embed_tokens.weight");
        try (T5Encoder model = T5Encoder.load(dir, backend);
             SafetensorsFile cases = SafetensorsFile.open(resource("pipeline-cases.safetensors"))) {
            Tensor out = model.encode(ids(cases.tensor("cat_32_s4/t5_input_ids")));
            assertClose(out, cases.tensor("cat_32_s4/prompt_embeds"), 2e-5, "prompt_embeds vs f32");
        }
    }

    /**
     * The pipeline's text_encoder_2 folder (config.json, model.safetensors with a BF16 [32128, 32] embedding), rebuilt from
     * the trimmed copy: rows of ids the cases never use are zero, every other tensor is byte for byte the original.
     */
    private static void rebuildPipelineFolder(Path dir, String embeddingName) {
        try (TensorSource trimmed = Safetensors.open(resource("pipeline-t5/trimmed.safetensors"))) {
            Tensor rows = trimmed.tensor("shared.rows");
            long[] idList = longs(trimmed.tensor("shared.ids"));
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put(embeddingName, EmbeddingRows.table(rows, idList, 32128));
            for (String name : trimmed.names()) {
                if (!name.startsWith("shared.")) {
                    tensors.put(name, trimmed.tensor(name));
                }
            }
            SafetensorsWriter.write(dir.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
            Files.copy(resource("pipeline-t5/config.json"), dir.resolve("config.json"));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * Every Linear's weight reaches the GEMM frozen, and as the same object at every encode, so the CPU backend packs it
     * once for the model's life (before, a file's encoder weights were not frozen and every encode repacked them all).
     */
    @Test
    void weightsReachTheGemmFrozenAndTheSameAtEveryEncode() {
        java.util.List<java.util.List<Tensor>> perEncode = new java.util.ArrayList<>();
        Backend cpu = new CpuBackend();
        Backend watching = (Backend) java.lang.reflect.Proxy.newProxyInstance(Backend.class.getClassLoader(),
                new Class<?>[]{Backend.class}, (proxy, method, args) -> {
                    if (method.getName().equals("gemm") && (boolean) args[1] && !perEncode.isEmpty()) {
                        perEncode.getLast().add((Tensor) args[4]);
                    }
                    try {
                        return method.invoke(cpu, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        try (T5Encoder model = T5Encoder.load(resource("t5-tiny"), watching);
             SafetensorsFile golden = SafetensorsFile.open(resource("t5-tiny-golden.safetensors"))) {
            int[][] ids = ids(golden.tensor("input_ids"));
            for (int encode = 0; encode < 2; encode++) {
                perEncode.add(new java.util.ArrayList<>());
                model.encode(ids);
            }
        }
        T5Config c = T5Config.read(resource("t5-tiny/config.json"));
        java.util.List<Tensor> weights = perEncode.get(0).stream()
                .filter(b -> b.dim(1) == c.dModel() || b.dim(1) == c.innerDim() || b.dim(1) == c.dFf()).toList();
        // q, k, v, o, wi_0, wi_1, wo per layer; the attention's q·kᵀ per head has k = d_kv, which no weight has here
        assertEquals(7 * c.numLayers(), weights.size(), "weight GEMMs per encode");
        for (Tensor w : weights) {
            assertTrue(w.isFrozen(), "a weight " + Arrays.toString(w.shape()) + " reached the GEMM unfrozen");
        }
        java.util.List<Tensor> again = perEncode.get(1).stream().filter(weights::contains).toList();
        assertEquals(weights.size(), again.size(), "the second encode's weights are the first one's objects");
    }

    @Test
    void rowsAreIndependentAndPaddingIsAttended() {
        try (T5Encoder model = T5Encoder.load(resource("t5-tiny"), backend);
             SafetensorsFile golden = SafetensorsFile.open(resource("t5-tiny-golden.safetensors"))) {
            int[][] ids = ids(golden.tensor("input_ids"));
            float[] batch = Floats.toF32(model.encode(ids));
            float[] alone = Floats.toF32(model.encode(new int[][]{ids[1]}));
            assertArrayEquals(alone, Arrays.copyOfRange(batch, alone.length, 2 * alone.length), 0f);
            // no mask: changing a pad id changes the outputs at every position
            int[] padded = ids[1].clone();
            padded[11] = 3;
            float[] other = Floats.toF32(model.encode(new int[][]{padded}));
            for (int t = 0; t < 12; t++) {
                int from = t * 64;
                assertFalse(Arrays.equals(Arrays.copyOfRange(alone, from, from + 64),
                        Arrays.copyOfRange(other, from, from + 64)), "position " + t + " must see the pad token");
            }
        }
    }

    @Test
    void configIsReadFromTransformersJson() {
        T5Config c = T5Config.read(resource("pipeline-t5/config.json"));
        assertEquals(new T5Config(32128, 32, 8, 64, 2, 4, 32, 128, 1e-6, "gelu_pytorch_tanh"), c);
        assertEquals(32, c.innerDim());
    }

    @Test
    void feedForwardProjResolvesAsTransformers(@TempDir Path dir) throws IOException {
        Path f = writeConfig(dir, Map.of("feed_forward_proj", "gated-gelu"), "dense_act_fn", "is_gated_act");
        assertEquals("gelu_new", T5Config.read(f).denseActFn());
        Path relu = writeConfig(dir, Map.of("feed_forward_proj", "relu"), "dense_act_fn", "is_gated_act");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> T5Config.read(relu));
        assertEquals(relu + ": config feed_forward_proj \"relu\" is not gated: only the gated feed-forward of T5 v1.1 is"
                + " implemented", e.getMessage());
        Path silu = writeConfig(dir, Map.of("feed_forward_proj", "gated-silu"), "dense_act_fn");
        e = assertThrows(IllegalArgumentException.class, () -> T5Config.read(silu));
        assertEquals(silu + ": config dense_act_fn \"silu\" is not supported: only the gated tanh GELU of T5 v1.1"
                + " (gelu_new, gelu_pytorch_tanh) is implemented", e.getMessage());
    }

    @Test
    void mismatchedOrMissingWeightsNameFileTensorAndShapes(@TempDir Path dir) throws IOException {
        Files.copy(resource("t5-tiny/model.safetensors"), dir.resolve("model.safetensors"));
        writeConfig(dir, Map.of("d_ff", 256));
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> T5Encoder.load(dir, backend));
        assertEquals(dir.resolve("model.safetensors") + ": tensor 'encoder.block.0.layer.1.DenseReluDense.wi_0.weight':"
                + " expected shape [256, 64], got [128, 64]", e.getMessage());

        writeConfig(dir, Map.of("vocab_size", 32128));
        e = assertThrows(SafetensorsException.class, () -> T5Encoder.load(dir, backend));
        assertEquals(dir.resolve("model.safetensors") + ": tensor 'shared.weight': expected shape [32128, 64], got"
                + " [500, 64]", e.getMessage());

        writeConfig(dir, Map.of("num_layers", 3));
        e = assertThrows(SafetensorsException.class, () -> T5Encoder.load(dir, backend));
        assertEquals(dir.resolve("model.safetensors") + ": tensor 'encoder.block.2.layer.0.layer_norm.weight': missing"
                + " (expected shape [64])", e.getMessage());
    }

    @Test
    void missingEmbeddingNamesBothNames(@TempDir Path dir) throws IOException {
        try (SafetensorsFile tiny = SafetensorsFile.open(resource("t5-tiny/model.safetensors"))) {
            Map<String, Tensor> kept = new LinkedHashMap<>();
            tiny.names().stream().filter(n -> !n.equals("shared.weight")).forEach(n -> kept.put(n, tiny.tensor(n)));
            SafetensorsWriter.write(dir.resolve("model.safetensors"), kept, Map.of());
        }
        Files.copy(resource("t5-tiny/config.json"), dir.resolve("config.json"));
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> T5Encoder.load(dir, backend));
        assertEquals(dir.resolve("model.safetensors") + ": tensor 'shared.weight': missing (expected shape [500, 64];"
                + " also looked for encoder.embed_tokens.weight)", e.getMessage());
    }

    /** The tiny golden's config.json with keys set and others removed, written to dir. */
    private static Path writeConfig(Path dir, Map<String, Object> set, String... remove) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode n = (ObjectNode) json.readTree(resource("t5-tiny/config.json").toFile());
        set.forEach((k, v) -> n.set(k, json.valueToTree(v)));
        for (String k : remove) {
            n.remove(k);
        }
        Path file = dir.resolve("config.json");
        json.writeValue(file.toFile(), n);
        return file;
    }
}
