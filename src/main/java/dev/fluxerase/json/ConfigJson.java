package dev.fluxerase.json;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Required fields of a model's config.json (FLUX transformer, CLIP, T5), checked for type; every failure is one line
 * naming the key.
 */
public final class ConfigJson {
    private ConfigJson() {
    }

    /** The file's top-level JSON object. */
    public static JsonNode read(Path file) {
        JsonNode root;
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read config: " + e.getMessage(), e);
        }
        try {
            root = new ObjectMapper().readTree(bytes);
        } catch (IOException e) {
            // malformed JSON or text (Jackson reports bad encodings as IOExceptions too) is bad input, reported like
            // every other config problem
            String why = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
            throw new IllegalArgumentException(file + ": config is not valid JSON: "
                    + String.valueOf(why).replace('\n', ' '), e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(file + ": config is not a JSON object");
        }
        return root;
    }

    /**
     * A name taken from a user's file (a JSON key) as a message can show it: control characters escaped as JSON writes
     * them, so that a key holding a newline cannot break the one-line error it appears in.
     */
    public static String printable(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (Character.isISOControl(c) || c == '\u2028' || c == '\u2029') {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.toString();
    }

    private static JsonNode field(JsonNode n, String key) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) {
            throw new IllegalArgumentException("config is missing \"" + key + "\"");
        }
        return v;
    }

    public static int integer(JsonNode n, String key) {
        JsonNode v = field(n, key);
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new IllegalArgumentException("config \"" + key + "\" must be an integer, got " + v);
        }
        return v.asInt();
    }

    public static double number(JsonNode n, String key) {
        JsonNode v = field(n, key);
        if (!v.isNumber()) {
            throw new IllegalArgumentException("config \"" + key + "\" must be a number, got " + v);
        }
        return v.asDouble();
    }

    public static String text(JsonNode n, String key) {
        JsonNode v = field(n, key);
        if (!v.isTextual()) {
            throw new IllegalArgumentException("config \"" + key + "\" must be a string, got " + v);
        }
        return v.asText();
    }

    public static boolean bool(JsonNode n, String key) {
        JsonNode v = field(n, key);
        if (!v.isBoolean()) {
            throw new IllegalArgumentException("config \"" + key + "\" must be true or false, got " + v);
        }
        return v.asBoolean();
    }

    public static int[] ints(JsonNode n, String key) {
        JsonNode v = field(n, key);
        if (!v.isArray()) {
            throw new IllegalArgumentException("config \"" + key + "\" must be an array of integers, got " + v);
        }
        int[] out = new int[v.size()];
        for (int i = 0; i < out.length; i++) {
            if (!v.get(i).isIntegralNumber()) {
                throw new IllegalArgumentException("config \"" + key + "\" must be an array of integers, got " + v);
            }
            out[i] = v.get(i).asInt();
        }
        return out;
    }

    /** The string value, or null when the key is absent or null. */
    public static String optionalText(JsonNode n, String key) {
        JsonNode v = n.get(key);
        return v == null || v.isNull() ? null : text(n, key);
    }

    public static void positive(String key, long value) {
        if (value <= 0) {
            throw new IllegalArgumentException("config \"" + key + "\" must be positive, got " + value);
        }
    }
}
