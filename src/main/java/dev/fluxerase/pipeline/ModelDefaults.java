package dev.fluxerase.pipeline;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.json.ConfigJson;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;

/**
 * Settings a model folder suggests for itself, for the options the user leaves out: model_index.json's optional
 * {@code "flux_erase_defaults": {"resolution": 32, "t5_length": 16, "steps": 20}} (any subset). A small model trained at
 * another size than FLUX.1-dev (the toy pipeline) needs them; without the key every command keeps its own defaults.
 * An option given on the command line (or in erase's run configuration) always wins.
 *
 * @param resolution square image size in pixels (generate's width and height, erase's resolution); null: not set
 * @param t5Length   T5 sequence length; null: not set
 * @param steps      sampling steps (generate's steps, erase's sampling_steps); null: not set
 */
public record ModelDefaults(Integer resolution, Integer t5Length, Integer steps) {
    public static final String KEY = "flux_erase_defaults";
    public static final ModelDefaults NONE = new ModelDefaults(null, null, null);
    private static final List<String> KEYS = List.of("resolution", "t5_length", "steps");

    /** The folder's resolution, else {@code builtIn}. */
    public int resolution(int builtIn) {
        return resolution != null ? resolution : builtIn;
    }

    public int t5Length(int builtIn) {
        return t5Length != null ? t5Length : builtIn;
    }

    public int steps(int builtIn) {
        return steps != null ? steps : builtIn;
    }

    /**
     * The defaults of a model_index.json: {@link #NONE} when the file or the key is absent. A wrong type, a value out of
     * range or an unknown key is one line naming the file and the key.
     */
    static ModelDefaults read(Path modelIndex) {
        if (!Files.isRegularFile(modelIndex)) {
            return NONE;
        }
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readAllBytes(modelIndex));
        } catch (JsonProcessingException e) {
            throw new PipelineException(modelIndex + ": not valid JSON: " + e.getOriginalMessage().replace('\n', ' '));
        } catch (IOException e) {
            throw new PipelineException(modelIndex + ": cannot read: " + e.getMessage(), e);
        }
        JsonNode d = root == null ? null : root.get(KEY);
        if (d == null || d.isNull()) {
            return NONE;
        }
        if (!d.isObject()) {
            throw new PipelineException(modelIndex + ": " + KEY + " must be an object such as {\"resolution\": 32,"
                    + " \"t5_length\": 16, \"steps\": 20}, got " + d);
        }
        for (Iterator<String> it = d.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!KEYS.contains(k)) {
                throw new PipelineException(modelIndex + ": " + KEY + "." + ConfigJson.printable(k)
                        + " is not a setting (the settings are "
                        + String.join(", ", KEYS) + ")");
            }
        }
        return new ModelDefaults(integer(modelIndex, d, "resolution", 1), integer(modelIndex, d, "t5_length", 2),
                integer(modelIndex, d, "steps", 1));
    }

    private static Integer integer(Path file, JsonNode d, String key, int min) {
        JsonNode v = d.get(key);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < min) {
            throw new PipelineException(file + ": " + KEY + "." + key + " must be an integer of at least " + min
                    + ", got " + v);
        }
        return v.intValue();
    }

    /** "resolution 32, t5_length 16, steps 20": the keys that are set, for doctor. */
    public String describe() {
        StringBuilder s = new StringBuilder();
        append(s, "resolution", resolution);
        append(s, "t5_length", t5Length);
        append(s, "steps", steps);
        return s.toString();
    }

    private static void append(StringBuilder s, String key, Integer v) {
        if (v != null) {
            s.append(s.isEmpty() ? "" : ", ").append(key).append(' ').append(v);
        }
    }
}
