package dev.fluxerase.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoraReaderTest {
    @TempDir
    Path dir;
    private final Random rng = new Random(11);
    private int files;

    private Path write(Map<String, Tensor> tensors, Map<String, String> metadata) {
        Path p = dir.resolve("lora" + files++ + ".safetensors");
        SafetensorsWriter.write(p, tensors, metadata);
        return p;
    }

    /** A diffusers-named LoRA of the given rank on a module of shape [out, in]. */
    private void put(Map<String, Tensor> m, String prefix, String module, int rank, long out, long in) {
        m.put(prefix + module + ".lora_A.weight", LoraFiles.random(rng, rank, in));
        m.put(prefix + module + ".lora_B.weight", LoraFiles.random(rng, out, rank));
    }

    private static Tensor toBf16(Tensor t) {
        float[] v = Floats.toF32(t);
        short[] s = new short[v.length];
        for (int i = 0; i < v.length; i++) {
            s[i] = Floats.f32ToBf16(v[i]);
        }
        return new Tensor(Device.CPU, DType.BF16, t.shape(), MemorySegment.ofArray(s));
    }

    private LoraException fails(Map<String, Tensor> tensors, Map<String, String> metadata) {
        Path p = write(tensors, metadata);
        LoraException e = assertThrows(LoraException.class, () -> LoraSet.load(p));
        assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e;
    }

    private static void assertContains(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), "'" + p + "' not in: " + message);
        }
    }

    // ---- alpha resolution (diffusers / peft) ------------------------------------------------------------------------

    @Test
    void alphaTensorsWinAndMissingOnesGetTheMostCommonAlpha() {
        Map<String, Tensor> t = new LinkedHashMap<>();
        put(t, "transformer.", "transformer_blocks.0.attn.to_q", 4, 64, 64);
        t.put("transformer.transformer_blocks.0.attn.to_q.alpha", toBf16(LoraFiles.scalar(16)));
        put(t, "transformer.", "transformer_blocks.0.attn.to_k", 4, 64, 64);
        t.put("transformer.transformer_blocks.0.attn.to_k.alpha", LoraFiles.scalar(2));
        put(t, "transformer.", "transformer_blocks.1.attn.to_k", 2, 64, 64);
        t.put("transformer.transformer_blocks.1.attn.to_k.alpha", LoraFiles.scalar(2));
        put(t, "transformer.", "proj_out", 4, 16, 64);
        LoraSet set = LoraSet.load(write(t, Map.of("format", "pt")));
        assertEquals(16f, set.get("transformer_blocks.0.attn.to_q").alpha());
        assertEquals(4f, set.get("transformer_blocks.0.attn.to_q").scale());
        assertEquals(2f, set.get("transformer_blocks.0.attn.to_k").alpha());
        assertEquals(1f, set.get("transformer_blocks.1.attn.to_k").scale());
        assertEquals(2f, set.get("proj_out").alpha());
        assertEquals(1, set.warnings().size());
        assertContains(set.warnings().get(0), "1 module(s) have no alpha tensor", "2.0");
    }

    @Test
    void peftMetadataGivesAlphaWithPatterns() {
        Map<String, Tensor> t = new LinkedHashMap<>();
        put(t, "transformer.", "transformer_blocks.0.attn.to_q", 4, 64, 64);
        put(t, "transformer.", "transformer_blocks.1.attn.to_q", 4, 64, 64);
        put(t, "transformer.", "proj_out", 2, 16, 64);
        put(t, "transformer.", "single_transformer_blocks.0.proj_out", 2, 64, 320);
        String meta = "{\"transformer.r\": 4, \"transformer.lora_alpha\": 8, \"transformer.alpha_pattern\": "
                + "{\"transformer_blocks.1.attn.to_q\": 2}, \"transformer.rank_pattern\": {\"proj_out\": 2}, "
                + "\"text_encoder.r\": 16, \"text_encoder.lora_alpha\": 1}";
        LoraSet set = LoraSet.load(write(t, Map.of("format", "pt", "lora_adapter_metadata", meta)),
                LoraTargetsTest.tinyConfig());
        assertEquals(8f, set.get("transformer_blocks.0.attn.to_q").alpha());
        assertEquals(2f, set.get("transformer_blocks.1.attn.to_q").alpha());
        // rank_pattern "proj_out" also matches the single block's proj_out (peft's (.*\.)?(key)$ rule)
        assertEquals(4f, set.get("proj_out").scale());
        assertEquals(4f, set.get("single_transformer_blocks.0.proj_out").scale());
        assertEquals(List.of(), set.warnings());
    }

    @Test
    void peftMetadataRsloraDefaultsAndErrors() {
        Map<String, Tensor> t = new LinkedHashMap<>();
        put(t, "transformer.", "transformer_blocks.0.attn.add_q_proj", 4, 64, 64);
        String rs = "{\"transformer.r\": 4, \"transformer.lora_alpha\": 8, \"transformer.use_rslora\": true}";
        // rsLoRA scale lora_alpha / √r = 4
        assertEquals(4f, LoraSet.load(write(t, Map.of("lora_adapter_metadata", rs)))
                .get("transformer_blocks.0.attn.add_q_proj").scale());
        // no lora_alpha: peft's LoraConfig default 8
        assertEquals(8f, LoraSet.load(write(t, Map.of("lora_adapter_metadata", "{\"transformer.r\": 4}")))
                .get("transformer_blocks.0.attn.add_q_proj").alpha());
        // metadata for the text encoder only: alpha = rank, with a warning
        LoraSet te = LoraSet.load(write(t, Map.of("lora_adapter_metadata", "{\"text_encoder.lora_alpha\": 3}")));
        assertEquals(4f, te.get("transformer_blocks.0.attn.add_q_proj").alpha());
        assertEquals(1, te.warnings().size());
        assertContains(fails(t, Map.of("lora_adapter_metadata", "{\"transformer.r\": 8}")).getMessage(),
                "'transformer.transformer_blocks.0.attn.add_q_proj.lora_A.weight'", "rank 4", "rank 8");
        assertContains(fails(t, Map.of("lora_adapter_metadata", "{\"transformer.use_dora\": true}")).getMessage(),
                "DoRA");
        assertContains(fails(t, Map.of("lora_adapter_metadata", "{not json")).getMessage(), "not JSON");
        // alpha tensors and metadata together: the tensors win, with a warning
        t.put("transformer.transformer_blocks.0.attn.add_q_proj.alpha", LoraFiles.scalar(1));
        LoraSet both = LoraSet.load(write(t, Map.of("lora_adapter_metadata", rs)));
        assertEquals(1f, both.get("transformer_blocks.0.attn.add_q_proj").alpha());
        assertContains(both.warnings().get(0), "alpha tensors are used");
    }

    @Test
    void bareKeysOldSuffixesAndTextEncoderKeys() {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("transformer_blocks.0.attn.to_out.0.lora.down.weight", LoraFiles.random(rng, 2, 64));
        t.put("transformer_blocks.0.attn.to_out.0.lora.up.weight", LoraFiles.random(rng, 64, 2));
        put(t, "", "x_embedder", 3, 64, 16);
        t.put("x_embedder.alpha", LoraFiles.scalar(6));
        LoraSet set = LoraSet.load(write(t, Map.of()), LoraTargetsTest.tinyConfig());
        // no alpha tensor here, and the only one in the file is 6: diffusers' most-common rule gives 6
        assertEquals(6f, set.get("transformer_blocks.0.attn.to_out.0").alpha());
        assertEquals(1, set.warnings().size());
        assertEquals(2f, set.get("x_embedder").scale());
        assertEquals("transformer_blocks.0.attn.to_out.0.lora.down.weight",
                set.get("transformer_blocks.0.attn.to_out.0").keyA());

        Map<String, Tensor> te = new LinkedHashMap<>();
        put(te, "transformer.", "transformer_blocks.0.attn.to_q", 2, 64, 64);
        put(te, "text_encoder.", "text_model.encoder.layers.0.self_attn.q_proj", 2, 768, 768);
        LoraSet withTe = LoraSet.load(write(te, Map.of()));
        assertEquals(1, withTe.size());
        assertContains(withTe.warnings().get(0), "ignored 2 text-encoder", "text_encoder.text_model");
        te.remove("transformer.transformer_blocks.0.attn.to_q.lora_A.weight");
        te.remove("transformer.transformer_blocks.0.attn.to_q.lora_B.weight");
        assertContains(fails(te, Map.of()).getMessage(), "no FLUX transformer LoRA tensors");
    }

    // ---- errors -----------------------------------------------------------------------------------------------------

    @Test
    void malformedDiffusersFilesFailWithOneLineNamingTheTensor() {
        String q = "transformer.transformer_blocks.0.attn.to_q";
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put(q + ".lora_A.weight", LoraFiles.random(rng, 4, 64));
        assertContains(fails(t, Map.of()).getMessage(), "'" + q + ".lora_A.weight'", "lora_B", "missing");

        t.clear();
        t.put(q + ".lora_B.weight", LoraFiles.random(rng, 64, 4));
        t.put(q + ".alpha", LoraFiles.scalar(4));
        assertContains(fails(t, Map.of()).getMessage(), "'" + q + ".lora_B.weight'", "lora_A", "missing");

        t.clear();
        t.put(q + ".lora_A.weight", LoraFiles.random(rng, 4, 64));
        t.put(q + ".lora_B.weight", LoraFiles.random(rng, 64, 3));
        assertContains(fails(t, Map.of()).getMessage(), "'" + q + ".lora_A.weight'", "[4, 64]", "rank 4", "[64, 3]",
                "rank 3");

        t.clear();
        t.put(q + ".lora_A.weight", LoraFiles.random(rng, 2, 4, 64));
        t.put(q + ".lora_B.weight", LoraFiles.random(rng, 64, 4));
        assertContains(fails(t, Map.of()).getMessage(), "'" + q + ".lora_A.weight'", "2-D", "[2, 4, 64]");

        t.clear();
        put(t, "transformer.", "transformer_blocks.0.attn.to_q", 4, 64, 64);
        t.put(q + ".alpha", LoraFiles.longScalar(4));
        assertContains(fails(t, Map.of()).getMessage(), "'" + q + ".alpha'", "integer", "I64");

        t.remove(q + ".alpha");
        t.put(q + ".alpha", LoraFiles.random(rng, 2));
        assertContains(fails(t, Map.of()).getMessage(), "'" + q + ".alpha'", "0-dim", "[2]");

        t.remove(q + ".alpha");
        t.put(q + ".weight", LoraFiles.random(rng, 64, 64));
        assertContains(fails(t, Map.of()).getMessage(), "'" + q + ".weight'", "not a LoRA tensor");

        t.remove(q + ".weight");
        t.put(q + ".lora_magnitude_vector", LoraFiles.random(rng, 64));
        assertContains(fails(t, Map.of()).getMessage(), "DoRA");

        t.remove(q + ".lora_magnitude_vector");
        t.put("transformer.unet.mid_block.to_q.lora_A.weight", LoraFiles.random(rng, 4, 64));
        assertContains(fails(t, Map.of()).getMessage(), "'transformer.unet.mid_block.to_q.lora_A.weight'",
                "'unet.mid_block.to_q' is not a Linear of the FLUX transformer");

        t.remove("transformer.unet.mid_block.to_q.lora_A.weight");
        t.put("unet.mid_block.to_q.lora_A.weight", LoraFiles.random(rng, 4, 64));
        assertContains(fails(t, Map.of()).getMessage(), "'unet.mid_block.to_q.lora_A.weight'", "neither");

        t.remove("unet.mid_block.to_q.lora_A.weight");
        t.put(q + ".lora_down.weight", LoraFiles.random(rng, 4, 64));
        assertContains(fails(t, Map.of()).getMessage(), "not a LoRA tensor");

        t.clear();
        t.put(q + ".lora_A.weight", LoraFiles.random(rng, 4, 64));
        t.put(q + ".lora.down.weight", LoraFiles.random(rng, 4, 64));
        t.put(q + ".lora_B.weight", LoraFiles.random(rng, 64, 4));
        assertContains(fails(t, Map.of()).getMessage(), "a second A tensor");
    }

    // ---- kohya / ComfyUI --------------------------------------------------------------------------------------------

    private record Fused(String kohyaKey, String bfl, int rank, long out, long in, Float alpha, boolean bf16) {
    }

    @Test
    void kohyaFusedLorasSplitExactlyIntoTheGoldenRowSlices() throws Exception {
        List<Fused> fused = List.of(
                new Fused("lora_unet_double_blocks_0_img_attn_qkv", "double_blocks.0.img_attn.qkv", 3, 192, 64, 1.5f, false),
                new Fused("lora_unet_double_blocks_1_txt_attn_qkv", "double_blocks.1.txt_attn.qkv", 2, 192, 64, null, true),
                new Fused("lora_unet_single_blocks_1_linear1", "single_blocks.1.linear1", 4, 448, 64, 2f, false),
                new Fused("lora_unet_final_layer_adaLN_modulation_1", "final_layer.adaLN_modulation.1", 2, 128, 64, 1f,
                        false),
                new Fused("lora_unet_double_blocks_0_img_mlp_0", "double_blocks.0.img_mlp.0", 2, 256, 64, 2f, false),
                new Fused("diffusion_model.double_blocks.1.txt_attn.proj", "double_blocks.1.txt_attn.proj", 3, 64, 64,
                        6f, false));
        Map<String, Tensor> t = new LinkedHashMap<>();
        for (Fused f : fused) {
            Tensor down = LoraFiles.random(rng, f.rank(), f.in());
            Tensor up = LoraFiles.random(rng, f.out(), f.rank());
            t.put(f.kohyaKey() + ".lora_down.weight", f.bf16() ? toBf16(down) : down);
            t.put(f.kohyaKey() + ".lora_up.weight", f.bf16() ? toBf16(up) : up);
            if (f.alpha() != null) {
                t.put(f.kohyaKey() + ".alpha", LoraFiles.scalar(f.alpha()));
            }
        }
        t.put("lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", LoraFiles.random(rng, 2, 8));
        t.put("lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_up.weight", LoraFiles.random(rng, 8, 2));
        Path file = write(t, Map.of());
        LoraSet set = LoraSet.load(file, LoraTargetsTest.tinyConfig());
        assertEquals(LoraSet.Format.KOHYA, set.format());
        assertEquals(3 + 3 + 4 + 1 + 1 + 1, set.size());
        assertEquals(2, set.warnings().size());
        assertContains(String.join(" ", set.warnings()), "ignored 2 text-encoder",
                "'lora_unet_final_layer_adaLN_modulation_1.alpha'");

        JsonNode golden;
        try (InputStream in = getClass().getResourceAsStream("/lora/flux-tiny-linears.json")) {
            golden = new ObjectMapper().readTree(in).get("linears");
        }
        for (Fused f : fused) {
            String downKey = f.kohyaKey() + ".lora_down.weight";
            double[] down = LoraFiles.raw(file, downKey);
            double[] upRaw = LoraFiles.raw(file, f.kohyaKey() + ".lora_up.weight");
            float scale = (f.alpha() == null ? f.rank() : f.alpha()) / f.rank();
            // the golden name map says which modules this BFL weight is made of, and their rows
            Set<String> expectedModules = new TreeSet<>();
            golden.properties().forEach(e -> {
                if (e.getValue().get("bfl").asText().equals(f.bfl() + ".weight")) {
                    expectedModules.add(e.getKey());
                }
            });
            Set<String> modules = new TreeSet<>();
            for (LoraModule m : set.modules()) {
                if (!m.keyA().equals(downKey)) {
                    continue;
                }
                modules.add(m.module());
                assertEquals(f.kohyaKey() + ".lora_up.weight", m.keyB());
                assertEquals(f.rank(), m.rank());
                assertEquals(scale, m.scale());
                JsonNode g = golden.get(m.module());
                long half = f.out() / 2;
                for (int r = 0; r < m.out(); r++) {
                    long bflRow = g.get("swap_halves").asBoolean() ? (r + half) % f.out()
                            : (g.get("rows").isNull() ? 0 : g.get("rows").get(0).asLong()) + r;
                    for (int c = 0; c < f.in(); c++) {
                        double fusedDelta = 0;
                        double splitDelta = 0;
                        for (int k = 0; k < f.rank(); k++) {
                            fusedDelta += upRaw[(int) (bflRow * f.rank() + k)] * down[k * (int) f.in() + c];
                            splitDelta += (double) m.b().get((long) r * f.rank() + k) * m.a().get((long) k * f.in() + c);
                        }
                        assertEquals(scale * fusedDelta, m.scale() * splitDelta, m.module() + " row " + r + " col " + c);
                    }
                }
            }
            assertEquals(expectedModules, modules, f.bfl());
        }
    }

    @Test
    void kohyaNamingErrors() {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("lora_unet_double_blocks_0_img_attn_norm.lora_down.weight", LoraFiles.random(rng, 2, 64));
        t.put("lora_unet_double_blocks_0_img_attn_norm.lora_up.weight", LoraFiles.random(rng, 64, 2));
        assertContains(fails(t, Map.of()).getMessage(), "'lora_unet_double_blocks_0_img_attn_norm.lora_down.weight'",
                "not a Linear of the FLUX transformer");

        t.clear();
        t.put("lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight", LoraFiles.random(rng, 2, 64));
        t.put("lora_unet_double_blocks_0_img_attn_qkv.lora_up.weight", LoraFiles.random(rng, 190, 2));
        assertContains(fails(t, Map.of()).getMessage(), "'lora_unet_double_blocks_0_img_attn_qkv.lora_up.weight'",
                "[192, 64]", "[190, 64]");

        t.put("lora_unet_double_blocks_0_img_attn_qkv.lora_up.weight", LoraFiles.random(rng, 192, 2));
        t.put("transformer.transformer_blocks.0.attn.to_k.lora_A.weight", LoraFiles.random(rng, 2, 64));
        assertContains(fails(t, Map.of()).getMessage(), "'transformer.transformer_blocks.0.attn.to_k.lora_A.weight'",
                "kohya naming");

        t.remove("transformer.transformer_blocks.0.attn.to_k.lora_A.weight");
        t.put("diffusion_model.double_blocks.0.img_attn.qkv.lora_down.weight", LoraFiles.random(rng, 2, 64));
        assertContains(fails(t, Map.of()).getMessage(), "a second A tensor for double_blocks.0.img_attn.qkv");

        t.remove("diffusion_model.double_blocks.0.img_attn.qkv.lora_down.weight");
        t.put("lora_unet_double_blocks_0_img_attn_qkv.alpha", LoraFiles.longScalar(2));
        assertContains(fails(t, Map.of()).getMessage(), "integer");

        t.remove("lora_unet_double_blocks_0_img_attn_qkv.alpha");
        t.put("lora_unet_double_blocks_0_img_attn_qkv.dora_scale", LoraFiles.random(rng, 1, 64));
        assertContains(fails(t, Map.of()).getMessage(), "DoRA");

        t.remove("lora_unet_double_blocks_0_img_attn_qkv.dora_scale");
        t.put("diffusion_model.double_blocks.0.img_attn.qkvx.lora_up.weight", LoraFiles.random(rng, 64, 2));
        assertContains(fails(t, Map.of()).getMessage(), "'diffusion_model.double_blocks.0.img_attn.qkvx.lora_up.weight'",
                "not a Linear");
    }

    @Test
    void kohyaLoadedSetSavesAsDiffusersWithTheSameScale() {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("lora_unet_single_blocks_0_linear1.lora_down.weight", LoraFiles.random(rng, 4, 64));
        t.put("lora_unet_single_blocks_0_linear1.lora_up.weight", LoraFiles.random(rng, 448, 4));
        t.put("lora_unet_single_blocks_0_linear1.alpha", LoraFiles.scalar(1));
        LoraSet kohya = LoraSet.load(write(t, Map.of()));
        Path out = dir.resolve("converted.safetensors");
        kohya.save(out);
        LoraSet back = LoraSet.load(out, LoraTargetsTest.tinyConfig());
        assertEquals(LoraSet.Format.DIFFUSERS, back.format());
        assertEquals(4, back.size());
        for (LoraModule m : kohya.modules()) {
            LoraModule r = back.get(m.module());
            assertEquals(0.25f, r.scale());
            assertEquals(m.alpha(), r.alpha());
            assertEquals(m.out(), r.out());
            for (long i = 0; i < m.b().numel(); i++) {
                assertEquals(m.b().get(i), r.b().get(i));
            }
        }
    }
}
