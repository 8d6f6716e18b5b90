package dev.fluxerase.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.image.Png;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.pipeline.ProgressBar;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Scores every image of every variant with every metric: per image a row of cells (results.csv), per variant a
 * summary of all its images and of each category (summary.json). Images are read and scored a chunk at a time, so a
 * suite of any size holds one chunk of images in memory; the CLIP metrics share each chunk's forward.
 */
public final class Scoring {
    /** Images scored together: one CLIP forward (and its activations) at a time. */
    static final int CHUNK = 16;
    /** The category key of suite rows that name none. */
    public static final String NO_CATEGORY = "(none)";

    /** One column of the comparison: images made by one model (or found in one folder), image k for suite row k. */
    public record Variant(String name, String source, List<Path> files) {
    }

    /** One image's line of results.csv: its variant, suite row, file and the metrics' cells in column order. */
    public record Row(String variant, PromptSuite.Entry entry, Path file, List<String> cells) {
    }

    /** The rows of every variant in turn, the metrics' columns, and per variant its summary. */
    public record Results(List<String> columns, List<Row> rows, Map<String, ObjectNode> summaries) {
    }

    private Scoring() {
    }

    public static Results run(List<PromptSuite.Entry> suite, List<Variant> variants, List<Metric<?>> metrics) {
        List<String> columns = new ArrayList<>();
        metrics.forEach(m -> columns.addAll(m.columns()));
        List<Row> rows = new ArrayList<>();
        Map<String, ObjectNode> summaries = new LinkedHashMap<>();
        for (Variant v : variants) {
            List<Bound<?>> bound = metrics.stream().<Bound<?>>map(Bound::new).toList();
            List<List<String>> cells = new ArrayList<>();
            ProgressBar bar = ProgressBar.onStderr("scoring " + v.name(), "image");
            for (int from = 0; from < suite.size(); from += CHUNK) {
                int to = Math.min(suite.size(), from + CHUNK);
                List<RgbImage> images = v.files().subList(from, to).stream().map(Png::read).toList();
                List<PromptSuite.Entry> entries = suite.subList(from, to);
                for (int k = from; k < to; k++) {
                    cells.add(new ArrayList<>());
                }
                for (Bound<?> b : bound) {
                    b.score(entries, images, cells.subList(from, to));
                }
                bar.advance(to, suite.size());
            }
            for (int k = 0; k < suite.size(); k++) {
                rows.add(new Row(v.name(), suite.get(k), v.files().get(k), List.copyOf(cells.get(k))));
            }
            summaries.put(v.name(), summary(v, suite, bound));
        }
        return new Results(List.copyOf(columns), rows, summaries);
    }

    /** The category key of a suite row. */
    public static String category(PromptSuite.Entry e) {
        return e.category() == null ? NO_CATEGORY : e.category();
    }

    private static ObjectNode summary(Variant v, List<PromptSuite.Entry> suite, List<Bound<?>> bound) {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("source", v.source());
        ObjectNode overall = n.putObject("overall");
        overall.put("count", suite.size());
        ObjectNode categories = n.putObject("categories");
        Map<String, Integer> counts = new LinkedHashMap<>();
        suite.forEach(e -> counts.merge(category(e), 1, Integer::sum));
        counts.forEach((cat, c) -> categories.putObject(cat).put("count", c));
        for (Bound<?> b : bound) {
            put(overall, b.metric.name(), b.all.summary());
            b.byCategory.forEach((cat, t) -> put((ObjectNode) categories.get(cat), b.metric.name(), t.summary()));
        }
        return n;
    }

    private static void put(ObjectNode into, String key, JsonNode value) {
        if (value != null) {
            into.set(key, value);
        }
    }

    /** A metric with the tallies of one variant: all its images, and per category. */
    private static final class Bound<S> {
        final Metric<S> metric;
        final Metric.Tally<S> all;
        final Map<String, Metric.Tally<S>> byCategory = new LinkedHashMap<>();

        Bound(Metric<S> metric) {
            this.metric = metric;
            this.all = metric.tally(true);
        }

        void score(List<PromptSuite.Entry> entries, List<RgbImage> images, List<List<String>> cells) {
            List<S> scores = metric.score(entries, images);
            for (int k = 0; k < scores.size(); k++) {
                S s = scores.get(k);
                cells.get(k).addAll(metric.cells(s));
                all.add(s);
                byCategory.computeIfAbsent(category(entries.get(k)), c -> metric.tally(false)).add(s);
            }
        }
    }
}
