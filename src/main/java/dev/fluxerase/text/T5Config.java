package dev.fluxerase.text;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fluxerase.json.ConfigJson;

import java.nio.file.Path;
import java.util.Set;

/**
 * The fields of a transformers {@code T5Config} that the encoder uses (FLUX.md §5.3). Only the v1.1 feed-forward is
 * implemented: gated, with the tanh GELU ({@code gelu_new} and {@code gelu_pytorch_tanh} are the same formula).
 */
public record T5Config(int vocabSize, int dModel, int dKv, int dFf, int numLayers, int numHeads,
                       int relativeAttentionNumBuckets, int relativeAttentionMaxDistance, double layerNormEpsilon,
                       String denseActFn) {

    private static final Set<String> TANH_GELU = Set.of("gelu_new", "gelu_pytorch_tanh");

    public T5Config {
        ConfigJson.positive("vocab_size", vocabSize);
        ConfigJson.positive("d_model", dModel);
        ConfigJson.positive("d_kv", dKv);
        ConfigJson.positive("d_ff", dFf);
        ConfigJson.positive("num_layers", numLayers);
        ConfigJson.positive("num_heads", numHeads);
        if (relativeAttentionNumBuckets < 4 || relativeAttentionNumBuckets % 2 != 0) {
            // bidirectional: half the buckets per sign, and at least one exact and one log-spaced bucket in each half
            throw new IllegalArgumentException("config relative_attention_num_buckets must be even and at least 4, got "
                    + relativeAttentionNumBuckets);
        }
        if (relativeAttentionMaxDistance <= relativeAttentionNumBuckets / 4) {
            throw new IllegalArgumentException("config relative_attention_max_distance " + relativeAttentionMaxDistance
                    + " must exceed the " + relativeAttentionNumBuckets / 4 + " exact buckets");
        }
        if (!(layerNormEpsilon > 0)) {
            throw new IllegalArgumentException("config layer_norm_epsilon must be positive, got " + layerNormEpsilon);
        }
        if (!TANH_GELU.contains(denseActFn)) {
            throw new IllegalArgumentException("config dense_act_fn \"" + denseActFn + "\" is not supported: only the"
                    + " gated tanh GELU of T5 v1.1 (gelu_new, gelu_pytorch_tanh) is implemented");
        }
    }

    /** Width of the attention's concatenated heads (d_model for T5-XXL, not in general). */
    public int innerDim() {
        return numHeads * dKv;
    }

    public static T5Config read(Path file) {
        JsonNode root = ConfigJson.read(file);
        try {
            return fromJson(root);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Resolves the activation as transformers does: {@code feed_forward_proj} "gated-X" means gated with X, "gated-gelu"
     * means gelu_new, and an explicit {@code dense_act_fn} / {@code is_gated_act} in the file wins (PretrainedConfig
     * applies the remaining keys last).
     */
    public static T5Config fromJson(JsonNode n) {
        String proj = ConfigJson.text(n, "feed_forward_proj");
        String[] parts = proj.split("-", -1);
        boolean gated = parts.length == 2 && parts[0].equals("gated");
        if (parts.length > 2 || (parts.length == 2 && !gated)) {
            throw new IllegalArgumentException("config feed_forward_proj \"" + proj + "\" is not \"ACT\" or \"gated-ACT\"");
        }
        String act = proj.equals("gated-gelu") ? "gelu_new" : parts[parts.length - 1];
        String explicit = ConfigJson.optionalText(n, "dense_act_fn");
        if (explicit != null) {
            act = explicit;
        }
        JsonNode gatedNode = n.get("is_gated_act");
        if (gatedNode != null && gatedNode.isBoolean()) {
            gated = gatedNode.asBoolean();
        }
        if (!gated) {
            throw new IllegalArgumentException("config feed_forward_proj \"" + proj + "\" is not gated: only the gated"
                    + " feed-forward of T5 v1.1 is implemented");
        }
        return new T5Config(ConfigJson.integer(n, "vocab_size"), ConfigJson.integer(n, "d_model"),
                ConfigJson.integer(n, "d_kv"), ConfigJson.integer(n, "d_ff"),
                ConfigJson.integer(n, "num_layers"), ConfigJson.integer(n, "num_heads"),
                ConfigJson.integer(n, "relative_attention_num_buckets"),
                ConfigJson.integer(n, "relative_attention_max_distance"),
                ConfigJson.number(n, "layer_norm_epsilon"), act);
    }
}
