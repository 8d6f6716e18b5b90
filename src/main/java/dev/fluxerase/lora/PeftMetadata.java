package dev.fluxerase.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The peft {@code LoraConfig} that diffusers stores as JSON in {@code __metadata__["lora_adapter_metadata"]}, keys prefixed
 * by the component ({@code "transformer.r"}, {@code "transformer.lora_alpha"}, ...; FLUX.md §6.2). Only the entries that
 * decide the scale are read; diffusers passes the dict to {@code LoraConfig(**metadata)}, so absent entries take peft's
 * defaults ({@code lora_alpha} 8).
 */
final class PeftMetadata {
    static final String KEY = "lora_adapter_metadata";
    /** peft's default {@code LoraConfig.lora_alpha}. */
    static final float PEFT_DEFAULT_ALPHA = 8f;

    private final String where;
    private final Integer r;
    private final float loraAlpha;
    private final ObjectNode alphaPattern;
    private final ObjectNode rankPattern;
    private final boolean rslora;

    private PeftMetadata(String where, JsonNode cfg) {
        this.where = where;
        this.r = cfg.has("r") ? intValue(cfg, "r") : null;
        this.loraAlpha = cfg.has("lora_alpha") ? floatValue(cfg.get("lora_alpha"), "lora_alpha") : PEFT_DEFAULT_ALPHA;
        this.alphaPattern = object(cfg, "alpha_pattern");
        this.rankPattern = object(cfg, "rank_pattern");
        this.rslora = cfg.path("use_rslora").asBoolean(false);
        if (cfg.path("use_dora").asBoolean(false)) {
            throw new LoraException(where + ": __metadata__ " + KEY + ": use_dora is set; DoRA adapters are not supported");
        }
    }

    /**
     * The transformer's peft config from the file metadata, or null when there is none. {@code prefixed} tells whether
     * the tensor names carry {@code transformer.}; a bare-model file may carry unprefixed config keys.
     */
    static PeftMetadata of(Map<String, String> metadata, boolean prefixed, String where, List<String> warnings) {
        String json = metadata.get(KEY);
        if (json == null) {
            return null;
        }
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json);
        } catch (IOException e) {
            throw new LoraException(where + ": __metadata__ " + KEY + " is not JSON: " + e.getMessage().lines()
                    .findFirst().orElse(""));
        }
        if (root == null || !root.isObject()) {
            throw new LoraException(where + ": __metadata__ " + KEY + " is not a JSON object");
        }
        ObjectNode cfg = new ObjectMapper().createObjectNode();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().startsWith(LoraReader.TRANSFORMER)) {
                cfg.set(e.getKey().substring(LoraReader.TRANSFORMER.length()), e.getValue());
            }
        }
        if (cfg.isEmpty() && !prefixed) {
            cfg = (ObjectNode) root;
        }
        if (cfg.isEmpty()) {
            warnings.add(where + ": __metadata__ " + KEY + " has no transformer.* entries; alpha = rank (scale 1)");
            return null;
        }
        return new PeftMetadata(where, cfg);
    }

    /** The alpha that gives this module peft's scale: lora_alpha / r, or lora_alpha / √r with rsLoRA. */
    float alpha(String module, int rank) {
        JsonNode p = match(alphaPattern, module, "alpha_pattern");
        float a = p == null ? loraAlpha : floatValue(p, "alpha_pattern");
        return rslora ? (float) (a * Math.sqrt(rank)) : a;
    }

    /** The rank the config declares for this module, or null when it declares none. */
    Integer rank(String module) {
        JsonNode p = match(rankPattern, module, "rank_pattern");
        if (p == null) {
            return r;
        }
        if (!p.isIntegralNumber() || !p.canConvertToInt() || p.asInt() <= 0) {
            throw new LoraException(where + ": __metadata__ " + KEY + ": rank_pattern values must be positive integers, got "
                    + p);
        }
        return p.asInt();
    }

    /**
     * peft's {@code get_pattern_key}: the first pattern key (in order) for which {@code (.*\.)?(key)$} matches the whole
     * module path; the key is a regular expression.
     */
    private JsonNode match(ObjectNode patterns, String module, String what) {
        if (patterns == null) {
            return null;
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = patterns.properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            Pattern p;
            try {
                p = Pattern.compile("(.*\\.)?(" + e.getKey() + ")");
            } catch (PatternSyntaxException ex) {
                throw new LoraException(where + ": __metadata__ " + KEY + ": " + what + " key '" + e.getKey()
                        + "' is not a regular expression");
            }
            if (p.matcher(module).matches()) {
                return e.getValue();
            }
        }
        return null;
    }

    private ObjectNode object(JsonNode cfg, String key) {
        JsonNode v = cfg.get(key);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isObject()) {
            throw new LoraException(where + ": __metadata__ " + KEY + ": " + key + " must be an object, got " + v);
        }
        return (ObjectNode) v;
    }

    private int intValue(JsonNode cfg, String key) {
        JsonNode v = cfg.get(key);
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() <= 0) {
            throw new LoraException(where + ": __metadata__ " + KEY + ": " + key + " must be a positive integer, got " + v);
        }
        return v.asInt();
    }

    private float floatValue(JsonNode v, String key) {
        if (!v.isNumber() || !Float.isFinite(v.floatValue())) {
            throw new LoraException(where + ": __metadata__ " + KEY + ": " + key + " must be a number, got " + v);
        }
        return v.floatValue();
    }
}
