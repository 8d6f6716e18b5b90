package dev.fluxerase.erase;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.fluxerase.json.ConfigJson;
import dev.fluxerase.pipeline.Backends;
import dev.fluxerase.pipeline.Generator;
import dev.fluxerase.pipeline.ModelDefaults;
import dev.fluxerase.tensor.DType;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Everything that defines an erasure run (docs/erase.md lists each key with its meaning and default). Read from a JSON
 * object whose keys are the snake_case names below; the command line sets the same keys (its options override the
 * file). Missing keys take their defaults, which for {@code steps}, {@code lr_preserve}, {@code sampler} and
 * {@code lora_dtype} depend on the mode, and for {@code resolution}, {@code t5_length} and {@code sampling_steps} come
 * from the model folder when it sets them ({@link ModelDefaults}); {@link #toJson} spells every value out, so a resumed
 * run uses the same ones.
 * Relative paths are relative to the working directory. Every problem is one line naming the key and its option.
 *
 * @param attentionBlocks double blocks whose attention the attention losses read; null until resolved against the
 *                        model (the last double block by default)
 * @param synonyms        null: chosen from WordNet
 * @param irrelevant      null: chosen from WordNet
 * @param keyWordSense    the WordNet noun sense the irrelevant concepts are chosen from ("nude.n.03"); null: the
 *                        curated family list, else the key word's first noun sense
 * @param wordnet         the WordNet version synonyms and irrelevant concepts come from, one of {@link #WORDNETS}
 * @param crop            where the square is cut from each concept image after the resize
 * @param latents         what x0 is: the VAE posterior's mean, or a draw from it at every use
 * @param validatePrompts null: the instance prompt, a synonym's and an irrelevant concept's ({@link Validation})
 * @param validateSeed    the validation images' noise; {@code seed} unless given
 */
public record RunConfig(String model, String transformer, String vae, String output, String keyWord,
                        String instancePrompt, String promptB, String instanceImages, List<String> synonyms,
                        List<String> irrelevant, String keyWordSense, String wordnet, Preserve preserve,
                        int preserveImages, Mode mode, Sampler sampler, int steps, double lrErase, double lrPreserve,
                        double weightEsd, double weightAttn, double weightLora, double weightRsc, double eta, double tau,
                        int rank, double alpha, LoraDtype loraDtype, double weightDecay, double guidanceSample,
                        double guidanceTrain, int t5Length, int resolution, Crop crop, LatentDraw latents,
                        List<Integer> attentionBlocks, double shuffleP, double synonymP, long seed, int samplingSteps,
                        int checkpointEvery, int saveEvery, String backend, boolean gradientCheckpointing,
                        Activations activations, int validateEvery, List<String> validatePrompts, long validateSeed) {

    public static final double LR_ERASE = 1e-3;
    public static final double WEIGHT_ESD = 1;
    public static final double WEIGHT_ATTN = 0.001;
    public static final double WEIGHT_LORA = 0.1;
    public static final double WEIGHT_RSC = 0.1;
    public static final double ETA = 1;
    public static final double TAU = 0.07;
    public static final int RANK = 8;
    public static final double ALPHA = 8;
    public static final double WEIGHT_DECAY = 1e-5;
    public static final double GUIDANCE_SAMPLE = 3.0;
    public static final double GUIDANCE_TRAIN = 3.5;
    public static final int T5_LENGTH = 256;
    public static final int RESOLUTION = 512;
    public static final double SHUFFLE_P = 0.9;
    public static final double SYNONYM_P = 0.5;
    public static final int SAMPLING_STEPS = 28;
    public static final int CHECKPOINT_EVERY = 10;
    public static final int PRESERVE_IMAGES = 4;
    public static final List<String> WORDNETS = WordNet.VERSIONS;
    /** NLTK's WordNet, which the authors' code reads its synonyms from. */
    public static final String WORDNET = "3.0";
    /** The version every run used before the wordnet key existed: a checkpoint without the key was made with it. */
    public static final String WORDNET_BEFORE_CHOICE = "3.1";

    /**
     * What the preservation steps' flow-matching loss trains on: the concept images with the instance prompt (the
     * released code), or images the frozen model generates for the instance prompt with the key word replaced by each
     * irrelevant concept (the paper's reading, METHOD §7.8).
     */
    public enum Preserve implements Choice {
        CONCEPT, IRRELEVANT
    }

    /**
     * How the ESD latent and the L_rsc features are sampled: FLUX's Euler schedule, or the released code's scheduler as
     * it behaves (random timesteps, the unshifted 1000-entry sigma table, a step index that runs on across the whole
     * run; {@link ReleasedSampler}), which only released mode can use.
     */
    public enum Sampler implements Choice {
        FLUX, RELEASED
    }

    /**
     * What the LoRA factors and their AdamW moments are kept in: f32, or bf16 as in the released code, whose transformer
     * is cast to bf16 before the adapter is added (every update rounded to bf16, as PyTorch's AdamW does on bf16
     * parameters; {@link dev.fluxerase.optim.AdamW}).
     */
    public enum LoraDtype implements Choice {
        F32(DType.F32), BF16(DType.BF16);

        private final DType dtype;

        LoraDtype(DType dtype) {
            this.dtype = dtype;
        }

        public DType dtype() {
            return dtype;
        }
    }

    /**
     * The dtype the transformer keeps its MLP activations in ({@link dev.fluxerase.flux.FluxModel#setMlpActivations}):
     * f32, the reference, or bf16, which halves their memory and feeds the GPU's bf16 GEMMs directly. A resumed run may
     * change it, as it may change the backend: both change how the same steps are computed, within stated bounds.
     */
    public enum Activations implements Choice {
        F32, BF16;

        public DType dtype() {
            return this == F32 ? DType.F32 : DType.BF16;
        }
    }

    /**
     * Where the square comes from after the shorter-side resize. The released code crops at random, once per image
     * when its dataset is built (lora_dataset.py), so either way each image is encoded once per run.
     */
    public enum Crop implements Choice {
        CENTER, RANDOM;

        /** The paper states no crop; the released code's dataset crops at random unless told center_crop. */
        static Crop defaultFor(Mode mode) {
            return mode == Mode.RELEASED ? RANDOM : CENTER;
        }
    }

    /**
     * What x0 is: the mean of the VAE's posterior, or a fresh draw mean + exp(½·logvar)·ε at every use, as the released
     * code's {@code latent_dist.sample()} (utils/calc_loss.py).
     */
    public enum LatentDraw implements Choice {
        MEAN, SAMPLE;

        /** The paper says nothing of the posterior; the released code samples it. */
        static LatentDraw defaultFor(Mode mode) {
            return mode == Mode.RELEASED ? SAMPLE : MEAN;
        }
    }

    /** A setting with a few named values, each named in configurations by its constant in lower case. */
    public interface Choice {
        String name();

        default String id() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Every key of the JSON form, in the order {@link #toJson} writes them. */
    public static final List<String> KEYS = List.of("model", "transformer", "vae", "output", "key_word",
            "instance_prompt", "prompt_b", "instance_images", "synonyms", "irrelevant_concepts", "key_word_sense",
            "wordnet", "preserve", "preserve_images", "mode", "sampler", "steps", "lr_erase", "lr_preserve",
            "weight_esd", "weight_attn", "weight_lora", "weight_rsc", "eta", "tau", "rank", "alpha", "lora_dtype",
            "weight_decay", "guidance_sample", "guidance_train", "t5_length", "resolution", "crop", "latents",
            "attention_blocks", "shuffle_p", "synonym_p", "seed", "sampling_steps", "checkpoint_every", "save_every",
            "backend", "gradient_checkpointing", "activations", "validate_every", "validate_prompts", "validate_seed");

    /**
     * Keys that may differ when a run is resumed: where things are, how they are computed and what is shown along the
     * way (snapshots, validation images), not what is computed.
     * {@code steps} may grow (a finished run can be extended).
     */
    public static final Set<String> RESUMABLE_CHANGES = Set.of("model", "transformer", "vae", "output", "steps",
            "checkpoint_every", "save_every", "backend", "gradient_checkpointing", "activations", "validate_every",
            "validate_prompts", "validate_seed");

    /** Keys whose values are text (or lists of text); every other key holds a number or a boolean. */
    private static final Set<String> TEXT_KEYS = Set.of("model", "transformer", "vae", "output", "key_word",
            "instance_prompt", "prompt_b", "instance_images", "synonyms", "irrelevant_concepts", "key_word_sense",
            "wordnet", "preserve", "crop", "latents", "mode", "sampler", "lora_dtype", "backend", "activations",
            "pretrained_model_name_or_path", "instance_data_dir", "output_dir", "optimizer", "lr_scheduler",
            "mixed_precision", "report_to", "logging_dir", "weighting_scheme", "devices", "prompt_a", "revision",
            "variant", "validate_prompts");
    private static final Pattern NUMBER =
            Pattern.compile("[-+]?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?");

    /**
     * Reads a run configuration file: a JSON object, or the same in YAML (.yaml, .yml), with our keys; or the authors'
     * training configuration (their config.yaml, recognised by its keys), translated by {@link AuthorsConfig} into
     * ours in released mode. Any key may be missing (the command line may add it); an unknown one is an error.
     */
    public static ObjectNode readFile(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new EraseException(file + ": cannot read run configuration: " + e.getMessage());
        }
        return parse(bytes, file, name.endsWith(".yaml") || name.endsWith(".yml"));
    }

    /** The presets (the authors' released runs), by name, as {@code --preset} takes them. */
    public static final List<String> PRESETS = List.of("nudity-released", "explosive-vfx-released",
            "frida-kahlo-released", "hug-released");

    /**
     * A preset's keys: the settings of one of the authors' released runs (their config.yaml values in our keys, in the
     * jar), without the paths, which only the user knows.
     */
    public static ObjectNode preset(String name) {
        if (!PRESETS.contains(name)) {
            throw new EraseException("--preset " + name + ": no such preset (one of " + PRESETS + ")");
        }
        try (java.io.InputStream in = RunConfig.class.getResourceAsStream("presets/" + name + ".yaml")) {
            if (in == null) {
                throw new IllegalStateException("preset " + name + " is missing from the jar");
            }
            return parse(in.readAllBytes(), Path.of("preset " + name), true);
        } catch (IOException e) {
            throw new EraseException("--preset " + name + ": cannot read: " + e.getMessage());
        }
    }

    private static ObjectNode parse(byte[] bytes, Path file, boolean yaml) {
        JsonNode n;
        try {
            n = (yaml ? new ObjectMapper(new YAMLFactory()) : new ObjectMapper()).readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new EraseException(file + ": not valid " + (yaml ? "YAML" : "JSON") + ": "
                    + String.valueOf(e.getOriginalMessage()).replace('\n', ' '));
        } catch (IOException e) {
            throw new EraseException(file + ": cannot read run configuration: " + e.getMessage());
        }
        if (n == null || !n.isObject()) {
            throw new EraseException(file + ": a run configuration is a " + (yaml ? "YAML mapping" : "JSON object")
                    + " {\"key_word\": ..., ...}");
        }
        ObjectNode o = (ObjectNode) n;
        if (yaml) {
            numbers(o);
        }
        if (AuthorsConfig.looksLikeTheirs(o)) {
            return AuthorsConfig.translate(file, o);
        }
        for (Iterator<String> it = o.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!KEYS.contains(k)) {
                throw new EraseException(file + ": unknown key \"" + ConfigJson.printable(k)
                        + "\" (the keys are listed in docs/erase.md)");
            }
        }
        return o;
    }

    /** YAML 1.1 reads 1e-3 (no dot) as text: such values of number keys become numbers. */
    private static void numbers(ObjectNode o) {
        for (Iterator<Map.Entry<String, JsonNode>> it = o.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            if (v.isTextual() && !TEXT_KEYS.contains(e.getKey()) && NUMBER.matcher(v.asText().strip()).matches()) {
                String t = v.asText().strip();
                e.setValue(t.matches("[-+]?\\d+") ? JsonNodeFactory.instance.numberNode(Long.parseLong(t))
                        : JsonNodeFactory.instance.numberNode(Double.parseDouble(t)));
            }
        }
    }

    /** The configuration the keys of {@code n} describe, with the built-in defaults for the missing ones, validated. */
    public static RunConfig of(ObjectNode n) {
        return of(n, ModelDefaults.NONE);
    }

    /**
     * The configuration the keys of {@code n} describe, validated. A missing resolution, t5_length or sampling_steps
     * takes the model folder's default ({@code model}: its resolution, t5_length, steps), else the built-in one; the
     * other missing keys take the built-in defaults.
     */
    public static RunConfig of(ObjectNode n, ModelDefaults model) {
        Fields f = new Fields(n);
        Mode mode = f.choice("mode", Mode.PAPER, "a mode");
        long seed = f.longInteger("seed", 0);
        RunConfig c = new RunConfig(f.string("model", null), f.string("transformer", null), f.string("vae", null),
                f.string("output", null), f.string("key_word", null), f.string("instance_prompt", null),
                f.string("prompt_b", null), f.string("instance_images", null), f.strings("synonyms"),
                f.strings("irrelevant_concepts"), f.string("key_word_sense", null), f.wordnet(),
                f.choice("preserve", Preserve.CONCEPT, "a preservation set"),
                f.integer("preserve_images", PRESERVE_IMAGES), mode,
                f.choice("sampler", mode.defaultSampler(), "a sampler"),
                f.integer("steps", mode.defaultSteps()),
                f.number("lr_erase", LR_ERASE), f.number("lr_preserve", mode.defaultLrPreserve()),
                f.number("weight_esd", WEIGHT_ESD), f.number("weight_attn", WEIGHT_ATTN),
                f.number("weight_lora", WEIGHT_LORA), f.number("weight_rsc", WEIGHT_RSC), f.number("eta", ETA),
                f.number("tau", TAU), f.integer("rank", RANK), f.number("alpha", ALPHA),
                f.choice("lora_dtype", mode.defaultLoraDtype(), "a LoRA dtype"),
                f.number("weight_decay", WEIGHT_DECAY), f.number("guidance_sample", GUIDANCE_SAMPLE),
                f.number("guidance_train", GUIDANCE_TRAIN), f.integer("t5_length", model.t5Length(T5_LENGTH)),
                f.integer("resolution", model.resolution(RESOLUTION)),
                f.choice("crop", Crop.defaultFor(mode), "a crop"),
                f.choice("latents", LatentDraw.defaultFor(mode), "a latent draw"), f.integers("attention_blocks"),
                f.number("shuffle_p", SHUFFLE_P), f.number("synonym_p", SYNONYM_P), seed,
                f.integer("sampling_steps", model.steps(SAMPLING_STEPS)),
                f.integer("checkpoint_every", CHECKPOINT_EVERY), f.integer("save_every", 0),
                f.string("backend", "auto"), f.bool("gradient_checkpointing", false),
                f.choice("activations", Activations.F32, "an activation dtype"), f.integer("validate_every", 0),
                f.strings("validate_prompts"), f.longInteger("validate_seed", seed));
        c.validate();
        return c;
    }

    private void validate() {
        require(model != null && !model.isBlank(), "model", "is required: a FLUX.1 folder or Hugging Face repo id");
        require(output != null && !output.isBlank(), "output", "is required: the folder for the LoRA, the run record"
                + " and checkpoints");
        require(keyWord != null && !keyWord.isBlank(), "key_word", "is required: the concept to erase, e.g. \"nude\"");
        require(instancePrompt != null && !instancePrompt.isBlank(), "instance_prompt",
                "is required: a prompt that contains key_word");
        require(instancePrompt.contains(keyWord), "key_word", "\"" + keyWord + "\" does not occur in instance_prompt \""
                + instancePrompt + "\" (it must appear there literally, same case)");
        require(promptB != null, "prompt_b", "is required: the ESD anchor prompt, e.g. \"A girl with beautiful hair\""
                + " (\"\" is allowed)");
        require(instanceImages != null && !instanceImages.isBlank(), "instance_images",
                "is required: a folder of 3-5 PNG images of the concept");
        requireWords("synonyms", synonyms);
        requireWords("irrelevant_concepts", irrelevant);
        require(keyWordSense == null || irrelevant == null, "key_word_sense", "\"" + keyWordSense + "\" picks the"
                + " sense WordNet chooses irrelevant concepts from, but irrelevant_concepts (--irrelevant-concepts)"
                + " lists them; leave one out");
        require(preserveImages >= 1, "preserve_images", "must be at least 1, got " + preserveImages);
        require(sampler != Sampler.RELEASED || mode == Mode.RELEASED, "sampler", "released needs mode released (paper"
                + " mode's ESD latent is a partial run of FLUX's schedule; use sampler flux)");
        require(steps >= 1, "steps", "must be at least 1, got " + steps);
        requireRange("lr_erase", lrErase, 0, 1);
        requireRange("lr_preserve", lrPreserve, 0, 1);
        for (String k : List.of("weight_esd", "weight_attn", "weight_lora", "weight_rsc")) {
            requireRange(k, switch (k) {
                case "weight_esd" -> weightEsd;
                case "weight_attn" -> weightAttn;
                case "weight_lora" -> weightLora;
                default -> weightRsc;
            }, 0, Double.MAX_VALUE);
        }
        require(weightEsd + weightAttn > 0, "weight_esd", "and weight_attn are both 0: nothing would be erased");
        require(Double.isFinite(eta), "eta", "must be a finite number, got " + eta);
        require(tau > 0 && Double.isFinite(tau), "tau", "must be a positive number, got " + tau);
        require(rank >= 1, "rank", "must be at least 1, got " + rank);
        require(alpha > 0 && Double.isFinite(alpha), "alpha", "must be a positive number, got " + alpha);
        requireRange("weight_decay", weightDecay, 0, 1);
        require(Double.isFinite(guidanceSample), "guidance_sample", "must be a finite number, got " + guidanceSample);
        require(Double.isFinite(guidanceTrain), "guidance_train", "must be a finite number, got " + guidanceTrain);
        require(t5Length >= 2, "t5_length", "must be at least 2 (content plus </s>), got " + t5Length);
        require(resolution >= 1, "resolution", "must be positive, got " + resolution);
        if (attentionBlocks != null) {
            require(!attentionBlocks.isEmpty(), "attention_blocks", "must name at least one double block");
            require(new HashSet<>(attentionBlocks).size() == attentionBlocks.size(), "attention_blocks",
                    "names a block twice: " + attentionBlocks);
            for (int b : attentionBlocks) {
                require(b >= 0, "attention_blocks", "block indices start at 0, got " + b);
            }
        }
        requireRange("shuffle_p", shuffleP, 0, 1);
        requireRange("synonym_p", synonymP, 0, 1);
        require(samplingSteps >= 1, "sampling_steps", "must be at least 1, got " + samplingSteps);
        require(checkpointEvery >= 1, "checkpoint_every", "must be at least 1, got " + checkpointEvery);
        require(saveEvery >= 0, "save_every", "must be 0 (no snapshots) or more, got " + saveEvery);
        require(validateEvery >= 0, "validate_every", "must be 0 (no validation images) or more, got "
                + validateEvery);
        if (validatePrompts != null) {
            require(!validatePrompts.isEmpty(), "validate_prompts", "is empty; leave it out for the default prompts"
                    + " (the instance prompt, a synonym's and an irrelevant concept's)");
            require(validatePrompts.stream().noneMatch(String::isBlank), "validate_prompts",
                    "contains an empty prompt: " + validatePrompts);
        }
        List<String> backends = Backends.NAMES;
        require(backends.contains(backend), "backend", "\"" + backend + "\" is not a backend ("
                + String.join(", ", backends.subList(0, backends.size() - 1)) + " or " + backends.getLast() + ")");
    }

    private static void requireWords(String key, List<String> words) {
        if (words != null) {
            require(!words.isEmpty(), key, "is empty; leave it out to choose from WordNet");
            for (String w : words) {
                require(!w.isBlank(), key, "contains an empty word");
            }
            require(new LinkedHashSet<>(words).size() == words.size(), key, "lists a word twice: " + words);
        }
    }

    private static void requireRange(String key, double v, double lo, double hi) {
        require(v >= lo && v <= hi, key, "must lie in [" + fmt(lo) + ", " + fmt(hi) + "], got " + fmt(v));
    }

    private static String fmt(double v) {
        return v == Double.MAX_VALUE ? "inf" : v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v)
                : Double.toString(v);
    }

    static void require(boolean ok, String key, String message) {
        if (!ok) {
            throw new EraseException(describe(key) + " " + message);
        }
    }

    /** {@code key_word (--key-word)}: how a message names a setting, in both its forms. */
    public static String describe(String key) {
        return key + " (" + option(key) + ")";
    }

    /** The command-line option that sets a key. */
    public static String option(String key) {
        return "--" + key.replace('_', '-');
    }

    /** This configuration with the attention blocks resolved (the model's depth is known by then). */
    public RunConfig withAttentionBlocks(List<Integer> blocks) {
        return new RunConfig(model, transformer, vae, output, keyWord, instancePrompt, promptB, instanceImages,
                synonyms, irrelevant, keyWordSense, wordnet, preserve, preserveImages, mode, sampler, steps, lrErase,
                lrPreserve, weightEsd, weightAttn, weightLora, weightRsc, eta, tau, rank, alpha, loraDtype, weightDecay,
                guidanceSample, guidanceTrain, t5Length, resolution, crop, latents, List.copyOf(blocks), shuffleP,
                synonymP, seed, samplingSteps, checkpointEvery, saveEvery, backend, gradientCheckpointing, activations,
                validateEvery, validatePrompts, validateSeed);
    }

    /** Whether preservation steps happen at all (with both of their weights 0 every step is an erasure step). */
    public boolean alternates() {
        return weightLora + weightRsc > 0;
    }

    /**
     * How the run draws its own images (preservation and validation images) through the generate path: square at the
     * training resolution, with the run's sampling steps, T5 length and guidance_train (by default 3.5, generate's).
     */
    public Generator.Settings imageSettings() {
        return new Generator.Settings(resolution, resolution, samplingSteps, guidanceTrain, t5Length);
    }

    /** Every key with its value (defaults spelled out), in {@link #KEYS} order; unset optional values are null. */
    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("model", model);
        o.put("transformer", transformer);
        o.put("vae", vae);
        o.put("output", output);
        o.put("key_word", keyWord);
        o.put("instance_prompt", instancePrompt);
        o.put("prompt_b", promptB);
        o.put("instance_images", instanceImages);
        putStrings(o, "synonyms", synonyms);
        putStrings(o, "irrelevant_concepts", irrelevant);
        o.put("key_word_sense", keyWordSense);
        o.put("wordnet", wordnet);
        o.put("preserve", preserve.id());
        o.put("preserve_images", preserveImages);
        o.put("mode", mode.id());
        o.put("sampler", sampler.id());
        o.put("steps", steps);
        o.put("lr_erase", lrErase);
        o.put("lr_preserve", lrPreserve);
        o.put("weight_esd", weightEsd);
        o.put("weight_attn", weightAttn);
        o.put("weight_lora", weightLora);
        o.put("weight_rsc", weightRsc);
        o.put("eta", eta);
        o.put("tau", tau);
        o.put("rank", rank);
        o.put("alpha", alpha);
        o.put("lora_dtype", loraDtype.id());
        o.put("weight_decay", weightDecay);
        o.put("guidance_sample", guidanceSample);
        o.put("guidance_train", guidanceTrain);
        o.put("t5_length", t5Length);
        o.put("resolution", resolution);
        o.put("crop", crop.id());
        o.put("latents", latents.id());
        if (attentionBlocks == null) {
            o.putNull("attention_blocks");
        } else {
            ArrayNode a = o.putArray("attention_blocks");
            attentionBlocks.forEach(a::add);
        }
        o.put("shuffle_p", shuffleP);
        o.put("synonym_p", synonymP);
        o.put("seed", seed);
        o.put("sampling_steps", samplingSteps);
        o.put("checkpoint_every", checkpointEvery);
        o.put("save_every", saveEvery);
        o.put("backend", backend);
        o.put("gradient_checkpointing", gradientCheckpointing);
        o.put("activations", activations.id());
        o.put("validate_every", validateEvery);
        putStrings(o, "validate_prompts", validatePrompts);
        o.put("validate_seed", validateSeed);
        return o;
    }

    private static void putStrings(ObjectNode o, String key, List<String> values) {
        if (values == null) {
            o.putNull(key);
        } else {
            ArrayNode a = o.putArray(key);
            values.forEach(a::add);
        }
    }

    /** Typed access to the keys of one JSON object, with one-line messages for wrong types. */
    private record Fields(ObjectNode n) {
        private JsonNode get(String key) {
            JsonNode v = n.get(key);
            return v == null || v.isNull() ? null : v;
        }

        private static EraseException wrong(String key, String what, JsonNode v) {
            return new EraseException(describe(key) + " must be " + what + ", got " + v);
        }

        String string(String key, String dflt) {
            JsonNode v = get(key);
            if (v == null) {
                return dflt;
            }
            if (!v.isTextual()) {
                throw wrong(key, "a string", v);
            }
            return v.asText();
        }

        double number(String key, double dflt) {
            JsonNode v = get(key);
            if (v == null) {
                return dflt;
            }
            if (!v.isNumber()) {
                throw wrong(key, "a number", v);
            }
            return v.asDouble();
        }

        long longInteger(String key, long dflt) {
            JsonNode v = get(key);
            if (v == null) {
                return dflt;
            }
            if (!v.isIntegralNumber() || !v.canConvertToLong()) {
                throw wrong(key, "an integer", v);
            }
            return v.asLong();
        }

        int integer(String key, int dflt) {
            long v = longInteger(key, dflt);
            if (v != (int) v) {
                throw wrong(key, "an integer below 2^31", get(key));
            }
            return (int) v;
        }

        boolean bool(String key, boolean dflt) {
            JsonNode v = get(key);
            if (v == null) {
                return dflt;
            }
            if (!v.isBoolean()) {
                throw wrong(key, "true or false", v);
            }
            return v.asBoolean();
        }

        List<String> strings(String key) {
            JsonNode v = get(key);
            if (v == null) {
                return null;
            }
            if (!v.isArray()) {
                throw wrong(key, "a list of strings", v);
            }
            List<String> out = new ArrayList<>();
            for (JsonNode e : v) {
                if (!e.isTextual()) {
                    throw wrong(key, "a list of strings", v);
                }
                out.add(e.asText().strip());
            }
            return List.copyOf(out);
        }

        List<Integer> integers(String key) {
            JsonNode v = get(key);
            if (v == null) {
                return null;
            }
            if (!v.isArray()) {
                throw wrong(key, "a list of block indices", v);
            }
            List<Integer> out = new ArrayList<>();
            for (JsonNode e : v) {
                if (!e.isIntegralNumber() || !e.canConvertToInt()) {
                    throw wrong(key, "a list of block indices", v);
                }
                out.add(e.asInt());
            }
            return List.copyOf(out);
        }

        <E extends Enum<E> & Choice> E choice(String key, E dflt, String what) {
            String id = string(key, dflt.id());
            List<String> ids = new ArrayList<>();
            for (E e : dflt.getDeclaringClass().getEnumConstants()) {
                if (e.id().equals(id)) {
                    return e;
                }
                ids.add(e.id());
            }
            throw new EraseException(describe(key) + " \"" + ConfigJson.printable(id) + "\" is not " + what + " (" + String.join(" or ", ids)
                    + ")");
        }

        /** YAML reads an unquoted 3.0 as a number, which is taken as its text (3.0, 3.1). */
        String wordnet() {
            JsonNode v = get("wordnet");
            String id = v == null ? WORDNET : v.isNumber() ? v.asText() : string("wordnet", WORDNET);
            if (!WORDNETS.contains(id)) {
                throw new EraseException(describe("wordnet") + " \"" + ConfigJson.printable(id) + "\" is not a bundled WordNet version ("
                        + String.join(" or ", WORDNETS) + ")");
            }
            return id;
        }
    }
}
