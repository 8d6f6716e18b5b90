package dev.fluxerase.flux;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.json.ConfigJson;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

import static dev.fluxerase.json.ConfigJson.bool;
import static dev.fluxerase.json.ConfigJson.integer;
import static dev.fluxerase.json.ConfigJson.ints;
import static dev.fluxerase.json.ConfigJson.number;

/**
 * The FLUX transformer's shape parameters in BFL {@code FluxParams} terms (FLUX.md §1). Heads and RoPE axes cannot be
 * inferred from weights, so a config always comes from a file or a preset.
 */
public record FluxConfig(int inChannels, int outChannels, int vecInDim, int contextInDim, int hiddenSize, double mlpRatio,
                         int numHeads, int depth, int depthSingleBlocks, int[] axesDim, double theta, boolean qkvBias,
                         boolean guidanceEmbed) {

    public static final FluxConfig FLUX_DEV =
            new FluxConfig(64, 64, 768, 4096, 3072, 4.0, 24, 19, 38, new int[]{16, 56, 56}, 10000, true, true);
    public static final FluxConfig FLUX_SCHNELL =
            new FluxConfig(64, 64, 768, 4096, 3072, 4.0, 24, 19, 38, new int[]{16, 56, 56}, 10000, true, false);

    public FluxConfig {
        axesDim = axesDim.clone();
        if (hiddenSize <= 0 || numHeads <= 0 || hiddenSize % numHeads != 0) {
            throw new IllegalArgumentException("hidden_size " + hiddenSize + " is not a positive multiple of num_heads "
                    + numHeads);
        }
        int sum = Arrays.stream(axesDim).sum();
        if (sum != hiddenSize / numHeads || Arrays.stream(axesDim).anyMatch(a -> a <= 0 || a % 2 != 0)) {
            throw new IllegalArgumentException("axes_dim " + Arrays.toString(axesDim) + " must be positive even widths"
                    + " summing to the head dim " + hiddenSize / numHeads);
        }
        if (inChannels <= 0 || outChannels <= 0 || vecInDim <= 0 || contextInDim <= 0 || depth < 0
                || depthSingleBlocks < 0 || mlpRatio <= 0) {
            throw new IllegalArgumentException("config has a non-positive size: " + describe(inChannels, outChannels,
                    vecInDim, contextInDim, depth, depthSingleBlocks, mlpRatio));
        }
    }

    private static String describe(int in, int out, int vec, int ctx, int depth, int single, double ratio) {
        return "in_channels=" + in + " out_channels=" + out + " vec_in_dim=" + vec + " context_in_dim=" + ctx + " depth="
                + depth + " depth_single_blocks=" + single + " mlp_ratio=" + ratio;
    }

    @Override
    public int[] axesDim() {
        return axesDim.clone();
    }

    public int headDim() {
        return hiddenSize / numHeads;
    }

    /** MLP hidden width, int(hidden · mlp_ratio) as in BFL. */
    public int mlpHidden() {
        return (int) (hiddenSize * mlpRatio);
    }

    /** A preset by name: flux-dev or flux-schnell; null when unknown. */
    public static FluxConfig preset(String name) {
        return switch (name) {
            case "flux-dev", "flux.1-dev", "dev" -> FLUX_DEV;
            case "flux-schnell", "flux.1-schnell", "schnell" -> FLUX_SCHNELL;
            default -> null;
        };
    }

    /**
     * Reads a JSON file holding either BFL {@code FluxParams} keys (hidden_size, num_heads, depth, ...), a diffusers
     * transformer config.json (num_attention_heads, attention_head_dim, num_layers, ...), or an object whose "config" member
     * is one of these (a golden manifest).
     */
    public static FluxConfig read(Path file) {
        JsonNode root = ConfigJson.read(file);
        if (!root.has("hidden_size") && !root.has("num_attention_heads") && root.path("config").isObject()) {
            root = root.get("config");
        }
        try {
            return fromJson(root);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * The config for weights at {@code weights} when none is given: a FLUX config.json beside them (in the folder, or
     * next to the file, as in a diffusers transformer/ folder), else the first of flux-dev, flux-schnell that
     * {@code mismatch} accepts. {@code mismatch} returns null when a config fits the weights, else a one-line reason.
     */
    public static FluxConfig select(Path weights, Function<FluxConfig, String> mismatch) {
        Path dir = Files.isDirectory(weights) ? weights : weights.toAbsolutePath().getParent();
        Path json = dir == null ? null : dir.resolve("config.json");
        if (json != null && Files.isRegularFile(json) && isFluxConfig(json)) {
            FluxConfig c = read(json);
            String why = mismatch.apply(c);
            if (why != null) {
                throw new IllegalArgumentException(why + " (config " + json + ")");
            }
            return c;
        }
        for (FluxConfig c : List.of(FLUX_DEV, FLUX_SCHNELL)) {
            if (mismatch.apply(c) == null) {
                return c;
            }
        }
        throw new IllegalArgumentException(weights + ": no config given, no FLUX config.json beside the weights, and the"
                + " weights match neither the flux-dev nor the flux-schnell preset; the number of heads and the RoPE"
                + " axes cannot be inferred from weights, so pass --config (a BFL or diffusers config JSON)");
    }

    private static boolean isFluxConfig(Path json) {
        try {
            JsonNode root = new ObjectMapper().readTree(Files.readAllBytes(json));
            return root != null && (root.has("hidden_size") || root.has("num_attention_heads")
                    || root.path("config").has("hidden_size"));
        } catch (IOException e) {
            return false;
        }
    }

    public static FluxConfig fromJson(JsonNode n) {
        if (n.has("hidden_size")) {
            return new FluxConfig(integer(n, "in_channels"), integer(n, "out_channels"), integer(n, "vec_in_dim"),
                    integer(n, "context_in_dim"), integer(n, "hidden_size"), number(n, "mlp_ratio"),
                    integer(n, "num_heads"), integer(n, "depth"), integer(n, "depth_single_blocks"),
                    ints(n, "axes_dim"), number(n, "theta"), bool(n, "qkv_bias"), bool(n, "guidance_embed"));
        }
        if (n.has("num_attention_heads")) {
            int heads = integer(n, "num_attention_heads");
            int in = integer(n, "in_channels");
            JsonNode out = n.get("out_channels");
            int outCh = out == null || out.isNull() ? in : out.asInt();
            // diffusers hard-codes theta 10000, mlp_ratio 4 and qkv bias in FluxTransformer2DModel.
            return new FluxConfig(in, outCh, integer(n, "pooled_projection_dim"), integer(n, "joint_attention_dim"),
                    heads * integer(n, "attention_head_dim"), 4.0, heads, integer(n, "num_layers"),
                    integer(n, "num_single_layers"), ints(n, "axes_dims_rope"), 10000, true,
                    bool(n, "guidance_embeds"));
        }
        throw new IllegalArgumentException("config has neither BFL keys (hidden_size, num_heads, ...) nor diffusers keys"
                + " (num_attention_heads, attention_head_dim, ...)");
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FluxConfig c && inChannels == c.inChannels && outChannels == c.outChannels
                && vecInDim == c.vecInDim && contextInDim == c.contextInDim && hiddenSize == c.hiddenSize
                && mlpRatio == c.mlpRatio && numHeads == c.numHeads && depth == c.depth
                && depthSingleBlocks == c.depthSingleBlocks && Arrays.equals(axesDim, c.axesDim) && theta == c.theta
                && qkvBias == c.qkvBias && guidanceEmbed == c.guidanceEmbed;
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(axesDim) + java.util.Objects.hash(inChannels, outChannels, vecInDim, contextInDim,
                hiddenSize, mlpRatio, numHeads, depth, depthSingleBlocks, theta, qkvBias, guidanceEmbed);
    }

    @Override
    public String toString() {
        return "FluxConfig{hidden=" + hiddenSize + ", heads=" + numHeads + ", depth=" + depth + "+" + depthSingleBlocks
                + ", axes=" + Arrays.toString(axesDim) + ", in=" + inChannels + ", out=" + outChannels + ", context="
                + contextInDim + ", vec=" + vecInDim + ", mlp_ratio=" + mlpRatio + ", guidance=" + guidanceEmbed + "}";
    }
}
