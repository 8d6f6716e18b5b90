package dev.fluxerase.vae;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.json.ConfigJson;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * Shape and scaling of a FLUX-layout autoencoder (diffusers {@code AutoencoderKL} without quant convs = BFL
 * {@code AutoEncoder}), in diffusers config.json terms. BFL checkpoints carry no config, so they use {@link #FLUX}.
 */
public record AutoencoderConfig(int inChannels, int outChannels, int latentChannels, int[] blockOutChannels,
                                int layersPerBlock, int normNumGroups, double scalingFactor, double shiftFactor,
                                boolean midBlockAddAttention) {

    /** FLUX.1's VAE (FLUX.md §5.4): 83,819,683 parameters. */
    public static final AutoencoderConfig FLUX =
            new AutoencoderConfig(3, 3, 16, new int[]{128, 256, 512, 512}, 2, 32, 0.3611, 0.1159, true);

    public AutoencoderConfig {
        blockOutChannels = blockOutChannels.clone();
        if (inChannels <= 0 || outChannels <= 0 || latentChannels <= 0 || layersPerBlock <= 0 || normNumGroups <= 0
                || blockOutChannels.length == 0 || Arrays.stream(blockOutChannels).anyMatch(c -> c <= 0)) {
            throw new IllegalArgumentException("autoencoder config has a non-positive size: " + describe(inChannels,
                    outChannels, latentChannels, blockOutChannels, layersPerBlock, normNumGroups));
        }
        for (int c : blockOutChannels) {
            if (c % normNumGroups != 0) {
                throw new IllegalArgumentException("norm_num_groups " + normNumGroups + " does not divide block_out_channels "
                        + Arrays.toString(blockOutChannels));
            }
        }
        if (!(scalingFactor > 0) || !Double.isFinite(shiftFactor)) {
            throw new IllegalArgumentException("scaling_factor " + scalingFactor + " must be positive and shift_factor "
                    + shiftFactor + " finite");
        }
    }

    private static String describe(int in, int out, int latent, int[] blocks, int layers, int groups) {
        return "in_channels=" + in + " out_channels=" + out + " latent_channels=" + latent + " block_out_channels="
                + Arrays.toString(blocks) + " layers_per_block=" + layers + " norm_num_groups=" + groups;
    }

    @Override
    public int[] blockOutChannels() {
        return blockOutChannels.clone();
    }

    public int levels() {
        return blockOutChannels.length;
    }

    /** Channels of level i (0 = full resolution). */
    public int channels(int level) {
        return blockOutChannels[level];
    }

    /** Image pixels per latent pixel along each axis: 2^(levels−1), 8 for FLUX. */
    public int downsampleFactor() {
        return 1 << (blockOutChannels.length - 1);
    }

    /** scaling_factor and shift_factor: how this VAE's latents map to the transformer's space. */
    public LatentScaling scaling() {
        return new LatentScaling(scalingFactor, shiftFactor);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AutoencoderConfig c && inChannels == c.inChannels && outChannels == c.outChannels
                && latentChannels == c.latentChannels && Arrays.equals(blockOutChannels, c.blockOutChannels)
                && layersPerBlock == c.layersPerBlock && normNumGroups == c.normNumGroups
                && Double.compare(scalingFactor, c.scalingFactor) == 0 && Double.compare(shiftFactor, c.shiftFactor) == 0
                && midBlockAddAttention == c.midBlockAddAttention;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(blockOutChannels) * 31 + Double.hashCode(scalingFactor) + latentChannels;
    }

    @Override
    public String toString() {
        return describe(inChannels, outChannels, latentChannels, blockOutChannels, layersPerBlock, normNumGroups)
                + " scaling_factor=" + scalingFactor + " shift_factor=" + shiftFactor + " mid_block_add_attention="
                + midBlockAddAttention;
    }

    /** Reads a diffusers {@code vae/config.json}; every error is one line naming the file. */
    public static AutoencoderConfig read(Path file) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new VaeException(file + ": cannot read VAE config: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (root == null || !root.isObject()) {
            throw new VaeException(file + ": VAE config is not a JSON object");
        }
        try {
            return parse(root);
        } catch (IllegalArgumentException e) {
            throw new VaeException(file + ": " + e.getMessage());
        }
    }

    /** A config.json object; IllegalArgumentException (one line) when it is not FLUX's autoencoder layout. */
    static AutoencoderConfig parse(JsonNode root) {
        String cls = root.path("_class_name").asText("AutoencoderKL");
        if (!cls.equals("AutoencoderKL")) {
            throw new IllegalArgumentException("_class_name is " + ConfigJson.printable(cls) + ", expected AutoencoderKL");
        }
        for (String key : new String[]{"use_quant_conv", "use_post_quant_conv"}) {
            JsonNode v = root.get(key);
            if (v != null && !v.isNull() && (!v.isBoolean() || v.booleanValue())) {
                throw new IllegalArgumentException(key + " is " + v + ": not FLUX's VAE layout (FLUX has no quant convs)");
            }
        }
        String act = root.path("act_fn").asText("silu");
        if (!act.equals("silu")) {
            throw new IllegalArgumentException("act_fn is " + ConfigJson.printable(act) + ", expected silu");
        }
        int[] blocks = intArray(root, "block_out_channels");
        checkBlockTypes(root, "down_block_types", "DownEncoderBlock2D", blocks.length);
        checkBlockTypes(root, "up_block_types", "UpDecoderBlock2D", blocks.length);
        return new AutoencoderConfig(integer(root, "in_channels", 3), integer(root, "out_channels", 3),
                integer(root, "latent_channels", 4), blocks, integer(root, "layers_per_block", 1),
                integer(root, "norm_num_groups", 32), number(root, "scaling_factor", 0.18215),
                number(root, "shift_factor", 0.0), root.path("mid_block_add_attention").asBoolean(true));
    }

    private static void checkBlockTypes(JsonNode root, String key, String expected, int levels) {
        JsonNode types = root.get(key);
        if (types == null || types.isNull()) {
            return;
        }
        if (!types.isArray() || types.size() != levels
                || !IntStream.range(0, levels).allMatch(i -> types.get(i).asText().equals(expected))) {
            throw new IllegalArgumentException(key + " is " + types + ", expected " + levels + " × " + expected
                    + " (one per block_out_channels entry)");
        }
    }

    private static int[] intArray(JsonNode root, String key) {
        JsonNode v = root.get(key);
        if (v == null || !v.isArray() || v.isEmpty()) {
            throw new IllegalArgumentException(key + " must be a non-empty array of integers, found " + v);
        }
        int[] out = new int[v.size()];
        for (int i = 0; i < out.length; i++) {
            if (!v.get(i).canConvertToInt() || !v.get(i).isIntegralNumber()) {
                throw new IllegalArgumentException(key + " must be a non-empty array of integers, found " + v);
            }
            out[i] = v.get(i).intValue();
        }
        return out;
    }

    private static int integer(JsonNode root, String key, int fallback) {
        JsonNode v = root.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new IllegalArgumentException(key + " must be an integer, found " + v);
        }
        return v.intValue();
    }

    private static double number(JsonNode root, String key, double fallback) {
        JsonNode v = root.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isNumber()) {
            throw new IllegalArgumentException(key + " must be a number, found " + v);
        }
        return v.doubleValue();
    }
}
