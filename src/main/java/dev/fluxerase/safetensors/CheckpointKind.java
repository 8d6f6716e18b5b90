package dev.fluxerase.safetensors;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a checkpoint is, recognised from its tensor names (FLUX.md §3 and §6) with the sizes read from shapes. Used by
 * {@code inspect}; loaders do their own strict checks.
 */
public sealed interface CheckpointKind {

    /** Human-readable kind, e.g. "diffusers/peft LoRA". */
    String label();

    /** What was found, in display order; values are numbers, booleans, strings, lists or maps of those. */
    Map<String, Object> facts();

    /** BFL (original) naming: {@code double_blocks.N.img_attn.qkv.weight}, {@code img_in.weight}, ... */
    record BflTransformer(String prefix, int depth, int singleDepth, long hiddenSize, long headDim, long inChannels,
                          long contextDim, boolean guidanceEmbedder) implements CheckpointKind {
        @Override
        public String label() {
            return "BFL FLUX transformer";
        }

        @Override
        public Map<String, Object> facts() {
            return transformerFacts(prefix, depth, singleDepth, hiddenSize, headDim, inChannels, contextDim,
                    guidanceEmbedder);
        }
    }

    /** diffusers naming: {@code transformer_blocks.N...}, {@code x_embedder.weight}, ... */
    record DiffusersTransformer(String prefix, int depth, int singleDepth, long hiddenSize, long headDim, long inChannels,
                                long contextDim, boolean guidanceEmbedder) implements CheckpointKind {
        @Override
        public String label() {
            return "diffusers FLUX transformer";
        }

        @Override
        public Map<String, Object> facts() {
            return transformerFacts(prefix, depth, singleDepth, hiddenSize, headDim, inChannels, contextDim,
                    guidanceEmbedder);
        }
    }

    /**
     * diffusers/peft LoRA ({@code <component>.<module>.lora_A.weight} / {@code .lora_B.weight}) or kohya LoRA
     * ({@code lora_unet_<module>.lora_down.weight} / {@code .lora_up.weight} / {@code .alpha}).
     *
     * @param ranks        distinct ranks (lora_A / lora_down rows), ascending
     * @param targets      distinct module names after the block index (or the whole module outside blocks)
     * @param blocks       per block list (e.g. transformer_blocks, double_blocks), how many distinct blocks carry a LoRA
     * @param alphaTensors how many {@code .alpha} tensors the file has
     * @param alphas       their distinct values, ascending
     * @param adapterConfig for diffusers files, the rank and alpha entries of {@code lora_adapter_metadata}
     */
    record Lora(boolean kohya, List<String> components, List<Long> ranks, List<String> targets,
                Map<String, Integer> blocks, int modules, int alphaTensors, List<Float> alphas,
                boolean adapterMetadata, Map<String, String> adapterConfig) implements CheckpointKind {
        @Override
        public String label() {
            return kohya ? "kohya LoRA" : "diffusers/peft LoRA";
        }

        public int blockCount() {
            return blocks.values().stream().mapToInt(Integer::intValue).sum();
        }

        @Override
        public Map<String, Object> facts() {
            Map<String, Object> f = new LinkedHashMap<>();
            if (!components.isEmpty()) {
                f.put("components", components);
            }
            f.put("rank", ranks.size() == 1 ? ranks.getFirst() : ranks);
            f.put("ranks_differ", ranks.size() > 1);
            f.put("modules", modules);
            f.put("targets", targets);
            f.put("blocks", blockCount());
            f.put("blocks_by_list", blocks);
            f.put("alpha_tensors", alphaTensors);
            if (!alphas.isEmpty()) {
                f.put("alpha", alphas.size() == 1 ? alphas.getFirst() : alphas);
            }
            if (!kohya) {
                f.put("lora_adapter_metadata", adapterMetadata);
                if (!adapterConfig.isEmpty()) {
                    f.put("adapter_config", adapterConfig);
                }
            }
            return f;
        }
    }

    record Other() implements CheckpointKind {
        @Override
        public String label() {
            return "other";
        }

        @Override
        public Map<String, Object> facts() {
            return Map.of();
        }
    }

    /** Recognises the checkpoint from its names: LoRA formats first, then the two transformer namings, else other. */
    static CheckpointKind detect(TensorSource src) {
        return KindDetector.detect(src);
    }

    private static Map<String, Object> transformerFacts(String prefix, int depth, int singleDepth, long hidden,
                                                        long headDim, long inChannels, long contextDim, boolean guidance) {
        Map<String, Object> f = new LinkedHashMap<>();
        if (!prefix.isEmpty()) {
            f.put("prefix", prefix);
        }
        f.put("depth", depth);
        f.put("single_depth", singleDepth);
        f.put("hidden_size", hidden);
        if (headDim > 0) {
            f.put("head_dim", headDim);
            f.put("heads", hidden / headDim);
        }
        f.put("in_channels", inChannels);
        if (contextDim > 0) {
            f.put("context_dim", contextDim);
        }
        f.put("guidance_embedder", guidance);
        return f;
    }
}
