package dev.fluxerase.text;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fluxerase.json.ConfigJson;
import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

import java.nio.file.Path;

/**
 * A transformers {@code CLIPModel}: the text and image towers and the two bias-free projections into the shared
 * embedding space, {@code text_projection} and {@code visual_projection}, plus {@code logit_scale}. One folder holds
 * {@code config.json} (with {@code text_config}, {@code vision_config} and {@code projection_dim}) and the weights
 * (one {@code *.safetensors} file or an index, F32, BF16 or F16), which stay mapped and are read in place on the CPU
 * and are copied to a device backend. What the towers return comes back as host tensors whatever the backend, so a
 * caller scores embeddings without knowing where they were computed.
 */
public final class ClipModel implements AutoCloseable {

    /** The config's two towers and the embedding width they are projected to. */
    public record Config(ClipTextConfig text, ClipVisionConfig vision, int projectionDim) {
        public static Config read(Path file) {
            JsonNode root = ConfigJson.read(file);
            try {
                return new Config(ClipTextConfig.fromJson(section(root, "text_config")),
                        ClipVisionConfig.fromJson(section(root, "vision_config")),
                        positive(ConfigJson.integer(root, "projection_dim")));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
            }
        }

        private static JsonNode section(JsonNode root, String key) {
            JsonNode n = root.get(key);
            if (n == null || !n.isObject()) {
                throw new IllegalArgumentException("config has no \"" + key + "\" object (a CLIPModel config.json is"
                        + " expected, not a single tower's)");
            }
            return n;
        }

        private static int positive(int v) {
            ConfigJson.positive("projection_dim", v);
            return v;
        }
    }

    /** A tower's outputs and its projected embeddings [B, projection_dim] (not normalised), all host tensors. */
    public record Embeddings<T>(T tower, Tensor embeds) {
    }

    private final Config config;
    private final Backend backend;
    private final TensorSource weights;
    private final EncoderWeights params;
    private final ClipTextModel text;
    private final ClipVisionModel vision;
    private final Tensor textProjection;
    private final Tensor visualProjection;
    private final float logitScale;

    /** Reads {@code config.json} and the weights of a CLIPModel folder (the folder is the model; no subfolders). */
    public static ClipModel load(Path folder, Backend backend) {
        Config config = Config.read(folder.resolve("config.json"));
        TensorSource source = Safetensors.open(folder);
        try {
            return new ClipModel(config, source, backend);
        } catch (RuntimeException e) {
            source.close();
            throw e;
        }
    }

    private ClipModel(Config config, TensorSource weights, Backend backend) {
        this.config = config;
        this.backend = backend;
        this.weights = weights;
        params = new EncoderWeights(weights, backend);
        ClipTextModel t = null;
        ClipVisionModel v = null;
        try {
            t = new ClipTextModel(config.text(), weights, backend);
            v = new ClipVisionModel(config.vision(), weights, backend);
            textProjection = params.get("text_projection.weight", config.projectionDim(), config.text().hiddenSize());
            visualProjection = params.get("visual_projection.weight", config.projectionDim(),
                    config.vision().hiddenSize());
            logitScale = params.scalar("logit_scale");
        } catch (RuntimeException e) {
            params.close();
            if (v != null) {
                v.close();
            }
            if (t != null) {
                t.close();
            }
            throw e;
        }
        text = t;
        vision = v;
    }

    public Config config() {
        return config;
    }

    /** The image side the vision tower takes (the processor's crop size must equal it). */
    public int imageSize() {
        return config.vision().imageSize();
    }

    /** transformers' {@code get_image_features}: visual_projection(post_layernorm(class token)). */
    public Embeddings<ClipVisionModel.Output> encodeImages(Tensor pixelValues) {
        ClipVisionModel.Output out = vision.encode(pixelValues);
        Tensor embeds = project(out.pooled(), visualProjection);
        return new Embeddings<>(new ClipVisionModel.Output(backend.moveToHost(out.lastHiddenState()),
                backend.moveToHost(out.pooled())), backend.moveToHost(embeds));
    }

    /** transformers' {@code get_text_features}: text_projection of the pooled final hidden state. */
    public Embeddings<ClipTextModel.Output> encodeTexts(int[][] ids) {
        ClipTextModel.Output out = text.encode(ids);
        Tensor embeds = project(out.pooled(), textProjection);
        return new Embeddings<>(new ClipTextModel.Output(backend.moveToHost(out.lastHiddenState()),
                backend.moveToHost(out.pooled())), backend.moveToHost(embeds));
    }

    /** The stored logit_scale; CLIP multiplies cosines by its exp (100 for openai's checkpoints). */
    public float logitScale() {
        return logitScale;
    }

    private Tensor project(Tensor pooled, Tensor projection) {
        Tensor out = backend.allocate(DType.F32, pooled.rows(), config.projectionDim());
        EncoderOps.linear(backend, pooled, projection, null, out);
        return out;
    }

    @Override
    public void close() {
        params.close();
        vision.close();
        text.close();
        weights.close();
    }
}
