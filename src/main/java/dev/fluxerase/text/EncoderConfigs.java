package dev.fluxerase.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reading the few fields the encoders need out of a transformers config.json; every failure is one line naming the key. */
final class EncoderConfigs {
    private EncoderConfigs() {
    }

    static JsonNode read(Path file) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read config: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(file + ": config is not a JSON object");
        }
        return root;
    }

    private static JsonNode field(JsonNode n, String key) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) {
            throw new IllegalArgumentException("config is missing \"" + key + "\"");
        }
        return v;
    }

    static int integer(JsonNode n, String key) {
        JsonNode v = field(n, key);
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new IllegalArgumentException("config \"" + key + "\" must be an integer, got " + v);
        }
        return v.asInt();
    }

    static double number(JsonNode n, String key) {
        JsonNode v = field(n, key);
        if (!v.isNumber()) {
            throw new IllegalArgumentException("config \"" + key + "\" must be a number, got " + v);
        }
        return v.asDouble();
    }

    static String text(JsonNode n, String key) {
        JsonNode v = field(n, key);
        if (!v.isTextual()) {
            throw new IllegalArgumentException("config \"" + key + "\" must be a string, got " + v);
        }
        return v.asText();
    }

    /** The string value, or null when the key is absent or null. */
    static String optionalText(JsonNode n, String key) {
        JsonNode v = n.get(key);
        return v == null || v.isNull() ? null : text(n, key);
    }

    static void positive(String key, long value) {
        if (value <= 0) {
            throw new IllegalArgumentException("config \"" + key + "\" must be positive, got " + value);
        }
    }
}
