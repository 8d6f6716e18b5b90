package dev.fluxerase.pipeline;

import dev.fluxerase.io.AtomicFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A batch of images to generate, from a CSV file with rows {@code prompt,seed[,name]} (an optional header row naming
 * those columns is skipped). Each image is {@code <out-dir>/<name>.png}; without a name, the row's number, zero-padded
 * ({@code 0001}). {@code index.csv} in the output folder lists name, prompt, seed, file and the settings (size, steps,
 * guidance, T5 length, model, LoRAs) of every image written there, by any batch; a row whose image exists with the same
 * prompt, seed and settings is skipped, so a batch that was interrupted can be run again and resumes.
 */
public final class PromptBatch {
    public static final String INDEX = "index.csv";
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");

    /** One image: its name (file stem), prompt and seed, and the CSV line it came from. */
    public record Item(int line, String name, String prompt, long seed) {
        public String file() {
            return name + ".png";
        }
    }

    private PromptBatch() {
    }

    /** Reads and checks the whole file first, so a bad row stops the batch before any work. */
    public static List<Item> read(Path csv) {
        List<Csv.Row> rows = parse(csv);
        if (!rows.isEmpty() && isHeader(rows.getFirst().fields())) {
            rows = rows.subList(1, rows.size());
        }
        if (rows.isEmpty()) {
            throw new PipelineException(csv + ": no rows (expected prompt,seed[,name] per line)");
        }
        List<Item> items = new ArrayList<>();
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < rows.size(); i++) {
            Csv.Row r = rows.get(i);
            List<String> f = r.fields();
            String where = csv + " line " + r.line();
            if (f.size() < 2 || f.size() > 3) {
                throw new PipelineException(where + ": expected prompt,seed[,name], got " + f.size() + " field"
                        + (f.size() == 1 ? "" : "s"));
            }
            if (f.get(0).isBlank()) {
                throw new PipelineException(where + ": empty prompt");
            }
            long seed;
            try {
                seed = Long.parseLong(f.get(1).strip());
            } catch (NumberFormatException e) {
                throw new PipelineException(where + ": seed \"" + f.get(1) + "\" is not an integer");
            }
            String name = f.size() == 3 && !f.get(2).isBlank() ? f.get(2).strip()
                    : numbered(i, rows.size());
            if (!NAME.matcher(name).matches()) {
                throw new PipelineException(where + ": name \"" + name + "\" must be letters, digits, '.', '_' or '-'"
                        + " (it becomes the file name)");
            }
            Integer before = seen.put(name, r.line());
            if (before != null) {
                throw new PipelineException(where + ": name \"" + name + "\" is already used on line " + before);
            }
            items.add(new Item(r.line(), name, f.get(0), seed));
        }
        return items;
    }

    /** The default name of row {@code i} (from 0) of {@code rows}: its number from 1, zero-padded (0001). */
    public static String numbered(int i, int rows) {
        return String.format(Locale.ROOT, "%0" + Math.max(4, Integer.toString(rows).length()) + "d", i + 1);
    }

    private static List<Csv.Row> parse(Path csv) {
        try {
            return Csv.parse(Files.readString(csv, StandardCharsets.UTF_8), csv.toString());
        } catch (IOException e) {
            throw new PipelineException(csv + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static boolean isHeader(List<String> f) {
        return f.size() >= 2 && f.get(0).strip().equalsIgnoreCase("prompt") && f.get(1).strip().equalsIgnoreCase("seed")
                && (f.size() == 2 || f.get(2).strip().equalsIgnoreCase("name"));
    }

    /** One row of {@code index.csv}: an image written to the folder and everything that decided it. */
    public record Indexed(String name, String prompt, long seed, String file, String settings) {
        /** Whether this row describes the image that {@code it} with {@code settings} would make. */
        public boolean makes(Item it, String settings) {
            return prompt.equals(it.prompt()) && seed == it.seed() && this.settings.equals(settings);
        }
    }

    /** The rows of {@code dir}'s index.csv by file name (none when it has no index); one line for a malformed one. */
    public static Map<String, Indexed> readIndex(Path dir) {
        Path file = dir.resolve(INDEX);
        Map<String, Indexed> out = new LinkedHashMap<>();
        if (!Files.isRegularFile(file)) {
            return out;
        }
        List<Csv.Row> rows = parse(file);
        for (Csv.Row r : rows.subList(Math.min(1, rows.size()), rows.size())) {
            List<String> f = r.fields();
            long seed;
            try {
                seed = Long.parseLong(f.size() > 2 ? f.get(2) : "");
            } catch (NumberFormatException e) {
                seed = Long.MIN_VALUE;
            }
            if (f.size() < 4 || seed == Long.MIN_VALUE) {
                throw new PipelineException(file + " line " + r.line() + ": expected name,prompt,seed,file,settings;"
                        + " move the index (and its images) away to start a new batch in this folder");
            }
            out.put(f.get(3), new Indexed(f.get(0), f.get(1), seed, f.get(3), f.size() > 4 ? f.get(4) : ""));
        }
        return out;
    }

    /** Rewrites {@code index.csv} atomically with {@code rows} (every image of the folder, any batch's). */
    public static void writeIndex(Path dir, Collection<Indexed> rows) {
        StringBuilder sb = new StringBuilder(Csv.line(List.of("name", "prompt", "seed", "file", "settings")));
        for (Indexed r : rows) {
            sb.append(Csv.line(List.of(r.name(), r.prompt(), Long.toString(r.seed()), r.file(), r.settings())));
        }
        AtomicFiles.writeText(dir.resolve(INDEX), sb.toString());
    }
}
