package dev.fluxerase.testing;

import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.flux.FluxLayout;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

/**
 * A toy-like FLUX pipeline folder in diffusers layout: pipeline-tiny's text encoders, tokenizers and scheduler (copied),
 * the weightless pixel codec (vae/config.json only: pixel-unshuffle by 2, 12 latent channels) and a random tiny
 * transformer with in_channels 48 that fits those encoders (joint_attention_dim 32, pooled_projection_dim 16).
 */
public final class ToyFolder {
    public static final Path TINY = Resources.path("pipeline-tiny/model");
    public static final String PIXEL_CODEC_CONFIG = """
            {"_class_name": "PixelUnshuffleCodec", "patch_size": 2, "in_channels": 3, "scaling_factor": 1.0,
             "shift_factor": 0.0}
            """;
    /** pipeline-tiny's transformer shape with 48 input channels (4 × 12). */
    public static final String TRANSFORMER_CONFIG = """
            {"_class_name": "FluxTransformer2DModel", "attention_head_dim": 16, "axes_dims_rope": [4, 6, 6],
             "guidance_embeds": true, "in_channels": 48, "joint_attention_dim": 32, "num_attention_heads": 2,
             "num_layers": 2, "num_single_layers": 2, "out_channels": null, "patch_size": 1,
             "pooled_projection_dim": 16}
            """;

    private ToyFolder() {
    }

    /** The folder at {@code dir} with no model defaults. */
    public static Path create(Path dir) {
        return create(dir, null);
    }

    /**
     * The folder at {@code dir}; {@code defaults} (a JSON object's text, or null for none) becomes model_index.json's
     * {@code flux_erase_defaults}.
     */
    public static Path create(Path dir, String defaults) {
        try {
            for (String part : List.of("text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler")) {
                copy(TINY.resolve(part), dir.resolve(part));
            }
            writeDefaults(dir, defaults);
            Files.writeString(Files.createDirectories(dir.resolve("vae")).resolve("config.json"), PIXEL_CODEC_CONFIG);
            Path t = Files.createDirectories(dir.resolve("transformer"));
            Files.writeString(t.resolve("config.json"), TRANSFORMER_CONFIG);
            FluxConfig c = FluxConfig.read(t.resolve("config.json"));
            Random rnd = new Random(48);
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Map.Entry<String, long[]> e : FluxLayout.of(c).fileTensors(FluxLayout.Naming.DIFFUSERS).entrySet()) {
                long[] shape = e.getValue();
                // RMSNorm scales near 1, the rest small: a random model whose activations stay of order one
                boolean norm = e.getKey().contains("norm_q") || e.getKey().contains("norm_k")
                        || e.getKey().contains("norm_added");
                float[] v = RandomData.gaussian(rnd, Tensor.numel(shape), norm ? 0.1 : 0.2);
                if (norm) {
                    for (int i = 0; i < v.length; i++) {
                        v[i] += 1;
                    }
                }
                tensors.put(e.getKey(), Tensor.of(v, shape));
            }
            SafetensorsWriter.write(t.resolve("diffusion_pytorch_model.safetensors"), tensors, Map.of("format", "pt"));
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Rewrites the folder's model_index.json with {@code defaults} as its flux_erase_defaults (null: none). */
    public static void writeDefaults(Path dir, String defaults) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("model_index.json"), "{\"_class_name\": \"FluxPipeline\""
                + (defaults == null ? "" : ", \"flux_erase_defaults\": " + defaults) + "}\n");
    }

    private static void copy(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> s = Files.list(from)) {
            for (Path f : s.toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
    }
}
