package dev.fluxerase.pipeline;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A batch of images to generate, from a CSV file with rows {@code prompt,seed[,name]} (an optional header row naming
 * those columns is skipped). Each image is {@code <out-dir>/<name>.png}; without a name, the row's number, zero-padded
 * ({@code 0001}). {@code index.csv} in the output folder lists name, prompt, seed and file for every image that exists,
 * so a batch that was interrupted can be run again and skips what is done.
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
        String text;
        try {
            text = Files.readString(csv, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new PipelineException(csv + ": cannot read: " + e.getMessage(), e);
        }
        List<Csv.Row> rows = Csv.parse(text, csv.toString());
        if (!rows.isEmpty() && isHeader(rows.getFirst().fields())) {
            rows = rows.subList(1, rows.size());
        }
        if (rows.isEmpty()) {
            throw new PipelineException(csv + ": no rows (expected prompt,seed[,name] per line)");
        }
        int width = Integer.toString(rows.size()).length();
        String numbered = "%0" + Math.max(4, width) + "d";
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
                    : String.format(Locale.ROOT, numbered, i + 1);
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

    private static boolean isHeader(List<String> f) {
        return f.size() >= 2 && f.get(0).strip().equalsIgnoreCase("prompt") && f.get(1).strip().equalsIgnoreCase("seed")
                && (f.size() == 2 || f.get(2).strip().equalsIgnoreCase("name"));
    }

    /** Rewrites {@code index.csv} atomically with the items whose image exists in {@code dir}, in batch order. */
    public static void writeIndex(Path dir, List<Item> items) {
        StringBuilder sb = new StringBuilder(Csv.line(List.of("name", "prompt", "seed", "file")));
        for (Item it : items) {
            if (Files.isRegularFile(dir.resolve(it.file()))) {
                sb.append(Csv.line(List.of(it.name(), it.prompt(), Long.toString(it.seed()), it.file())));
            }
        }
        Path target = dir.resolve(INDEX);
        Path tmp = dir.resolve(INDEX + ".tmp");
        try {
            Files.writeString(tmp, sb, StandardCharsets.UTF_8);
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new PipelineException(target + ": cannot write: " + e.getMessage(), e);
        }
    }
}
