package dev.fluxerase.text;

import com.fasterxml.jackson.databind.JsonNode;

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
        EncoderConfigs.positive("vocab_size", vocabSize);
        EncoderConfigs.positive("hidden_size", hiddenSize);
        EncoderConfigs.positive("intermediate_size", intermediateSize);
        EncoderConfigs.positive("num_hidden_layers", numHiddenLayers);
        EncoderConfigs.positive("num_attention_heads", numAttentionHeads);
        EncoderConfigs.positive("max_position_embeddings", maxPositionEmbeddings);
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
        try {
            return fromJson(EncoderConfigs.read(file));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    public static ClipTextConfig fromJson(JsonNode n) {
        return new ClipTextConfig(EncoderConfigs.integer(n, "vocab_size"), EncoderConfigs.integer(n, "hidden_size"),
                EncoderConfigs.integer(n, "intermediate_size"), EncoderConfigs.integer(n, "num_hidden_layers"),
                EncoderConfigs.integer(n, "num_attention_heads"), EncoderConfigs.integer(n, "max_position_embeddings"),
                EncoderConfigs.text(n, "hidden_act"), EncoderConfigs.number(n, "layer_norm_eps"),
                EncoderConfigs.integer(n, "eos_token_id"));
    }
}
