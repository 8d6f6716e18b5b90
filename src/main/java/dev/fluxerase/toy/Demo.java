package dev.fluxerase.toy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.erase.EraseRun;
import dev.fluxerase.image.ImageGrid;
import dev.fluxerase.image.Png;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.io.AtomicFiles;
import dev.fluxerase.pipeline.Generator;
import dev.fluxerase.pipeline.HfCache;
import dev.fluxerase.pipeline.LoraStack;
import dev.fluxerase.pipeline.ModelFolder;
import dev.fluxerase.tensor.Backend;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * The toy world's erasure demo: erase one shape from the toy model with the real EraseAnything trainer, then count
 * with {@link ShapeClassifier} what the model draws before and after, for the erased shape's prompt, its synonyms seen
 * in training, held-out paraphrases and every other shape. Both models sample the same noises.
 *
 * <p>Output folder: {@code concept-images/} (the instance images: the first images of "a SHAPE" from the toy model
 * that the classifier recognises, as the authors generate theirs with FLUX.1-dev), {@code erase/} (the LoRA,
 * run.json, checkpoint), {@code report.json}, {@code grid.png} (one row per prompt: before | after).
 */
public final class Demo {
    static final String REPORT = "report.json";
    static final String GRID = "grid.png";
    private static final int CONCEPT_IMAGES = 4;
    private static final int GRID_SAMPLES = 4;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** What to run. */
    public record Settings(Path model, Shape concept, String mode, int samples, long seed, Path out, int eraseSteps) {
        public Settings {
            if (samples < 1 || eraseSteps < 1) {
                throw new IllegalArgumentException("demo: --samples and --erase-steps must be at least 1, got "
                        + samples + " and " + eraseSteps);
            }
        }
    }

    /** One prompt's rates. kind: erased, synonym, paraphrase or other. */
    public record Row(String prompt, String kind, Shape expected, ShapeEval.Samples before, ShapeEval.Samples after) {
    }

    private Demo() {
    }

    /** The shape a word names (its base word, any case); one line listing the shapes otherwise. */
    public static Shape shape(String word) {
        Shape s = Shape.named(word);
        if (s == null) {
            throw new IllegalArgumentException("--concept " + word + ": not a shape of the toy world (one of "
                    + Shape.words() + ")");
        }
        return s;
    }

    /** The prompts of a demo of {@code concept}, in table order. */
    static List<Row> prompts(Shape concept) {
        List<Row> rows = new ArrayList<>();
        rows.add(new Row("a " + concept.word(), "erased", concept, null, null));
        for (String s : concept.synonyms()) {
            rows.add(new Row("a " + s, "synonym", concept, null, null));
        }
        for (String p : concept.paraphrases()) {
            rows.add(new Row(p, "paraphrase", concept, null, null));
        }
        for (Shape o : Shape.values()) {
            if (o != concept) {
                rows.add(new Row("a " + o.word(), "other", o, null, null));
            }
        }
        return rows;
    }

    public static List<Row> run(Settings s, Backend backend, PrintStream err) {
        prepare(s.out());
        ModelFolder m = ModelFolder.resolve(s.model().toString(), null, null);
        Generator.Settings gs = ShapeEval.settings(m);
        List<Row> rows = prompts(s.concept());
        List<ShapeEval.Samples> before = new ArrayList<>();
        Path images = s.out().resolve("concept-images");
        try (Generator gen = Generator.open(m, backend, null, List.of())) {
            writeConceptImages(gen, gs, s, images);
            for (int i = 0; i < rows.size(); i++) {
                Row r = rows.get(i);
                before.add(progress(err, "before", i, rows.size(),
                        ShapeEval.sample(gen, gs, r.prompt(), r.expected(), s.samples(), s.seed(), i)));
            }
        }
        EraseRun.Result erased = EraseRun.run(eraseConfig(s, images), JsonNodeFactory.instance.objectNode(), false,
                HfCache.cacheDir(System.getenv(), Path.of(System.getProperty("user.home"))), null, err);
        List<Row> out = new ArrayList<>();
        try (Generator gen = Generator.open(m, backend, null, List.of(new LoraStack.Entry(erased.lora(), 1f)))) {
            for (int i = 0; i < rows.size(); i++) {
                Row r = rows.get(i);
                ShapeEval.Samples after = progress(err, "after", i, rows.size(),
                        ShapeEval.sample(gen, gs, r.prompt(), r.expected(), s.samples(), s.seed(), i));
                out.add(new Row(r.prompt(), r.kind(), r.expected(), before.get(i), after));
            }
        }
        writeReport(s, out);
        Png.write(s.out().resolve(GRID), grid(out));
        return out;
    }

    private static ShapeEval.Samples progress(PrintStream err, String phase, int i, int n, ShapeEval.Samples s) {
        err.printf(Locale.ROOT, "%-6s [%d/%d] %s: %d of %d drawn as %s%n", phase, i + 1, n, s.prompt(),
                s.count(s.expected()), s.classes().size(), s.expected().word());
        return s;
    }

    /**
     * The erase run: the concept's word and its training synonyms; every other shape as the irrelevant concepts (the
     * method's count is three, but what the demo must keep is all five: listing only three let erasing the triangle
     * take the star from 0.69 to 0.00 on the first toy model, listing five kept 0.38); and "a shape" as the ESD anchor:
     * like the authors' "A girl with beautiful hair" for "a nude girl with beautiful hair", it is the instance prompt
     * with the concept replaced by what it is a kind of, a prompt the model learned (the data set's generic captions),
     * so the negative guidance removes what makes the concept that shape and not what every shape prompt shares.
     */
    static ObjectNode eraseConfig(Settings s, Path images) {
        Shape c = s.concept();
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("model", s.model().toString());
        n.put("output", s.out().resolve("erase").toString());
        n.put("key_word", c.word());
        n.put("instance_prompt", "a " + c.word());
        n.put("prompt_b", "a " + ShapeWorld.GENERIC);
        n.put("instance_images", images.toString());
        ArrayNode syn = n.putArray("synonyms");
        c.synonyms().forEach(syn::add);
        ArrayNode irr = n.putArray("irrelevant_concepts");
        Shape[] all = Shape.values();
        for (int k = 1; k < all.length; k++) {
            irr.add(all[(c.ordinal() + k) % all.length].word());
        }
        n.put("mode", s.mode());
        n.put("steps", s.eraseSteps());
        n.put("seed", s.seed());
        n.put("checkpoint_every", s.eraseSteps());
        return n;
    }

    /** The first images of "a SHAPE" that the classifier recognises, as the trainer's instance images. */
    private static void writeConceptImages(Generator gen, Generator.Settings gs, Settings s, Path dir) {
        ShapeEval.Samples cand = ShapeEval.sample(gen, gs, "a " + s.concept().word(), s.concept(), 4 * CONCEPT_IMAGES,
                s.seed(), (1 << 10) - 1);
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot create: " + e.getMessage(), e);
        }
        int written = 0;
        for (int j = 0; j < cand.images().size() && written < CONCEPT_IMAGES; j++) {
            if (cand.classes().get(j) == s.concept()) {
                Png.write(dir.resolve(String.format(Locale.ROOT, "concept-%d.png", written++)), cand.images().get(j));
            }
        }
        if (written == 0) {
            throw new IllegalStateException("the model at " + s.model() + " drew no recognisable "
                    + s.concept().word() + " in " + cand.images().size() + " tries: it cannot show erasure (is it the"
                    + " trained toy model?)");
        }
    }

    /**
     * Refuses a folder that holds anything but an earlier demo's output; clears an earlier demo's output (every file
     * in it is made again).
     */
    private static void prepare(Path out) {
        try {
            if (Files.isDirectory(out)) {
                boolean empty;
                try (Stream<Path> s = Files.list(out)) {
                    empty = s.findAny().isEmpty();
                }
                if (!empty && !Files.isRegularFile(out.resolve(REPORT))) {
                    throw new IllegalArgumentException("--out " + out + " is not empty and holds no " + REPORT
                            + " of an earlier demo; choose an empty or new folder");
                }
                try (Stream<Path> s = Files.walk(out)) {
                    for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                        if (!p.equals(out)) {
                            Files.delete(p);
                        }
                    }
                }
            }
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new UncheckedIOException(out + ": " + e.getMessage(), e);
        }
    }

    private static void writeReport(Settings s, List<Row> rows) {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("concept", s.concept().word());
        n.put("mode", s.mode());
        n.put("samples", s.samples());
        n.put("seed", s.seed());
        n.put("erase_steps", s.eraseSteps());
        ArrayNode a = n.putArray("rows");
        for (Row r : rows) {
            ObjectNode o = a.addObject();
            o.put("prompt", r.prompt());
            o.put("kind", r.kind());
            o.put("shape", r.expected().word());
            o.put("before", r.before().rate());
            o.put("after", r.after().rate());
            o.set("before_counts", r.before().counts());
            o.set("after_counts", r.after().counts());
        }
        Path file = s.out().resolve(REPORT);
        try {
            AtomicFiles.writeText(file, JSON.writeValueAsString(n) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot encode the report: " + e.getMessage(), e);
        }
    }

    /** The table printed at the end. */
    public static String table(List<Row> rows) {
        StringBuilder sb = new StringBuilder();
        int w = rows.stream().mapToInt(r -> r.prompt().length()).max().orElse(6) + 2;
        sb.append(String.format(Locale.ROOT, "%-" + w + "s %-11s %-9s %7s %7s%n", "prompt", "kind", "counts as",
                "before", "after"));
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "%-" + w + "s %-11s %-9s %6.0f%% %6.0f%%%n", r.prompt(), r.kind(),
                    r.expected().word(), 100 * r.before().rate(), 100 * r.after().rate()));
        }
        return sb.toString();
    }

    /**
     * One row per prompt: the first samples before erasure, a gap, the same noises after, at their own 32×32 size
     * (kept small: the README shows this file and the repository has a size budget).
     */
    static RgbImage grid(List<Row> rows) {
        int n = Math.min(GRID_SAMPLES, rows.getFirst().before().images().size());
        List<List<RgbImage>> cells = new ArrayList<>();
        for (Row r : rows) {
            List<RgbImage> row = new ArrayList<>(r.before().images().subList(0, n));
            row.addAll(r.after().images().subList(0, n));
            cells.add(row);
        }
        return ImageGrid.of(cells, n, 12);
    }
}
