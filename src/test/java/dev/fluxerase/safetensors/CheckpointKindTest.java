package dev.fluxerase.safetensors;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Compare;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

/** Kind detection on small synthetic checkpoints written with our writer (names as in FLUX.md §3 and §6). */
class CheckpointKindTest {
    @TempDir
    Path dir;

    private final Map<String, Tensor> tensors = new LinkedHashMap<>();

    private void put(String name, long... shape) {
        tensors.put(name, Tensor.zeros(shape));
    }

    private CheckpointKind detect(Map<String, String> metadata) {
        Path f = dir.resolve("c.safetensors");
        SafetensorsWriter.write(f, tensors, metadata);
        try (SafetensorsFile s = SafetensorsFile.open(f)) {
            return CheckpointKind.detect(s);
        }
    }

    /** A BFL-named model with hidden 8, head dim 4 (2 heads), 2 double and 3 single blocks. */
    private void bfl(String prefix, boolean guidance) {
        put(prefix + "img_in.weight", 8, 4);
        put(prefix + "txt_in.weight", 8, 6);
        if (guidance) {
            put(prefix + "guidance_in.in_layer.weight", 8, 256);
        }
        for (int i = 0; i < 2; i++) {
            put(prefix + "double_blocks." + i + ".img_attn.qkv.weight", 24, 8);
            put(prefix + "double_blocks." + i + ".img_attn.norm.query_norm.scale", 4);
        }
        for (int i = 0; i < 3; i++) {
            put(prefix + "single_blocks." + i + ".linear1.weight", 56, 8);
        }
        put(prefix + "final_layer.linear.weight", 4, 8);
    }

    @Test
    void bflTransformer() {
        bfl("", true);
        CheckpointKind k = detect(Map.of());
        assertEquals(new CheckpointKind.BflTransformer("", 2, 3, 8, 4, 4, 6, true), k);
        assertEquals("BFL FLUX transformer", k.label());
        Map<String, Object> f = k.facts();
        assertEquals(2, f.get("depth"));
        assertEquals(3, f.get("single_depth"));
        assertEquals(8L, f.get("hidden_size"));
        assertEquals(2L, f.get("heads"));
        assertEquals(true, f.get("guidance_embedder"));
    }

    @Test
    void bflTransformerWithComfyPrefixAndNoGuidance() {
        bfl("model.diffusion_model.", false);
        assertEquals(new CheckpointKind.BflTransformer("model.diffusion_model.", 2, 3, 8, 4, 4, 6, false),
                detect(Map.of()));
    }

    @Test
    void diffusersTransformer() {
        put("x_embedder.weight", 8, 4);
        put("context_embedder.weight", 8, 6);
        put("time_text_embed.guidance_embedder.linear_1.weight", 8, 256);
        for (int i = 0; i < 3; i++) {
            put("transformer_blocks." + i + ".attn.to_q.weight", 8, 8);
            put("transformer_blocks." + i + ".attn.norm_q.weight", 4);
        }
        put("single_transformer_blocks.0.proj_mlp.weight", 32, 8);
        put("proj_out.weight", 4, 8);
        CheckpointKind k = detect(Map.of());
        assertEquals(new CheckpointKind.DiffusersTransformer("", 3, 1, 8, 4, 4, 6, true), k);
        assertEquals("diffusers FLUX transformer", k.label());
    }

    @Test
    void diffusersLoraWithMixedRanksAlphaTensorsAndAdapterMetadata() {
        put("transformer.transformer_blocks.0.attn.to_q.lora_A.weight", 4, 8);
        put("transformer.transformer_blocks.0.attn.to_q.lora_B.weight", 8, 4);
        put("transformer.transformer_blocks.1.attn.to_q.lora_A.weight", 4, 8);
        put("transformer.transformer_blocks.1.attn.to_q.lora_B.weight", 8, 4);
        put("transformer.single_transformer_blocks.5.proj_mlp.lora_A.weight", 2, 8);
        put("transformer.single_transformer_blocks.5.proj_mlp.lora_B.weight", 32, 2);
        put("transformer.x_embedder.lora_A.weight", 4, 4);
        put("transformer.x_embedder.lora_B.weight", 8, 4);
        tensors.put("transformer.transformer_blocks.0.attn.to_q.alpha", Tensor.of(new float[]{4f}));
        tensors.put("transformer.transformer_blocks.1.attn.to_q.alpha", Tensor.of(new float[]{2f}));
        CheckpointKind k = detect(Map.of("lora_adapter_metadata",
                "{\"transformer.r\": 4, \"transformer.lora_alpha\": 2, \"transformer.target_modules\": [\"to_q\"]}"));
        CheckpointKind.Lora lora = assertInstanceOf(CheckpointKind.Lora.class, k);
        assertEquals("diffusers/peft LoRA", k.label());
        assertEquals(List.of("transformer"), lora.components());
        assertEquals(List.of(2L, 4L), lora.ranks());
        assertEquals(List.of("attn.to_q", "proj_mlp", "x_embedder"), lora.targets());
        assertEquals(Map.of("single_transformer_blocks", 1, "transformer_blocks", 2), lora.blocks());
        assertEquals(3, lora.blockCount());
        assertEquals(4, lora.modules());
        assertEquals(2, lora.alphaTensors());
        assertEquals(List.of(2f, 4f), lora.alphas());
        assertEquals(true, lora.adapterMetadata());
        assertEquals(Map.of("transformer.r", "4", "transformer.lora_alpha", "2"), lora.adapterConfig());
        assertEquals(true, k.facts().get("ranks_differ"));
        assertEquals(List.of(2L, 4L), k.facts().get("rank"));
    }

    @Test
    void kohyaLora() {
        put("lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight", 4, 8);
        put("lora_unet_double_blocks_0_img_attn_qkv.lora_up.weight", 24, 4);
        put("lora_unet_double_blocks_0_txt_mod_lin.lora_down.weight", 4, 8);
        put("lora_unet_double_blocks_0_txt_mod_lin.lora_up.weight", 48, 4);
        put("lora_unet_single_blocks_7_linear1.lora_down.weight", 4, 8);
        put("lora_unet_single_blocks_7_linear1.lora_up.weight", 56, 4);
        // alpha as a 0-dim BF16 scalar (kohya saves the training dtype): 1.0 = 0x3f80
        for (String m : List.of("lora_unet_double_blocks_0_img_attn_qkv", "lora_unet_double_blocks_0_txt_mod_lin",
                "lora_unet_single_blocks_7_linear1")) {
            tensors.put(m + ".alpha", Tensor.wrap(DType.BF16, MemorySegment.ofArray(new short[]{(short) 0x3f80})));
        }
        CheckpointKind.Lora lora = assertInstanceOf(CheckpointKind.Lora.class, detect(Map.of()));
        assertEquals("kohya LoRA", lora.label());
        assertEquals(List.of("lora_unet"), lora.components());
        assertEquals(List.of(4L), lora.ranks());
        assertEquals(List.of("img_attn_qkv", "txt_mod_lin", "linear1"), lora.targets());
        assertEquals(Map.of("double_blocks", 1, "single_blocks", 1), lora.blocks());
        assertEquals(3, lora.modules());
        assertEquals(3, lora.alphaTensors());
        assertEquals(List.of(1f), lora.alphas());
        assertEquals(1f, lora.facts().get("alpha"));
        assertEquals(4L, lora.facts().get("rank"));
    }

    @Test
    void comfyStyleLoraCountsAsKohya() {
        put("diffusion_model.double_blocks.3.img_attn.qkv.lora_down.weight", 2, 8);
        put("diffusion_model.double_blocks.3.img_attn.qkv.lora_up.weight", 24, 2);
        CheckpointKind.Lora lora = assertInstanceOf(CheckpointKind.Lora.class, detect(Map.of()));
        assertEquals("kohya LoRA", lora.label());
        assertEquals(List.of("diffusion_model"), lora.components());
        assertEquals(List.of("img_attn.qkv"), lora.targets());
        assertEquals(Map.of("double_blocks", 1), lora.blocks());
    }

    @Test
    void somethingElse() {
        put("encoder.conv_in.weight", 4, 3, 3, 3);
        put("decoder.conv_out.weight", 3, 4, 3, 3);
        CheckpointKind k = detect(Map.of());
        assertEquals(new CheckpointKind.Other(), k);
        assertEquals("other", k.label());
        assertEquals(Map.of(), k.facts());
    }

    @Test
    void theEraseAnythingLora() {
        try (SafetensorsFile s = SafetensorsFile.open(SafetensorsFileTest.lora())) {
            CheckpointKind.Lora lora = assertInstanceOf(CheckpointKind.Lora.class, CheckpointKind.detect(s));
            assertEquals("diffusers/peft LoRA", lora.label());
            assertEquals(List.of(8L), lora.ranks());
            assertEquals(List.of("attn.add_q_proj", "attn.add_k_proj"), lora.targets());
            assertEquals(19, lora.blockCount());
            assertEquals(38, lora.modules());
            assertEquals(0, lora.alphaTensors());
            assertEquals(false, lora.adapterMetadata());
            // sanity of the data behind the names: every lora_B of a freshly trained LoRA moved off zero
            assertEquals(true, s.names().stream().filter(n -> n.endsWith("lora_B.weight"))
                    .allMatch(n -> Compare.maxAbs(Floats.toF32(s.tensor(n))) > 0));
        }
    }
}
