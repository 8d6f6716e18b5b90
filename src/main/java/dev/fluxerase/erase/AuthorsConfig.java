package dev.fluxerase.erase;

import dev.fluxerase.json.ConfigJson;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The authors' training configuration (tomguluson92/EraseAnything's config.yaml, as published beside their nudity LoRA)
 * read as our run configuration: their keys mapped to ours, in released mode (their code). Keys that decide nothing in
 * their training step are accepted and ignored; a value we cannot honour (another optimizer, a learning-rate schedule,
 * a batch above 1, ...) and a key neither list knows are errors naming the key.
 */
final class AuthorsConfig {
    /** Their key → ours. learning_rate sets both rates: their code has one optimizer at one rate. */
    private static final Map<String, List<String>> MAPPED = Map.ofEntries(
            Map.entry("pretrained_model_name_or_path", List.of("model")),
            Map.entry("instance_data_dir", List.of("instance_images")),
            Map.entry("instance_prompt", List.of("instance_prompt")),
            Map.entry("prompt_b", List.of("prompt_b")),
            Map.entry("key_word", List.of("key_word")),
            Map.entry("output_dir", List.of("output")),
            Map.entry("resolution", List.of("resolution")),
            Map.entry("learning_rate", List.of("lr_erase", "lr_preserve")),
            Map.entry("adam_weight_decay", List.of("weight_decay")),
            Map.entry("max_train_steps", List.of("steps")),
            Map.entry("rank", List.of("rank", "alpha")),
            Map.entry("max_sequence_length", List.of("t5_length")),
            Map.entry("negative_guidance", List.of("eta")),
            Map.entry("guidance_scale", List.of("guidance_train")),
            Map.entry("gradient_checkpointing", List.of("gradient_checkpointing")),
            Map.entry("lamb1", List.of("weight_esd")),
            Map.entry("lamb2", List.of("weight_attn")),
            Map.entry("lamb3", List.of("weight_lora")),
            Map.entry("lamb4", List.of("weight_rsc")));

    /** Keys whose value must be this one (what our trainer does), else the run would not be theirs. */
    private static final Map<String, Object> FIXED = Map.ofEntries(
            Map.entry("train_batch_size", 1),
            Map.entry("gradient_accumulation_steps", 1),
            Map.entry("with_prior_preservation", false),
            Map.entry("use_8bit_adam", false),
            Map.entry("optimizer", "adamw"),
            Map.entry("adam_beta1", 0.9),
            Map.entry("adam_beta2", 0.999),
            Map.entry("adam_epsilon", 1e-8),
            Map.entry("lr_scheduler", "constant"),
            Map.entry("lr_warmup_steps", 0),
            Map.entry("train_text_encoder", false),
            Map.entry("repeats", 1));

    /**
     * Keys that decide nothing in the released training step: logging, data-loader and cache plumbing, the timestep
     * weighting of their unused diffusers template path, prompt_a (never read by the losses), and two keys their file
     * spells with a stray quote ({@code report_to"}, {@code gradient_accumulation_steps"}).
     */
    private static final Set<String> IGNORED = Set.of("prompt_a", "cache_latents",
            "dataloader_num_workers", "report_to", "report_to\"", "gradient_accumulation_steps\"", "lr_num_cycles",
            "lr_power", "checkpointing_steps", "logit_mean", "logit_std", "mode_scale", "weighting_scheme",
            "num_train_epochs", "logging_dir", "revision", "variant", "lora_layers", "devices");

    private AuthorsConfig() {
    }

    /** Whether a configuration file uses the authors' keys rather than ours. */
    static boolean looksLikeTheirs(JsonNode n) {
        return n.has("lamb1") || n.has("max_train_steps") || n.has("pretrained_model_name_or_path")
                || n.has("instance_data_dir");
    }

    /**
     * Their mixed_precision as our lora_dtype: bf16 casts the transformer to bf16 before the adapter is added, so the
     * LoRA and AdamW's moments are bf16; fp16 casts the LoRA back to f32 (cast_training_params); "no" and null keep
     * everything f32.
     */
    private static String loraDtype(Path file, JsonNode v) {
        String p = v.isNull() ? "no" : v.asText();
        return switch (p) {
            case "bf16" -> RunConfig.LoraDtype.BF16.id();
            case "fp16", "no" -> RunConfig.LoraDtype.F32.id();
            default -> throw new EraseException(file + ": mixed_precision is " + v + "; their code takes \"no\", "
                    + "\"fp16\" or \"bf16\"");
        };
    }

    /** Their configuration as ours, in released mode. */
    static ObjectNode translate(Path file, JsonNode theirs) {
        ObjectNode ours = JsonNodeFactory.instance.objectNode();
        ours.put("mode", Mode.RELEASED.id());
        for (Iterator<Map.Entry<String, JsonNode>> it = theirs.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = e.getKey();
            JsonNode v = e.getValue();
            if (MAPPED.containsKey(key)) {
                for (String k : MAPPED.get(key)) {
                    ours.set(k, v);
                }
            } else if (FIXED.containsKey(key)) {
                Object want = FIXED.get(key);
                boolean same = want instanceof String w ? v.isTextual() && v.asText().equalsIgnoreCase(w)
                        : want instanceof Boolean b ? v.isBoolean() && v.asBoolean() == b
                        : v.isNumber() && v.asDouble() == ((Number) want).doubleValue();
                if (!same) {
                    throw new EraseException(file + ": " + key + " is " + v + "; flux-erase trains as the released "
                            + "code does with " + key + " = " + want + " and cannot reproduce another value");
                }
            } else if (key.equals("mixed_precision")) {
                ours.put("lora_dtype", loraDtype(file, v));
            } else if (key.equals("center_crop")) {
                if (!v.isBoolean()) {
                    throw new EraseException(file + ": center_crop is " + v + "; it is true or false");
                }
                // false: their dataset crops at random (lora_dataset.py)
                ours.put("crop", (v.asBoolean() ? RunConfig.Crop.CENTER : RunConfig.Crop.RANDOM).id());
            } else if (key.equals("lora_layers") && !v.isNull()) {
                throw new EraseException(file + ": lora_layers is " + v + "; the EraseAnything LoRA sits on "
                        + "attn.add_q_proj and attn.add_k_proj of the double blocks (leave it null)");
            } else if (!IGNORED.contains(key)) {
                throw new EraseException(file + ": unknown key \"" + ConfigJson.printable(key)
                        + "\" for the authors' training configuration "
                        + "(docs/erase.md lists the keys read and ignored)");
            }
        }
        return ours;
    }
}
