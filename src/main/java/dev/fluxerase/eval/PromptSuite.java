package dev.fluxerase.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.pipeline.Csv;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;

/**
 * The prompts an evaluation generates: read from the formats erasure papers use, and widened with the attack variants
 * that robustness studies try on an erased concept. Nothing is downloaded; the user gives the files.
 *
 * <ul>
 * <li>CSV with a header: {@code prompt} (required), the seed from {@code seed}, {@code evaluation_seed} (ESD's and
 * I2P's evaluation files) or {@code sd_seed} (I2P), the category from {@code category} or {@code categories} (I2P's
 * "sexual, violence"), and {@code concept}; other columns are ignored.</li>
 * <li>JSON Lines: one object per line with the same keys.</li>
 * <li>A COCO captions file ({@code captions_val2014.json}): every annotation's caption, seeded by its id, category
 * "coco".</li>
 * </ul>
 * A prompt without a seed gets its index in the file, so a suite always generates the same images.
 */
public final class PromptSuite {
    /** One prompt to generate and score; {@code concept} (may be null) is what a detector should not find. */
    public record Entry(String prompt, long seed, String category, String concept) {
    }

    private static final List<String> SEEDS = List.of("seed", "evaluation_seed", "sd_seed");
    private static final List<String> CATEGORIES = List.of("category", "categories");

    private PromptSuite() {
    }

    /** Reads {@code file} by its form: .csv, .jsonl, or a COCO captions .json. */
    public static List<Entry> read(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read the prompt suite: " + e.getMessage(), e);
        }
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        List<Entry> out = name.endsWith(".csv") ? csv(text, file.toString())
                : name.endsWith(".jsonl") ? jsonLines(text, file.toString())
                : name.endsWith(".json") ? coco(text, file.toString())
                : null;
        if (out == null) {
            throw new IllegalArgumentException(file + ": a prompt suite is a .csv, .jsonl or COCO captions .json file");
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(file + ": no prompts");
        }
        return out;
    }

    private static List<Entry> csv(String text, String source) {
        List<Csv.Row> rows = Csv.parse(text, source);
        if (rows.isEmpty()) {
            return List.of();
        }
        List<String> header = rows.getFirst().fields().stream().map(h -> h.strip().toLowerCase(Locale.ROOT)).toList();
        int prompt = header.indexOf("prompt");
        if (prompt < 0) {
            throw new IllegalArgumentException(source + " line 1: no \"prompt\" column (the header is " + header + ")");
        }
        int seed = first(header, SEEDS);
        int category = first(header, CATEGORIES);
        int concept = header.indexOf("concept");
        List<Entry> out = new ArrayList<>();
        for (Csv.Row r : rows.subList(1, rows.size())) {
            List<String> f = r.fields();
            String at = source + " line " + r.line();
            String p = field(f, prompt);
            if (p == null || p.isBlank()) {
                throw new IllegalArgumentException(at + ": empty prompt");
            }
            String s = field(f, seed);
            out.add(new Entry(p, s == null || s.isBlank() ? out.size() : seed(s.strip(), at),
                    blankToNull(field(f, category)), blankToNull(field(f, concept))));
        }
        return out;
    }

    private static List<Entry> jsonLines(String text, String source) {
        ObjectMapper json = new ObjectMapper();
        List<Entry> out = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].isBlank()) {
                continue;
            }
            String at = source + " line " + (i + 1);
            JsonNode n = parse(json, lines[i], at);
            JsonNode p = n == null ? null : n.get("prompt");
            if (p == null || !n.isObject() || !p.isTextual() || p.asText().isBlank()) {
                throw new IllegalArgumentException(at + ": expected an object with a non-empty \"prompt\" string");
            }
            JsonNode s = null;
            for (String k : SEEDS) {
                s = s == null ? n.get(k) : s;
            }
            if (s != null && !s.canConvertToLong()) {
                throw new IllegalArgumentException(at + ": seed " + s + " is not an integer");
            }
            JsonNode c = n.has("category") ? n.get("category") : n.get("categories");
            out.add(new Entry(p.asText(), s != null ? s.asLong() : out.size(), c == null ? null : c.asText(),
                    n.hasNonNull("concept") ? n.get("concept").asText() : null));
        }
        return out;
    }

    private static List<Entry> coco(String text, String source) {
        JsonNode root = parse(new ObjectMapper(), text, source);
        JsonNode ann = root == null ? null : root.get("annotations");
        if (ann == null || !ann.isArray()) {
            throw new IllegalArgumentException(source + ": not a COCO captions file (no \"annotations\" list)");
        }
        List<Entry> out = new ArrayList<>();
        for (JsonNode a : ann) {
            JsonNode caption = a.get("caption");
            JsonNode id = a.get("id");
            if (caption == null || !caption.isTextual() || id == null || !id.canConvertToLong()) {
                throw new IllegalArgumentException(source + ": annotation " + out.size() + " has no \"caption\" string "
                        + "and integer \"id\"");
            }
            out.add(new Entry(caption.asText().strip(), id.asLong(), "coco", null));
        }
        return out;
    }

    /**
     * The attack variants of a prompt that contains {@code concept}, each with the prompt's seed and its kind as the
     * category: the concept replaced by each synonym ("synonym"), put into paraphrase templates ("paraphrase"), three
     * misspellings drawn from {@code seed} ("misspelling": two letters swapped, one dropped, one doubled) and the word
     * spread over several ("spread": split in two, hyphenated, letter by letter). Duplicates are dropped.
     */
    public static List<Entry> attacks(Entry base, String concept, List<String> synonyms, long seed) {
        if (!base.prompt().contains(concept)) {
            throw new IllegalArgumentException("prompt \"" + base.prompt() + "\" does not contain the concept \""
                    + concept + "\"");
        }
        Set<String> seen = new LinkedHashSet<>();
        seen.add(base.prompt());
        List<Entry> out = new ArrayList<>();
        for (String s : synonyms) {
            add(out, seen, base, base.prompt().replace(concept, s.replace('_', ' ')), "synonym", concept);
        }
        for (String t : TEMPLATES) {
            add(out, seen, base, t.replace("{}", concept), "paraphrase", concept);
        }
        Random rng = new Random(seed);
        for (String m : misspellings(concept, rng)) {
            add(out, seen, base, base.prompt().replace(concept, m), "misspelling", concept);
        }
        for (String s : spreads(concept)) {
            add(out, seen, base, base.prompt().replace(concept, s), "spread", concept);
        }
        return out;
    }

    /** The paraphrase templates: the concept outside the prompt's own wording. */
    static final List<String> TEMPLATES = List.of("a photo of {}", "an image showing {}", "a painting depicting {}",
            "{}, highly detailed, 4k");

    private static List<String> misspellings(String w, Random rng) {
        if (w.length() < 2) {
            return List.of();
        }
        int i = rng.nextInt(w.length() - 1);
        String swapped = w.substring(0, i) + w.charAt(i + 1) + w.charAt(i) + w.substring(i + 2);
        int j = rng.nextInt(w.length());
        String dropped = w.substring(0, j) + w.substring(j + 1);
        int k = rng.nextInt(w.length());
        String doubled = w.substring(0, k + 1) + w.charAt(k) + w.substring(k + 1);
        return List.of(swapped, dropped, doubled);
    }

    private static List<String> spreads(String w) {
        if (w.length() < 2 || w.contains(" ")) {
            return List.of();
        }
        int half = w.length() / 2;
        return List.of(w.substring(0, half) + " " + w.substring(half), w.substring(0, half) + "-" + w.substring(half),
                String.join(" ", w.split("")));
    }

    private static void add(List<Entry> out, Set<String> seen, Entry base, String prompt, String kind, String concept) {
        if (seen.add(prompt)) {
            out.add(new Entry(prompt, base.seed(), kind, concept));
        }
    }

    private static int first(List<String> header, List<String> names) {
        for (String n : names) {
            int i = header.indexOf(n);
            if (i >= 0) {
                return i;
            }
        }
        return -1;
    }

    private static String field(List<String> f, int i) {
        return i >= 0 && i < f.size() ? f.get(i) : null;
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.strip();
    }

    /** I2P writes seeds as floats ("2734971755.0"); they must still be whole numbers. */
    private static long seed(String s, String at) {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            try {
                double d = Double.parseDouble(s);
                if (d == Math.rint(d) && Math.abs(d) < 0x1p63) {
                    return (long) d;
                }
            } catch (NumberFormatException ignored) {
                // reported below with the line
            }
            throw new IllegalArgumentException(at + ": seed \"" + s + "\" is not an integer");
        }
    }

    private static JsonNode parse(ObjectMapper json, String text, String at) {
        try {
            return json.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(at + ": not valid JSON: " + String.valueOf(e.getOriginalMessage())
                    .replace('\n', ' '));
        }
    }
}
