package dev.fluxerase.toy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.flux.FluxLayout.Naming;
import dev.fluxerase.flux.FluxLayout;
import dev.fluxerase.io.AtomicFiles;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * The toy world's FLUX pipeline folder (diffusers layout): the FLUX transformer with a small config, the frozen random
 * text encoders and their tokenizers ({@link ToyText}), a pixel-space codec instead of a VAE, FLUX.1-dev's scheduler
 * class without shift, and {@code model_index.json} with the defaults the commands use for this folder (32×32 images,
 * T5 length 16, 20 sampling steps).
 *
 * <p>Sizes: the transformer has 2 double and 2 single blocks of width 96 (3 heads of 32), so that a training step of
 * 64 images takes about 0.45 s on two CPU cores and its bf16 weights (about 2 MB) fit the repository; its 64 image
 * tokens are 4×4 pixel patches (the codec's 2×2 pixel-unshuffle, then FLUX's own 2×2 packing: in_channels 48).
 */
public final class ToyModel {
    public static final int IMAGE_SIZE = 32;
    public static final int T5_LENGTH = 16;
    public static final int SAMPLING_STEPS = 20;
    /** Width of both toy text encoders (CLIP hidden size, T5 d_model), hence the transformer's pooled and joint dims. */
    public static final int TEXT_WIDTH = 64;
    public static final long TEXT_SEED = 20261203L;
    public static final FluxConfig TRANSFORMER = new FluxConfig(48, 48, TEXT_WIDTH, TEXT_WIDTH, 96, 4.0, 3, 2, 2,
            new int[]{8, 12, 12}, 10000, true, true);
    static final String WEIGHTS_FILE = "diffusion_pytorch_model.safetensors";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private ToyModel() {
    }

    /**
     * Writes every part of the folder except the transformer's weights: model_index.json, scheduler, the pixel codec's
     * vae/config.json, transformer/config.json and the text encoders with their tokenizers. Deterministic: the same
     * bytes on every run.
     */
    public static void writeFrame(Path folder) {
        try {
            Files.createDirectories(folder);
            for (String sub : new String[]{"transformer", "vae", "scheduler"}) {
                Files.createDirectories(folder.resolve(sub));
            }
            writeJson(folder.resolve("model_index.json"), modelIndex());
            writeJson(folder.resolve("scheduler").resolve("scheduler_config.json"), scheduler());
            writeJson(folder.resolve("vae").resolve("config.json"), codec());
            writeJson(folder.resolve("transformer").resolve("config.json"), transformerConfig());
        } catch (IOException e) {
            throw new UncheckedIOException(folder + ": cannot write the toy model folder: " + e.getMessage(), e);
        }
        ToyText.write(folder, ShapeWorld.lexicon(), T5_LENGTH, TEXT_SEED);
    }

    /**
     * Writes transformer/diffusion_pytorch_model.safetensors in diffusers naming and BF16 (round to nearest even) from
     * the internal parameters' F32 values, atomically.
     */
    public static void writeTransformer(Path folder, Function<String, float[]> values, Map<String, String> metadata) {
        Map<String, Tensor> f32 = FluxLayout.of(TRANSFORMER).toFile(Naming.DIFFUSERS, "", values);
        Map<String, Tensor> bf16 = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : f32.entrySet()) {
            bf16.put(e.getKey(), Floats.toBf16(e.getValue()));
        }
        SafetensorsWriter.write(folder.resolve("transformer").resolve(WEIGHTS_FILE), bf16, metadata);
    }

    private static ObjectNode modelIndex() {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("_class_name", "FluxPipeline");
        n.put("_comment", "flux-erase toy world: see README.md in this folder. vae/ is a pixel-unshuffle codec"
                + " (no weights), which diffusers cannot load.");
        n.putArray("scheduler").add("diffusers").add("FlowMatchEulerDiscreteScheduler");
        n.putArray("text_encoder").add("transformers").add("CLIPTextModel");
        n.putArray("text_encoder_2").add("transformers").add("T5EncoderModel");
        n.putArray("tokenizer").add("transformers").add("CLIPTokenizer");
        n.putArray("tokenizer_2").add("transformers").add("T5TokenizerFast");
        n.putArray("transformer").add("diffusers").add("FluxTransformer2DModel");
        n.putArray("vae").add("flux-erase").add("PixelUnshuffleCodec");
        ObjectNode d = n.putObject("flux_erase_defaults");
        d.put("resolution", IMAGE_SIZE);
        d.put("t5_length", T5_LENGTH);
        d.put("steps", SAMPLING_STEPS);
        return n;
    }

    /** FLUX.1-dev's scheduler class with a constant shift of 1: 64 tokens need no resolution shift. */
    private static ObjectNode scheduler() {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("_class_name", "FlowMatchEulerDiscreteScheduler");
        n.put("num_train_timesteps", 1000);
        n.put("shift", 1.0);
        n.put("use_dynamic_shifting", false);
        n.put("base_shift", 0.5);
        n.put("max_shift", 1.15);
        n.put("base_image_seq_len", 256);
        n.put("max_image_seq_len", 4096);
        return n;
    }

    private static ObjectNode codec() {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("_class_name", "PixelUnshuffleCodec");
        n.put("patch_size", 2);
        n.put("in_channels", 3);
        n.put("scaling_factor", 1.0);
        n.put("shift_factor", 0.0);
        return n;
    }

    private static ObjectNode transformerConfig() {
        FluxConfig c = TRANSFORMER;
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("_class_name", "FluxTransformer2DModel");
        n.put("attention_head_dim", c.headDim());
        var axes = n.putArray("axes_dims_rope");
        for (int a : c.axesDim()) {
            axes.add(a);
        }
        n.put("guidance_embeds", c.guidanceEmbed());
        n.put("in_channels", c.inChannels());
        n.put("joint_attention_dim", c.contextInDim());
        n.put("num_attention_heads", c.numHeads());
        n.put("num_layers", c.depth());
        n.put("num_single_layers", c.depthSingleBlocks());
        n.put("out_channels", c.outChannels());
        n.put("patch_size", 1);
        n.put("pooled_projection_dim", c.vecInDim());
        return n;
    }

    private static void writeJson(Path file, ObjectNode n) throws IOException {
        AtomicFiles.writeText(file, JSON.writeValueAsString(n) + "\n");
    }
}
