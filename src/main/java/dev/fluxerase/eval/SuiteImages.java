package dev.fluxerase.eval;

import dev.fluxerase.pipeline.PromptBatch;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The images of a suite in a folder made elsewhere (diffusers, ComfyUI, or another {@code generate}), one per suite
 * row. With an {@code index.csv} in the folder (generate's: name, prompt, seed, file[, settings]), row k's image is
 * the file of the first index row with row k's prompt and seed; without one, row k's image is generate's default name
 * for it, its number from 1 zero-padded to at least four digits ({@code 0001.png}).
 */
public final class SuiteImages {
    private SuiteImages() {
    }

    /** The PNG files directly in {@code dir}, by name; one line naming {@code option} when there are none. */
    public static List<Path> pngs(Path dir, String option) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException(option + " " + dir + ": not a folder");
        }
        List<Path> out;
        try (Stream<Path> s = Files.list(dir)) {
            out = s.filter(p -> p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".png")
                    && Files.isRegularFile(p)).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(option + " " + dir + ": cannot list: " + e.getMessage(), e);
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(option + " " + dir + ": no PNG images in the folder");
        }
        return out;
    }

    /** Row k's image for every row of {@code suite}; one line naming the first row without one and how many lack one. */
    public static List<Path> match(Path dir, List<PromptSuite.Entry> suite, String option) {
        pngs(dir, option);
        Map<String, String> index = new HashMap<>();
        for (PromptBatch.Indexed r : PromptBatch.readIndex(dir).values()) {
            index.putIfAbsent(key(r.prompt(), r.seed()), r.file());
        }
        List<Path> out = new ArrayList<>();
        int missing = 0;
        String first = null;
        for (int k = 0; k < suite.size(); k++) {
            PromptSuite.Entry e = suite.get(k);
            String name = index.isEmpty() ? PromptBatch.numbered(k, suite.size()) + ".png" : index.get(key(e.prompt(), e.seed()));
            Path file = name == null ? null : dir.resolve(name);
            if (file == null || !Files.isRegularFile(file)) {
                missing++;
                if (first == null) {
                    first = "row " + (k + 1) + " (prompt \"" + e.prompt() + "\", seed " + e.seed() + "): "
                            + (index.isEmpty() ? "expected " + name + " (matched by row number, as the folder has no "
                            + PromptBatch.INDEX + ")" : name == null ? PromptBatch.INDEX + " has no row with that "
                            + "prompt and seed" : PromptBatch.INDEX + " names " + name + ", which is missing");
                }
            }
            out.add(file);
        }
        if (missing > 0) {
            throw new IllegalArgumentException(option + " " + dir + ": " + missing + " of " + suite.size() + " suite rows"
                    + " have no image, the first " + first);
        }
        return out;
    }

    private static String key(String prompt, long seed) {
        return seed + "\u0000" + prompt;
    }
}
