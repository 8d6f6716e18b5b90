package dev.fluxerase.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.flux.FluxConfig;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoraTargetsTest {

    /** The "config" object of the golden flux-tiny manifest.json. */
    static FluxConfig tinyConfig() {
        return FluxConfig.read(LoraFiles.resource("flux-tiny-config.json"));
    }

    /**
     * flux-tiny-linears.json was derived from the golden flux-tiny files: every 2-D ".weight" of weights_diffusers with
     * its shape, the BFL weight, row slice and half-swap flag from name_map.json, and the BFL weight's shape from
     * weights_bfl.
     */
    private static JsonNode tinyLinears() throws IOException {
        try (InputStream in = LoraTargetsTest.class.getResourceAsStream("/lora/flux-tiny-linears.json")) {
            return new ObjectMapper().readTree(in);
        }
    }

    @Test
    void tinyTargetsMatchTheGoldenNameMapExactly() throws Exception {
        JsonNode golden = tinyLinears().get("linears");
        Map<String, LoraTarget> targets = LoraTargets.byModule(tinyConfig());
        Set<String> expected = new TreeSet<>();
        golden.fieldNames().forEachRemaining(expected::add);
        assertEquals(50, expected.size());
        assertEquals(expected, new TreeSet<>(targets.keySet()));
        for (String module : expected) {
            JsonNode g = golden.get(module);
            LoraTarget t = targets.get(module);
            assertEquals(g.get("shape").get(0).asLong(), t.out(), module);
            assertEquals(g.get("shape").get(1).asLong(), t.in(), module);
            assertEquals(g.get("bfl").asText(), t.bflWeight(), module);
            assertEquals(g.get("bfl_shape").get(0).asLong(), t.bflRows(), module);
            assertEquals(g.get("bfl_shape").get(1).asLong(), t.in(), module);
            assertEquals(g.get("swap_halves").asBoolean(), t.swapHalves(), module);
            JsonNode rows = g.get("rows");
            if (rows.isNull()) {
                assertFalse(t.fused(), module);
                assertEquals(0, t.bflRowOffset(), module);
            } else {
                assertTrue(t.fused(), module);
                assertEquals(rows.get(0).asLong(), t.bflRowOffset(), module);
                assertEquals(rows.get(1).asLong(), t.bflRowOffset() + t.out(), module);
            }
        }
    }

    @Test
    void everyBflLinearOfTheTinyModelIsCovered() throws Exception {
        Set<String> expected = new TreeSet<>();
        tinyLinears().get("bfl_linear_weights").forEach(n -> expected.add(n.asText()));
        Set<String> covered = new TreeSet<>();
        for (LoraTarget t : LoraTargets.of(tinyConfig())) {
            covered.add(t.bflWeight());
        }
        assertEquals(expected, covered);
    }

    @Test
    void fusedRowsTileEachBflWeightExactlyOnce() throws Exception {
        for (FluxConfig cfg : List.of(tinyConfig(), FluxConfig.FLUX_DEV)) {
            Map<String, boolean[]> seen = new java.util.HashMap<>();
            for (LoraTarget t : LoraTargets.of(cfg)) {
                boolean[] rows = seen.computeIfAbsent(t.bflWeight(), k -> new boolean[(int) t.bflRows()]);
                for (long r = 0; r < t.out(); r++) {
                    int b = (int) t.bflRow(r);
                    assertFalse(rows[b], t.module() + " row " + r);
                    rows[b] = true;
                }
            }
            seen.forEach((w, rows) -> {
                for (boolean r : rows) {
                    assertTrue(r, w);
                }
            });
        }
    }

    @Test
    void fluxDevHasTheExpectedLinears() {
        List<LoraTarget> all = LoraTargets.of(FluxConfig.FLUX_DEV);
        long top = all.stream().filter(t -> !t.module().contains("blocks.")).count();
        long dbl = all.stream().filter(t -> t.module().startsWith("transformer_blocks.")).count();
        long single = all.stream().filter(t -> t.module().startsWith("single_transformer_blocks.")).count();
        assertEquals(10, top);
        assertEquals(19 * 14, dbl);
        assertEquals(38 * 6, single);
        assertEquals(504, all.size());
        assertEquals(all.size(), new HashSet<>(all.stream().map(LoraTarget::module).toList()).size());
        // FLUX.md §7: 11,901,408,320 parameters, of which 19·4·128 + 38·2·128 = 19,456 are QK-norm scales; every Linear
        // of FLUX has a bias.
        long params = all.stream().mapToLong(t -> t.out() * t.in() + t.out()).sum();
        assertEquals(11_901_408_320L - 19_456L, params);
        List<LoraTarget> schnell = LoraTargets.of(FluxConfig.FLUX_SCHNELL);
        assertEquals(502, schnell.size());
        assertEquals(11_891_178_560L - 19_456L, schnell.stream().mapToLong(t -> t.out() * t.in() + t.out()).sum());
        assertTrue(schnell.stream().noneMatch(t -> t.module().contains("guidance_embedder")));
    }

    @Test
    void fluxDevSpotChecks() {
        Map<String, LoraTarget> m = LoraTargets.byModule(FluxConfig.FLUX_DEV);
        assertEquals(new LoraTarget("transformer_blocks.7.attn.add_k_proj", 3072, 3072,
                "double_blocks.7.txt_attn.qkv.weight", 3072, 9216, false), m.get("transformer_blocks.7.attn.add_k_proj"));
        assertEquals(new LoraTarget("transformer_blocks.18.attn.to_v", 3072, 3072,
                "double_blocks.18.img_attn.qkv.weight", 6144, 9216, false), m.get("transformer_blocks.18.attn.to_v"));
        assertEquals(new LoraTarget("single_transformer_blocks.37.proj_mlp", 12288, 3072,
                "single_blocks.37.linear1.weight", 9216, 21504, false), m.get("single_transformer_blocks.37.proj_mlp"));
        assertEquals(new LoraTarget("single_transformer_blocks.0.proj_out", 3072, 15360,
                "single_blocks.0.linear2.weight", 0, 3072, false), m.get("single_transformer_blocks.0.proj_out"));
        assertEquals(new LoraTarget("transformer_blocks.3.norm1_context.linear", 18432, 3072,
                "double_blocks.3.txt_mod.lin.weight", 0, 18432, false), m.get("transformer_blocks.3.norm1_context.linear"));
        assertEquals(new LoraTarget("transformer_blocks.0.ff.net.2", 3072, 12288,
                "double_blocks.0.img_mlp.2.weight", 0, 3072, false), m.get("transformer_blocks.0.ff.net.2"));
        assertEquals(new LoraTarget("time_text_embed.guidance_embedder.linear_1", 3072, 256,
                "guidance_in.in_layer.weight", 0, 3072, false), m.get("time_text_embed.guidance_embedder.linear_1"));
        LoraTarget normOut = m.get("norm_out.linear");
        assertEquals(new LoraTarget("norm_out.linear", 6144, 3072, "final_layer.adaLN_modulation.1.weight", 0, 6144,
                true), normOut);
        assertEquals(3072, normOut.bflRow(0));
        assertEquals(6143, normOut.bflRow(3071));
        assertEquals(0, normOut.bflRow(3072));
        assertEquals(new LoraTarget("proj_out", 64, 3072, "final_layer.linear.weight", 0, 64, false), m.get("proj_out"));
        assertEquals("single_blocks.37.linear1", m.get("single_transformer_blocks.37.attn.to_q").bflModule());
    }

    @Test
    void splitBflRejectsUnknownNamesAndBadShapes() {
        assertThrows(IllegalArgumentException.class, () -> LoraTargets.splitBfl("double_blocks.0.img_attn.qkvx", 9, 3));
        assertThrows(IllegalArgumentException.class, () -> LoraTargets.splitBfl("double_blocks.01.img_attn.qkv", 9, 3));
        assertThrows(IllegalArgumentException.class, () -> LoraTargets.splitBfl("final_layer.adaLN_modulation.0", 8, 4));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LoraTargets.splitBfl("double_blocks.0.img_attn.qkv", 10, 3));
        assertTrue(e.getMessage().contains("[9, 3]") && e.getMessage().contains("[10, 3]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> LoraTargets.splitBfl("single_blocks.2.linear1", 9, 3));
        assertThrows(IllegalArgumentException.class, () -> LoraTargets.splitBfl("final_layer.adaLN_modulation.1", 7, 4));
        List<LoraTarget> l1 = LoraTargets.splitBfl("single_blocks.2.linear1", 3 * 3 + 5, 3);
        assertEquals(List.of(3L, 3L, 3L, 5L), l1.stream().map(LoraTarget::out).toList());
        assertEquals(List.of(0L, 3L, 6L, 9L), l1.stream().map(LoraTarget::bflRowOffset).toList());
    }

    @Test
    void kohyaNamesMapBackToBflModules() throws Exception {
        for (LoraTarget t : LoraTargets.of(FluxConfig.FLUX_DEV)) {
            assertEquals(t.bflModule(), LoraTargets.bflModuleOfKohya(t.bflModule().replace('.', '_')));
        }
        assertEquals("final_layer.adaLN_modulation.1", LoraTargets.bflModuleOfKohya("final_layer_adaLN_modulation_1"));
        assertEquals("double_blocks.12.txt_mlp.0", LoraTargets.bflModuleOfKohya("double_blocks_12_txt_mlp_0"));
        assertNull(LoraTargets.bflModuleOfKohya("double_blocks_0_img_attn_norm_query_norm"));
        assertNull(LoraTargets.bflModuleOfKohya("single_blocks_007_linear1"));
        assertNull(LoraTargets.bflModuleOfKohya("final_layer_adaLN_modulation_0"));
        assertNull(LoraTargets.bflModuleOfKohya("text_model_encoder_layers_0_mlp_fc1"));
    }

    @Test
    void targetPatternsFollowPeftSuffixRule() {
        FluxConfig dev = FluxConfig.FLUX_DEV;
        assertEquals(38, LoraTargets.matching(dev, List.of("attn.add_q_proj", "attn.add_k_proj")).size());
        assertEquals(19 + 38, LoraTargets.matching(dev, List.of("attn.to_q")).size());
        assertEquals(19 + 38, LoraTargets.matching(dev, List.of("to_q")).size());
        assertEquals(1, LoraTargets.matching(dev, List.of("transformer_blocks.3.attn.to_q")).size());
        // the final proj_out plus the 38 single-block proj_out; a pattern hit twice counts once
        assertEquals(1 + 38, LoraTargets.matching(dev, List.of("proj_out", "single_transformer_blocks.0.proj_out")).size());
        assertTrue(LoraTargets.matches("transformer_blocks.0.attn.to_out.0", "to_out.0"));
        assertFalse(LoraTargets.matches("transformer_blocks.0.attn.add_q_proj", "q_proj"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LoraTargets.matching(dev, List.of("attn.add_q_proj", "q_proj")));
        assertTrue(e.getMessage().contains("'q_proj'"), e.getMessage());
    }
}
