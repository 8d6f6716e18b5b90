package dev.fluxerase.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fluxerase.tensor.Floats;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The name rules behind {@link CheckpointKind#detect}. */
final class KindDetector {
    /** Single-file checkpoints sometimes prefix every key (FLUX.md §3.4); diffusers saves none. */
    static final List<String> PREFIXES = List.of("", "model.diffusion_model.", "diffusion_model.");
    /** Known component prefixes of dotted LoRA keys: diffusers (FLUX.md §6.2) and ComfyUI's diffusion_model (§6.3). */
    static final Set<String> COMPONENTS =
            Set.of("transformer", "text_encoder", "text_encoder_2", "unet", "diffusion_model");
    /** FLUX targets in model order (diffusers then kohya names), so listings read like the model. */
    static final List<String> ORDER = List.of("attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0",
            "attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj", "attn.to_add_out", "ff.net.0.proj", "ff.net.2",
            "ff_context.net.0.proj", "ff_context.net.2", "norm1.linear", "norm1_context.linear", "norm.linear",
            "proj_mlp", "proj_out", "img_attn_qkv", "img_attn_proj", "img_mlp_0", "img_mlp_2", "img_mod_lin",
            "txt_attn_qkv", "txt_attn_proj", "txt_mlp_0", "txt_mlp_2", "txt_mod_lin", "linear1", "linear2",
            "modulation_lin");
    /** A block list, its index, and the module inside the block: "transformer_blocks.3.attn.to_q". */
    private static final Pattern DIFFUSERS_BLOCK = Pattern.compile("(.+?)\\.(\\d+)\\.(.+)");
    private static final Pattern KOHYA_BLOCK = Pattern.compile("(.+?)_(\\d+)_(.+)");

    private KindDetector() {
    }

    static CheckpointKind detect(TensorSource src) {
        Set<String> names = src.names();
        if (names.stream().anyMatch(n -> n.endsWith(".lora_down.weight"))) {
            return lora(src, true);
        }
        if (names.stream().anyMatch(n -> n.endsWith(".lora_A.weight"))) {
            return lora(src, false);
        }
        for (String prefix : PREFIXES) {
            if (names.contains(prefix + "img_in.weight") && count(names, prefix + "double_blocks.") > 0) {
                return new CheckpointKind.BflTransformer(prefix, count(names, prefix + "double_blocks."),
                        count(names, prefix + "single_blocks."), dim(src, prefix + "img_in.weight", 0),
                        dim(src, prefix + "double_blocks.0.img_attn.norm.query_norm.scale", 0),
                        dim(src, prefix + "img_in.weight", 1), dim(src, prefix + "txt_in.weight", 1),
                        names.contains(prefix + "guidance_in.in_layer.weight"));
            }
            if (names.contains(prefix + "x_embedder.weight") && count(names, prefix + "transformer_blocks.") > 0) {
                return new CheckpointKind.DiffusersTransformer(prefix, count(names, prefix + "transformer_blocks."),
                        count(names, prefix + "single_transformer_blocks."),
                        dim(src, prefix + "x_embedder.weight", 0),
                        dim(src, prefix + "transformer_blocks.0.attn.norm_q.weight", 0),
                        dim(src, prefix + "x_embedder.weight", 1),
                        dim(src, prefix + "context_embedder.weight", 1),
                        names.contains(prefix + "time_text_embed.guidance_embedder.linear_1.weight"));
            }
        }
        return new CheckpointKind.Other();
    }

    /** Distinct block indices under a prefix like "double_blocks.". */
    static int count(Set<String> names, String blockPrefix) {
        Set<String> seen = new TreeSet<>();
        for (String n : names) {
            if (n.startsWith(blockPrefix)) {
                int dot = n.indexOf('.', blockPrefix.length());
                String idx = dot < 0 ? n.substring(blockPrefix.length()) : n.substring(blockPrefix.length(), dot);
                if (!idx.isEmpty() && idx.chars().allMatch(Character::isDigit)) {
                    seen.add(idx);
                }
            }
        }
        return seen.size();
    }

    /** A dimension of a tensor's shape, or -1 when the tensor is absent or has too few dimensions. */
    static long dim(TensorSource src, String name, int i) {
        if (!src.contains(name)) {
            return -1;
        }
        TensorInfo info = src.info(name);
        return i < info.rank() ? info.dim(i) : -1;
    }

    static CheckpointKind.Lora lora(TensorSource src, boolean kohya) {
        String down = kohya ? ".lora_down.weight" : ".lora_A.weight";
        Set<String> components = new LinkedHashSet<>();
        Set<Long> ranks = new TreeSet<>();
        Set<String> targets = new LinkedHashSet<>();
        Map<String, Set<String>> blocks = new TreeMap<>();
        int modules = 0;
        int alphaTensors = 0;
        Set<Float> alphas = new TreeSet<>();
        for (String name : src.names()) {
            if (name.endsWith(".alpha")) {
                alphaTensors++;
                TensorInfo info = src.info(name);
                if (info.dtype().isFloat() && info.numel() == 1) {
                    alphas.add(Floats.toF32(src.tensor(name))[0]);
                }
                continue;
            }
            if (!name.endsWith(down)) {
                continue;
            }
            modules++;
            TensorInfo a = src.info(name);
            if (a.rank() >= 1) {
                ranks.add(a.dim(0));
            }
            String module = name.substring(0, name.length() - down.length());
            // kohya names are "lora_unet_double_blocks_0_img_attn_qkv"; everything else is dotted
            boolean underscored = kohya && module.startsWith("lora_");
            if (underscored) {
                int us = module.indexOf('_', "lora_".length());
                if (us > 0) {
                    components.add(module.substring(0, us));
                    module = module.substring(us + 1);
                }
            } else {
                int dot = module.indexOf('.');
                if (dot > 0 && COMPONENTS.contains(module.substring(0, dot))) {
                    components.add(module.substring(0, dot));
                    module = module.substring(dot + 1);
                }
            }
            Matcher m = (underscored ? KOHYA_BLOCK : DIFFUSERS_BLOCK).matcher(module);
            if (m.matches()) {
                blocks.computeIfAbsent(m.group(1), k -> new TreeSet<>()).add(m.group(2));
                targets.add(m.group(3));
            } else {
                targets.add(module);
            }
        }
        List<String> ordered = new ArrayList<>(targets);
        ordered.sort(Comparator.comparingInt((String t) -> ORDER.contains(t) ? ORDER.indexOf(t) : ORDER.size())
                .thenComparing(Comparator.naturalOrder()));
        Map<String, Integer> blockCounts = new LinkedHashMap<>();
        blocks.forEach((k, v) -> blockCounts.put(k, v.size()));
        String adapter = src.metadata().get("lora_adapter_metadata");
        return new CheckpointKind.Lora(kohya, List.copyOf(components), List.copyOf(ranks), List.copyOf(ordered),
                blockCounts, modules, alphaTensors, List.copyOf(alphas), adapter != null, adapterConfig(adapter));
    }

    /** The r / lora_alpha entries of diffusers' lora_adapter_metadata JSON; empty when absent or unreadable. */
    private static Map<String, String> adapterConfig(String json) {
        Map<String, String> out = new LinkedHashMap<>();
        if (json == null) {
            return out;
        }
        try {
            JsonNode root = Header.JSON.readTree(json);
            if (root != null && root.isObject()) {
                for (Map.Entry<String, JsonNode> e : root.properties()) {
                    String k = e.getKey();
                    if (k.equals("r") || k.endsWith(".r") || k.equals("lora_alpha") || k.endsWith(".lora_alpha")) {
                        out.put(k, e.getValue().asText());
                    }
                }
            }
        } catch (IOException e) {
            out.put("unreadable", e.getClass().getSimpleName());
        }
        return out;
    }
}
