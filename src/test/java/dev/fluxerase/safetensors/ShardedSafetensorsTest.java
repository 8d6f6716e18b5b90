package dev.fluxerase.safetensors;

import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A miniature diffusers transformer folder: two shards and their index. */
class ShardedSafetensorsTest {
    static final String INDEX = "diffusion_pytorch_model.safetensors.index.json";
    static final String SHARD1 = "diffusion_pytorch_model-00001-of-00002.safetensors";
    static final String SHARD2 = "diffusion_pytorch_model-00002-of-00002.safetensors";

    @TempDir
    Path root;
    Path transformer;

    @BeforeEach
    void writeCheckpoint() throws IOException {
        transformer = Files.createDirectories(root.resolve("transformer"));
        Map<String, Tensor> one = new LinkedHashMap<>();
        one.put("x_embedder.weight", Tensor.of(new float[]{1, 2, 3, 4}, 2, 2));
        one.put("transformer_blocks.0.attn.to_q.weight", Tensor.of(new float[]{5, 6, 7, 8}, 2, 2));
        // in the shard but not in the index: the index decides what the checkpoint holds
        one.put("stray", Tensor.of(new float[]{0}, 1));
        SafetensorsWriter.write(transformer.resolve(SHARD1), one, Map.of("format", "pt"));
        Map<String, Tensor> two = new LinkedHashMap<>();
        two.put("single_transformer_blocks.0.proj_out.weight", Tensor.of(new float[]{9, 10}, 1, 2));
        SafetensorsWriter.write(transformer.resolve(SHARD2), two, Map.of("format", "pt"));
        // index keys sorted by name (as diffusers writes them), shards out of order on purpose
        Files.writeString(transformer.resolve(INDEX), """
                {"metadata": {"total_size": 40, "format": "pt"},
                 "weight_map": {
                   "single_transformer_blocks.0.proj_out.weight": "%s",
                   "transformer_blocks.0.attn.to_q.weight": "%s",
                   "x_embedder.weight": "%s"}}""".formatted(SHARD2, SHARD1, SHARD1));
    }

    private void checkCheckpoint(TensorSource s) {
        assertEquals(List.of("x_embedder.weight", "transformer_blocks.0.attn.to_q.weight",
                "single_transformer_blocks.0.proj_out.weight"), List.copyOf(s.names()));
        assertFalse(s.contains("stray"));
        assertEquals(Map.of("total_size", "40", "format", "pt"), s.metadata());
        assertArrayEquals(new float[]{5, 6, 7, 8}, Floats.toF32(s.tensor("transformer_blocks.0.attn.to_q.weight")));
        assertArrayEquals(new float[]{9, 10}, Floats.toF32(s.tensor("single_transformer_blocks.0.proj_out.weight")));
        assertArrayEquals(new long[]{1, 2}, s.info("single_transformer_blocks.0.proj_out.weight").shape());
        assertTrue(s.describe().endsWith(INDEX));
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> s.tensor("stray"));
        assertTrue(e.getMessage().contains(INDEX + ": tensor 'stray': not in this checkpoint"), e.getMessage());
    }

    @Test
    void opensThroughTheIndex() {
        try (TensorSource s = Safetensors.open(transformer.resolve(INDEX))) {
            assertInstanceOf(ShardedSafetensors.class, s);
            assertEquals(List.of(transformer.resolve(SHARD1).toAbsolutePath(), transformer.resolve(SHARD2).toAbsolutePath()),
                    ((ShardedSafetensors) s).shardPaths());
            checkCheckpoint(s);
        }
    }

    @Test
    void opensThroughTheFolder() {
        try (TensorSource s = Safetensors.open(transformer)) {
            checkCheckpoint(s);
        }
    }

    @Test
    void folderWithOneFileOpensThatFile() throws IOException {
        try (TensorSource s = Safetensors.open(transformer.resolve(SHARD2))) {
            assertInstanceOf(SafetensorsFile.class, s);
        }
        Path single = Files.createDirectory(root.resolve("single"));
        SafetensorsWriter.write(single.resolve("lora.safetensors"), Map.of("w", Tensor.of(new float[]{1}, 1)), Map.of());
        try (TensorSource s = Safetensors.open(single)) {
            assertInstanceOf(SafetensorsFile.class, s);
            assertEquals(List.of("w"), List.copyOf(s.names()));
        }
    }

    @Test
    void closeUnmapsEveryShard() {
        TensorSource s = Safetensors.open(transformer);
        Tensor t = s.tensor("x_embedder.weight");
        Tensor u = s.tensor("single_transformer_blocks.0.proj_out.weight");
        s.close();
        assertThrows(IllegalStateException.class, () -> Floats.toF32(t));
        assertThrows(IllegalStateException.class, () -> Floats.toF32(u));
    }

    @Test
    void brokenShardNamesTheShardFile() throws IOException {
        Files.write(transformer.resolve(SHARD2), new byte[]{1, 2, 3});
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> Safetensors.open(transformer));
        assertTrue(e.getMessage().contains(SHARD2 + ": header: file too short"), e.getMessage());
    }

    @Test
    void indexWithoutWeightMap() throws IOException {
        Files.writeString(transformer.resolve(INDEX), "{\"metadata\": {}}");
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> Safetensors.open(transformer));
        assertTrue(e.getMessage().endsWith(INDEX + ": index has no weight_map object, expected an object, got nothing"),
                e.getMessage());
    }

    @Test
    void indexThatIsNotJson() throws IOException {
        Files.writeString(transformer.resolve(INDEX), "{\"weight_map\": ");
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> Safetensors.open(transformer));
        assertTrue(e.getMessage().contains(INDEX + ": not a readable JSON index"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }
}
