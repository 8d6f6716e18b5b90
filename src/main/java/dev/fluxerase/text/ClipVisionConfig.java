package dev.fluxerase.text;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fluxerase.json.ConfigJson;

/**
 * The fields of a transformers {@code CLIPVisionConfig} that the image tower uses: a square image of
 * {@code imageSize} pixels cut into {@code patchSize} patches, the class token in front of them.
 */
public record ClipVisionConfig(int hiddenSize, int intermediateSize, int numHiddenLayers, int numAttentionHeads,
                               int imageSize, int patchSize, int numChannels, String hiddenAct, double layerNormEps) {

    public ClipVisionConfig {
        ConfigJson.positive("hidden_size", hiddenSize);
        ConfigJson.positive("intermediate_size", intermediateSize);
        ConfigJson.positive("num_hidden_layers", numHiddenLayers);
        ConfigJson.positive("num_attention_heads", numAttentionHeads);
        ConfigJson.positive("image_size", imageSize);
        ConfigJson.positive("patch_size", patchSize);
        ConfigJson.positive("num_channels", numChannels);
        if (imageSize % patchSize != 0) {
            throw new IllegalArgumentException("config image_size " + imageSize + " is not a multiple of patch_size "
                    + patchSize);
        }
        ClipTextConfig.checkTower(hiddenSize, numAttentionHeads, hiddenAct, layerNormEps);
    }

    /** Patches per side. */
    public int grid() {
        return imageSize / patchSize;
    }

    /** The sequence the encoder sees: every patch plus the class token. */
    public int positions() {
        return grid() * grid() + 1;
    }

    /** {@code num_channels} is optional (3, transformers' default), as in some saved configs. */
    public static ClipVisionConfig fromJson(JsonNode n) {
        return new ClipVisionConfig(ConfigJson.integer(n, "hidden_size"), ConfigJson.integer(n, "intermediate_size"),
                ConfigJson.integer(n, "num_hidden_layers"), ConfigJson.integer(n, "num_attention_heads"),
                ConfigJson.integer(n, "image_size"), ConfigJson.integer(n, "patch_size"),
                n.has("num_channels") ? ConfigJson.integer(n, "num_channels") : 3, ConfigJson.text(n, "hidden_act"),
                ConfigJson.number(n, "layer_norm_eps"));
    }
}
