package dev.fluxerase.erase;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.lora.LoraModule;
import dev.fluxerase.optim.AdamW;
import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.SafetensorsException;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A resumable training state in one safetensors file, {@code checkpoint.safetensors} in the output folder, rewritten
 * atomically (temp file + rename): per LoRA module A and B and their AdamW moments (host F32 copies, whatever device
 * they were trained on, so any backend resumes them), and in the metadata the next step,
 * AdamW's step count, the run configuration, the chosen words and the per-step history. Randomness needs no state:
 * step s draws from a generator seeded by (seed, s) alone ({@link RunRandom}).
 */
final class Checkpoint {
    static final String FILE = "checkpoint.safetensors";
    static final String FORMAT = "flux-erase-checkpoint-1";

    /**
     * Keys added after checkpoints were first written, with the value that every run before them used, so that such a
     * checkpoint resumes with its old behaviour rather than the mode's current default.
     */
    private static final Map<String, String> LEGACY = Map.of("sampler", "flux", "lora_dtype", "f32", "wordnet",
            RunConfig.WORDNET_BEFORE_CHOICE);

    /** A checkpoint read back: host copies of its tensors by name. */
    record State(Path file, int nextStep, long adamSteps, ObjectNode config, Words words, List<String> images,
                 ArrayNode history, Map<String, float[]> tensors) {

        float[] tensor(String name) {
            float[] t = tensors.get(name);
            if (t == null) {
                throw new EraseException(file + ": tensor " + name + " missing (the checkpoint does not belong to"
                        + " this LoRA layout)");
            }
            return t;
        }
    }

    private Checkpoint() {
    }

    static String name(String module, String what) {
        return module + "." + what;
    }

    /**
     * Writes the state after {@code nextStep} steps, every tensor copied from {@code be}'s device to the host, so that
     * the file is the same whichever backend trained. The optimizer's parameters are the modules' A and B in module
     * order (A before B), as the trainer builds them.
     */
    static void write(Path dir, int nextStep, Backend be, List<LoraModule> modules, AdamW opt, RunConfig config,
                      Words words, List<String> images, ArrayNode history) {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        List<Tensor> m = opt.firstMoments();
        List<Tensor> v = opt.secondMoments();
        int i = 0;
        for (LoraModule mod : modules) {
            for (String f : new String[]{"lora_A", "lora_B"}) {
                tensors.put(name(mod.module(), f), be.toHost(f.equals("lora_A") ? mod.a() : mod.b()));
                tensors.put(name(mod.module(), f + ".adam_m"), be.toHost(m.get(i)));
                tensors.put(name(mod.module(), f + ".adam_v"), be.toHost(v.get(i)));
                i++;
            }
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("next_step", Integer.toString(nextStep));
        meta.put("adam_steps", Long.toString(opt.steps()));
        meta.put("rng", "stateless: step s draws from java.util.Random(SplitMix64(seed " + config.seed()
                + ", stream 1, index s)); the next step is " + nextStep);
        meta.put("config", config.toJson().toString());
        meta.put("words", words.toJson().toString());
        ArrayNode imgs = JsonNodeFactory.instance.arrayNode();
        images.forEach(imgs::add);
        meta.put("images", imgs.toString());
        meta.put("history", history.toString());
        SafetensorsWriter.write(dir.resolve(FILE), tensors, meta);
    }

    static boolean exists(Path dir) {
        return Files.isRegularFile(dir.resolve(FILE));
    }

    /** Reads the checkpoint of an output folder; one line naming the file when it is missing or damaged. */
    static State read(Path dir) {
        Path file = dir.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            throw new EraseException("--resume: no " + FILE + " in " + dir + " (nothing to resume)");
        }
        try (TensorSource src = Safetensors.open(file)) {
            Map<String, String> meta = src.metadata();
            if (!FORMAT.equals(meta.get("format"))) {
                throw new EraseException(file + ": not a flux-erase checkpoint (metadata format is "
                        + meta.get("format") + ", expected " + FORMAT + ")");
            }
            ObjectMapper json = new ObjectMapper();
            JsonNode config = json.readTree(meta("config", meta, file));
            JsonNode history = json.readTree(meta("history", meta, file));
            JsonNode imgs = json.readTree(meta("images", meta, file));
            if (!config.isObject() || !history.isArray() || !imgs.isArray()) {
                throw new EraseException(file + ": damaged metadata (config, images or history)");
            }
            ObjectNode settings = (ObjectNode) config;
            LEGACY.forEach((k, v) -> {
                if (!settings.has(k)) {
                    settings.put(k, v);
                }
            });
            // a checkpoint from before key_word_sense chose its irrelevant concepts from no named sense
            if (!settings.has("key_word_sense")) {
                settings.putNull("key_word_sense");
            }
            // before crop and latents were keys, every run in either mode centre-cropped and trained on the mean
            if (!settings.has("crop")) {
                settings.put("crop", RunConfig.Crop.CENTER.id());
            }
            if (!settings.has("latents")) {
                settings.put("latents", RunConfig.LatentDraw.MEAN.id());
            }
            List<String> images = new ArrayList<>();
            imgs.forEach(n -> images.add(n.asText()));
            Words words = Words.fromJson(json.readTree(meta("words", meta, file)), file.toString());
            Map<String, float[]> tensors = new HashMap<>();
            for (String n : src.names()) {
                tensors.put(n, Floats.toF32(src.tensor(n)));
            }
            int next = Integer.parseInt(meta("next_step", meta, file));
            return new State(file, next, Long.parseLong(meta("adam_steps", meta, file)), settings, words,
                    List.copyOf(images), (ArrayNode) history, tensors);
        } catch (JsonProcessingException | NumberFormatException e) {
            throw new EraseException(file + ": damaged metadata: " + e.getMessage().replace('\n', ' '));
        } catch (SafetensorsException e) {
            throw new EraseException(e.getMessage(), e);
        }
    }

    private static String meta(String key, Map<String, String> meta, Path file) {
        String v = meta.get(key);
        if (v == null) {
            throw new EraseException(file + ": metadata \"" + key + "\" missing");
        }
        return v;
    }

    /**
     * Refuses to resume with settings that change what is computed: every key but {@link RunConfig#RESUMABLE_CHANGES}
     * must equal the checkpoint's, and the run must not be shorter than the checkpoint.
     */
    static void requireCompatible(State s, RunConfig now) {
        ObjectNode then = s.config();
        ObjectNode current = now.toJson();
        for (Iterator<String> it = current.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (RunConfig.RESUMABLE_CHANGES.contains(k)) {
                continue;
            }
            JsonNode a = then.get(k);
            JsonNode b = current.get(k);
            // compared as JSON text: a value read back may be an IntNode where the live one is a LongNode
            if (a == null || !a.toString().equals(b.toString())) {
                throw new EraseException("--resume: " + RunConfig.describe(k) + " is " + b + " but the checkpoint "
                        + s.file() + " was made with " + a + " (resume with the same settings)");
            }
        }
        if (now.steps() < s.nextStep()) {
            throw new EraseException("--resume: " + RunConfig.describe("steps") + " is " + now.steps()
                    + " but the checkpoint " + s.file() + " is already at step " + s.nextStep());
        }
    }

    /** Refuses to resume when the concept images (names and prepared pixels) are not those of the checkpoint. */
    static void requireSameImages(State s, List<String> images) {
        if (!s.images().equals(images)) {
            throw new EraseException("--resume: the concept images are not those the checkpoint " + s.file()
                    + " was made with (it has " + s.images().size() + ": " + names(s.images()) + "; the folder gives "
                    + images.size() + ": " + names(images) + ", or the same names with other pixels)");
        }
    }

    private static String names(List<String> ids) {
        return String.join(", ", ids.stream().map(i -> i.substring(0, i.lastIndexOf(' '))).toList());
    }

    /** The history entries of the steps before the checkpoint, as a new list. */
    static List<JsonNode> history(State s) {
        List<JsonNode> out = new ArrayList<>();
        s.history().forEach(out::add);
        return out;
    }
}
