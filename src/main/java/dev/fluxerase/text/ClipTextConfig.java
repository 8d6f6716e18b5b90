package dev.fluxerase.text;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fluxerase.json.ConfigJson;

import java.nio.file.Path;

/**
 * The fields of a transformers {@code CLIPTextConfig} that the text model uses (FLUX.md §5.2). {@code eosTokenId} selects
 * the pooling rule: 2 (FLUX's and openai/clip-vit-large-patch14's config) means the legacy argmax of the ids.
 */
public record ClipTextConfig(int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers,
                             int numAttentionHeads, int maxPositionEmbeddings, String hiddenAct, double layerNormEps,
                             int eosTokenId) {

    /** The only activation implemented: CLIP-L's x·sigmoid(1.702·x). */
    public static final String QUICK_GELU = "quick_gelu";

    public ClipTextConfig {
        ConfigJson.positive("vocab_size", vocabSize);
        ConfigJson.positive("hidden_size", hiddenSize);
        ConfigJson.positive("intermediate_size", intermediateSize);
        ConfigJson.positive("num_hidden_layers", numHiddenLayers);
        ConfigJson.positive("num_attention_heads", numAttentionHeads);
        ConfigJson.positive("max_position_embeddings", maxPositionEmbeddings);
        checkTower(hiddenSize, numAttentionHeads, hiddenAct, layerNormEps);
    }

    /** The checks both CLIP towers' configs share: whole heads, CLIP's activation, a positive LayerNorm eps. */
    static void checkTower(int hiddenSize, int numAttentionHeads, String hiddenAct, double layerNormEps) {
        if (hiddenSize % numAttentionHeads != 0) {
            throw new IllegalArgumentException("config hidden_size " + hiddenSize + " is not a multiple of"
                    + " num_attention_heads " + numAttentionHeads);
        }
        if (!QUICK_GELU.equals(hiddenAct)) {
            throw new IllegalArgumentException("config hidden_act \"" + hiddenAct + "\" is not supported: only"
                    + " quick_gelu (CLIP-L's) is implemented");
        }
        if (!(layerNormEps > 0)) {
            throw new IllegalArgumentException("config layer_norm_eps must be positive, got " + layerNormEps);
        }
    }

    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    /** True for the legacy pooling rule (argmax of the ids) that transformers selects when eos_token_id is 2. */
    public boolean legacyPooling() {
        return eosTokenId == 2;
    }

    public static ClipTextConfig read(Path file) {
        JsonNode root = ConfigJson.read(file);
        try {
            return fromJson(root);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    public static ClipTextConfig fromJson(JsonNode n) {
        return new ClipTextConfig(ConfigJson.integer(n, "vocab_size"), ConfigJson.integer(n, "hidden_size"),
                ConfigJson.integer(n, "intermediate_size"), ConfigJson.integer(n, "num_hidden_layers"),
                ConfigJson.integer(n, "num_attention_heads"), ConfigJson.integer(n, "max_position_embeddings"),
                ConfigJson.text(n, "hidden_act"), ConfigJson.number(n, "layer_norm_eps"),
                ConfigJson.integer(n, "eos_token_id"));
    }
}
