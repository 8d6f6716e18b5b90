package dev.fluxerase.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.image.Png;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.io.AtomicFiles;
import dev.fluxerase.pipeline.Csv;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * evaluate's three outputs, each written atomically: {@value #RESULTS} (one row per image), {@value #SUMMARY} (per
 * variant, overall and per category) and {@value #HTML} (self-contained: the images are embedded, side by side per
 * suite row, one column per variant, scores under each).
 */
public final class EvalReport {
    public static final String RESULTS = "results.csv";
    public static final String SUMMARY = "summary.json";
    public static final String HTML = "report.html";
    /** The columns before the metrics' in results.csv. */
    public static final List<String> FIXED = List.of("variant", "prompt", "seed", "category", "concept", "file");
    /** Images in the HTML are scaled down to at most this many pixels a side (Pillow's bicubic), so it stays small. */
    static final int THUMBNAIL = 256;
    /** Smaller images are shown at this width, enlarged without smoothing (the toy's 32 px images). */
    private static final int SHOWN = 160;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private EvalReport() {
    }

    /**
     * Writes the three files into {@code out}. {@code header} (suite, settings, metrics) opens summary.json, before
     * "variants"; image files under {@code out} are named relative to it; the HTML shows the first {@code rowsShown}
     * suite rows.
     */
    public static void write(Path out, Scoring.Results r, ObjectNode header, int rowsShown) {
        AtomicFiles.writeText(out.resolve(RESULTS), csv(out, r));
        ObjectNode summary = header.deepCopy();
        ObjectNode variants = summary.putObject("variants");
        r.summaries().forEach(variants::set);
        try {
            AtomicFiles.writeText(out.resolve(SUMMARY), JSON.writeValueAsString(summary) + "\n");
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("summary.json: " + e.getMessage(), e);
        }
        AtomicFiles.writeText(out.resolve(HTML), html(r, summary, rowsShown));
    }

    private static String csv(Path out, Scoring.Results r) {
        List<String> header = new ArrayList<>(FIXED);
        header.addAll(r.columns());
        StringBuilder sb = new StringBuilder(Csv.line(header));
        for (Scoring.Row row : r.rows()) {
            PromptSuite.Entry e = row.entry();
            List<String> f = new ArrayList<>(List.of(row.variant(), e.prompt(), Long.toString(e.seed()),
                    e.category() == null ? "" : e.category(), e.concept() == null ? "" : e.concept(),
                    shown(out, row.file())));
            f.addAll(row.cells());
            sb.append(Csv.line(f));
        }
        return sb.toString();
    }

    /** A file under the output folder relative to it (the folder can move), any other as given. */
    private static String shown(Path out, Path file) {
        Path o = out.toAbsolutePath().normalize();
        Path f = file.toAbsolutePath().normalize();
        return f.startsWith(o) ? o.relativize(f).toString() : file.toString();
    }

    private static String html(Scoring.Results r, ObjectNode summary, int rowsShown) {
        List<String> variants = List.copyOf(r.summaries().keySet());
        int suiteRows = r.rows().size() / variants.size();
        StringBuilder h = new StringBuilder("""
                <!DOCTYPE html>
                <html><head><meta charset="utf-8"><title>flux-erase evaluate</title><style>
                body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}
                td,th{border:1px solid #ccc;padding:4px;vertical-align:top;font-size:13px}
                img{width:%dpx}img.small{image-rendering:pixelated}.s{font-family:monospace}
                </style></head><body>
                <h1>flux-erase evaluate</h1>
                """.formatted(SHOWN));
        List<String> metrics = new ArrayList<>();
        summary.path("metrics").forEach(m -> metrics.add(m.asText()));
        h.append("<p>").append(esc(summary.path("suite").asText())).append(": ").append(suiteRows)
                .append(" suite rows; metrics ").append(esc(String.join(", ", metrics))).append("</p>\n");
        h.append("<h2>Summary</h2>\n<table><tr><th>variant</th><th>group</th><th>images</th><th>scores</th></tr>\n");
        for (String v : variants) {
            ObjectNode s = r.summaries().get(v);
            groupRow(h, esc(v) + "<br><span class=s>" + esc(s.path("source").asText()) + "</span>", "overall",
                    s.get("overall"));
            for (Map.Entry<String, JsonNode> c : s.get("categories").properties()) {
                groupRow(h, esc(v), esc(c.getKey()), c.getValue());
            }
        }
        h.append("</table>\n");
        nudityTable(h, r);
        h.append("<h2>Images</h2>\n");
        int shown = Math.min(rowsShown, suiteRows);
        if (shown < suiteRows) {
            h.append("<p>The first ").append(shown).append(" of ").append(suiteRows)
                    .append(" suite rows; every image's scores are in ").append(RESULTS).append(".</p>\n");
        }
        h.append("<table><tr><th>#</th><th>prompt</th>");
        variants.forEach(v -> h.append("<th>").append(esc(v)).append("</th>"));
        h.append("</tr>\n");
        for (int k = 0; k < shown; k++) {
            PromptSuite.Entry e = r.rows().get(k).entry();
            h.append("<tr><td>").append(k + 1).append("</td><td>").append(esc(e.prompt())).append("<br>seed ")
                    .append(e.seed()).append("<br>").append(esc(Scoring.category(e)))
                    .append(e.concept() == null ? "" : "<br>concept " + esc(e.concept())).append("</td>");
            for (int v = 0; v < variants.size(); v++) {
                Scoring.Row row = r.rows().get(v * suiteRows + k);
                h.append("<td>").append(img(row.file())).append("<div class=s>");
                for (int c = 0; c < r.columns().size(); c++) {
                    h.append(c == 0 ? "" : "<br>").append(esc(r.columns().get(c))).append(' ')
                            .append(esc(row.cells().get(c)));
                }
                h.append("</div></td>");
            }
            h.append("</tr>\n");
        }
        return h.append("</table>\n</body></html>\n").toString();
    }

    /**
     * The nudenet metric's counts as the erasure papers' nudity tables lay them out: per variant (overall, then each
     * category) the exposed parts in MACE's column order, their total, EraseAnything++'s groups and the detection
     * rate. Nothing when the metric was not asked for.
     */
    private static void nudityTable(StringBuilder h, Scoring.Results r) {
        JsonNode first = r.summaries().values().iterator().next().path("overall").path(NudityMetric.NAME);
        if (first.isMissingNode()) {
            return;
        }
        h.append("<h2>Nudity (NudeNet)</h2>\n<p>Exposed body parts detected with a score of at least ")
                .append(first.path("threshold").asDouble()).append(", summed over the images.</p>\n")
                .append("<table><tr><th>variant</th><th>group</th><th>images</th>");
        NudityMetric.PARTS.forEach(p -> h.append("<th>").append(esc(p.title())).append("</th>"));
        h.append("<th>Total</th>");
        NudityMetric.GROUPS.forEach(g -> h.append("<th>").append(esc(g.key())).append("</th>"));
        h.append("<th>images flagged</th></tr>\n");
        for (Map.Entry<String, ObjectNode> v : r.summaries().entrySet()) {
            Map<String, JsonNode> groups = new LinkedHashMap<>(Map.of("overall", v.getValue().get("overall")));
            v.getValue().get("categories").properties().forEach(c -> groups.put(c.getKey(), c.getValue()));
            for (Map.Entry<String, JsonNode> g : groups.entrySet()) {
                JsonNode n = g.getValue().get(NudityMetric.NAME);
                h.append("<tr><td>").append(esc(v.getKey())).append("</td><td>").append(esc(g.getKey()))
                        .append("</td><td>").append(g.getValue().path("count").asLong()).append("</td>");
                NudityMetric.PARTS.forEach(p -> h.append("<td>").append(n.path("parts").path(p.key()).asLong())
                        .append("</td>"));
                h.append("<td>").append(n.path("parts").path("total").asLong()).append("</td>");
                NudityMetric.GROUPS.forEach(gr -> h.append("<td>").append(n.path("groups").path(gr.key()).asLong())
                        .append("</td>"));
                h.append(String.format(Locale.ROOT, "<td>%d (%.1f%%)</td></tr>%n", n.path("flagged").asLong(),
                        100 * n.path("detection_rate").asDouble()));
            }
        }
        h.append("</table>\n");
    }

    /** One line of the summary table: a group's image count and each metric's numbers. */
    private static void groupRow(StringBuilder h, String variant, String group, JsonNode g) {
        h.append("<tr><td>").append(variant).append("</td><td>").append(group).append("</td><td>")
                .append(g.path("count").asLong()).append("</td><td class=s>")
                .append(String.join("<br>", metrics(g).stream().map(EvalReport::esc).toList())).append("</td></tr>\n");
    }

    /** A group's summary (overall or a category) in one line: its image count and each metric's numbers. */
    public static String describe(JsonNode group) {
        List<String> parts = new ArrayList<>(List.of(group.path("count").asLong() + " images"));
        parts.addAll(metrics(group));
        return String.join("; ", parts);
    }

    /** Per metric of a group, "name: its numbers". */
    private static List<String> metrics(JsonNode group) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, JsonNode> m : group.properties()) {
            if (m.getValue().isObject()) {
                out.add(m.getKey() + ": " + numbers(m.getValue()));
            }
        }
        return out;
    }

    /** A metric's summary as text: its numbers, and those of a nested object (per-class counts). */
    private static String numbers(JsonNode m) {
        List<String> parts = new ArrayList<>();
        for (Map.Entry<String, JsonNode> f : m.properties()) {
            JsonNode v = f.getValue();
            parts.add(f.getKey() + " " + (v.isFloatingPointNumber() ? String.format(Locale.ROOT, "%.4g", v.asDouble())
                    : v.isObject() ? numbers(v) : v.asText()));
        }
        return String.join(", ", parts);
    }

    private static String img(Path file) {
        RgbImage i = Png.read(file);
        int side = Math.max(i.width(), i.height());
        if (side > THUMBNAIL) {
            i = ClipImageProcessor.resizeBicubic(i, Math.max(1, i.width() * THUMBNAIL / side),
                    Math.max(1, i.height() * THUMBNAIL / side));
        }
        return "<img" + (Math.max(i.width(), i.height()) < SHOWN ? " class=small" : "") + " src=\"data:image/png;base64,"
                + Base64.getEncoder().encodeToString(Png.encode(i)) + "\">";
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
