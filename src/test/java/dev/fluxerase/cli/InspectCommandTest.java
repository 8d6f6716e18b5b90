package dev.fluxerase.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Resources;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InspectCommandTest {
    private static final String NL = System.lineSeparator();

    @TempDir
    Path dir;

    static String lora() {
        return Resources.path("lora/eraseanything-nudity-lora.safetensors").toString();
    }

    @Test
    void textReportOfTheEraseAnythingLora() {
        CliRun run = CliRun.of("inspect", lora());
        assertEquals(0, run.exit(), run.err());
        assertEquals("", run.err());
        List<String> lines = run.out().lines().toList();
        assertEquals(lora(), lines.get(0));
        // names padded to the longest (blocks 10..18 have one more digit)
        assertEquals("  transformer.transformer_blocks.0.attn.add_k_proj.lora_A.weight   BF16    [8, 3072]", lines.get(1));
        assertEquals("  transformer.transformer_blocks.10.attn.add_k_proj.lora_A.weight  BF16    [8, 3072]", lines.get(9));
        assertEquals("  transformer.transformer_blocks.9.attn.add_q_proj.lora_B.weight   BF16    [3072, 8]", lines.get(76));
        assertEquals(List.of(
                "tensors: 76, parameters: 1,867,776, bytes: 3,735,552 (3.6 MiB)",
                "metadata:",
                "  format: pt",
                "kind: diffusers/peft LoRA",
                "  components: transformer",
                "  rank: 8",
                "  ranks differ: no",
                "  modules: 38",
                "  targets: attn.add_q_proj, attn.add_k_proj",
                "  blocks: 19",
                "  blocks by list: transformer_blocks 19",
                "  alpha tensors: 0",
                "  lora adapter metadata: no"), lines.subList(77, lines.size()));
    }

    @Test
    void jsonReportOfTheEraseAnythingLora() throws Exception {
        CliRun run = CliRun.of("inspect", "--json", lora());
        assertEquals(0, run.exit(), run.err());
        JsonNode root = new ObjectMapper().readTree(run.out());
        assertEquals(lora(), root.get("path").asText());
        assertEquals(76, root.get("tensors").size());
        JsonNode first = root.get("tensors").get(0);
        assertEquals("transformer.transformer_blocks.0.attn.add_k_proj.lora_A.weight", first.get("name").asText());
        assertEquals("BF16", first.get("dtype").asText());
        assertEquals("[8,3072]", first.get("shape").toString());
        assertEquals(76, root.get("totals").get("tensors").asLong());
        assertEquals(1_867_776, root.get("totals").get("parameters").asLong());
        assertEquals(3_735_552, root.get("totals").get("bytes").asLong());
        assertEquals("{\"format\":\"pt\"}", root.get("metadata").toString());
        JsonNode kind = root.get("kind");
        assertEquals("diffusers/peft LoRA", kind.get("name").asText());
        assertEquals(8, kind.get("rank").asInt());
        assertEquals("[\"attn.add_q_proj\",\"attn.add_k_proj\"]", kind.get("targets").toString());
        assertEquals(19, kind.get("blocks").asInt());
        assertEquals(0, kind.get("alpha_tensors").asInt());
        assertEquals(false, kind.get("lora_adapter_metadata").asBoolean());
    }

    @Test
    void limitShortensTheListingButNotTheTotals() throws Exception {
        CliRun run = CliRun.of("inspect", lora(), "--limit", "3");
        assertEquals(0, run.exit(), run.err());
        List<String> lines = run.out().lines().toList();
        assertEquals("  ... 73 more (raise --limit to list them)", lines.get(4));
        assertTrue(lines.get(5).startsWith("tensors: 76, "), lines.get(5));

        CliRun json = CliRun.of("inspect", lora(), "--json", "--limit", "0");
        JsonNode root = new ObjectMapper().readTree(json.out());
        assertEquals(0, root.get("tensors").size());
        assertEquals(0, root.get("totals").get("listed").asInt());
        assertEquals(76, root.get("totals").get("tensors").asInt());
    }

    @Test
    void bflTransformerReportsItsShape() {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("img_in.weight", Tensor.zeros(8, 4));
        t.put("txt_in.weight", Tensor.zeros(8, 6));
        t.put("double_blocks.0.img_attn.qkv.weight", Tensor.zeros(24, 8));
        t.put("double_blocks.0.img_attn.norm.query_norm.scale", Tensor.zeros(4));
        t.put("single_blocks.0.linear1.weight", Tensor.zeros(56, 8));
        t.put("single_blocks.1.linear1.weight", Tensor.zeros(56, 8));
        Path f = dir.resolve("flux.safetensors");
        SafetensorsWriter.write(f, t, Map.of());
        CliRun run = CliRun.of("inspect", f.toString());
        assertEquals(0, run.exit(), run.err());
        String out = run.out();
        assertTrue(out.contains("metadata: none" + NL), out);
        assertTrue(out.contains("kind: BFL FLUX transformer" + NL + "  depth: 1" + NL + "  single depth: 2" + NL
                + "  hidden size: 8" + NL + "  head dim: 4" + NL + "  heads: 2" + NL + "  in channels: 4" + NL
                + "  context dim: 6" + NL + "  guidance embedder: no" + NL), out);
    }

    @Test
    void shardedFolderShowsItsShardCount() throws Exception {
        SafetensorsWriter.write(dir.resolve("m-1.safetensors"), Map.of("a", Tensor.zeros(2)), Map.of());
        SafetensorsWriter.write(dir.resolve("m-2.safetensors"), Map.of("b", Tensor.zeros(3)), Map.of());
        Path index = Files.writeString(dir.resolve("m.safetensors.index.json"),
                "{\"metadata\":{\"total_size\":20},\"weight_map\":{\"a\":\"m-1.safetensors\",\"b\":\"m-2.safetensors\"}}");
        CliRun run = CliRun.of("inspect", dir.toString());
        assertEquals(0, run.exit(), run.err());
        assertTrue(run.out().startsWith(index + " (2 shards)" + NL), run.out());
        assertTrue(run.out().contains("tensors: 2, parameters: 5, bytes: 20 (20 B)" + NL), run.out());
        assertTrue(run.out().contains("  total_size: 20" + NL), run.out());
        assertTrue(run.out().contains("kind: other" + NL), run.out());
    }

    @Test
    void helpDescribesTheCommand() {
        CliRun run = CliRun.of("inspect", "--help");
        assertEquals(0, run.exit());
        assertTrue(run.out().startsWith("Usage: flux-erase inspect [-hV] [--json] [--limit=N] CHECKPOINT"), run.out());
        assertTrue(run.out().contains("--limit=N"));
        assertTrue(run.out().contains("--json"));
        assertTrue(run.out().contains("sharded checkpoint's"));
    }
}
