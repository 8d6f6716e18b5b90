package dev.fluxerase.toy;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.eval.PromptSuite;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.pipeline.Generator;
import dev.fluxerase.pipeline.ModelDefaults;
import dev.fluxerase.pipeline.ModelFolder;
import dev.fluxerase.tensor.Backend;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Counts what a model draws: N images of a prompt through the ordinary generate path (batched), each classified by
 * {@link ShapeClassifier} through {@link ShapeMetric}, the scoring {@code evaluate --metrics shape} uses. This is how
 * the paper scores its celebrity experiment, with a classifier that can also say "no recognisable shape", so a blob is
 * not a hit. Sample j of prompt p starts from the noise of seed
 * mix(seed, EVAL, p·2^20 + j), so two models (before and after erasure) are compared on the same noises.
 */
public final class ShapeEval {
    /** How many images one batched transformer call samples at most. */
    private static final int CHUNK = 32;

    /**
     * One prompt's images, the class of each (null: no recognisable shape) and their tally, as {@link ShapeMetric}
     * (evaluate's shape metric) scores them with the prompt's shape as the concept.
     */
    public record Samples(String prompt, Shape expected, List<RgbImage> images, List<Shape> classes,
                          ShapeMetric.Tally tally) {
        /** Fraction of the images classified as {@code expected}. */
        public double rate() {
            return tally.hitRate();
        }

        public long count(Shape s) {
            return tally.count(s);
        }

        /** Per class (and "none") how many images it got. */
        public ObjectNode counts() {
            return tally.counts();
        }
    }

    private ShapeEval() {
    }

    /**
     * How the evaluations sample: the folder's defaults (size, T5 length, steps; the toy's own constants when the
     * folder names none) and generate's default guidance input, 3.5.
     */
    static Generator.Settings settings(ModelFolder m) {
        ModelDefaults d = m.defaults();
        int size = d.resolution(ToyModel.IMAGE_SIZE);
        return new Generator.Settings(size, size, d.steps(ToyModel.SAMPLING_STEPS), 3.5,
                d.t5Length(ToyModel.T5_LENGTH));
    }

    /** {@code samples} images of {@code prompt} (prompt index {@code index} in the seed scheme), classified. */
    public static Samples sample(Generator gen, Generator.Settings settings, String prompt, Shape expected,
                                 int samples, long seed, int index) {
        ShapeMetric metric = new ShapeMetric();
        ShapeMetric.Tally tally = metric.tally(false);
        List<RgbImage> images = new ArrayList<>();
        List<Shape> classes = new ArrayList<>();
        for (int from = 0; from < samples; from += CHUNK) {
            long[] seeds = new long[Math.min(CHUNK, samples - from)];
            List<PromptSuite.Entry> entries = new ArrayList<>();
            for (int j = 0; j < seeds.length; j++) {
                seeds[j] = RandomStreams.mix(seed, RandomStreams.EVAL, ((long) index << 20) + from + j);
                entries.add(new PromptSuite.Entry(prompt, seeds[j], null, expected.word()));
            }
            List<RgbImage> made = gen.generate(prompt, settings, seeds, null).stream().map(Generator.Result::image)
                    .toList();
            for (ShapeMetric.Score s : metric.score(entries, made)) {
                tally.add(s);
                classes.add(s.shape());
            }
            images.addAll(made);
        }
        return new Samples(prompt, expected, images, classes, tally);
    }

    /** Per shape, the samples of its plain prompt "a SHAPE". */
    public record Rates(Map<Shape, Samples> byShape) {
        public String describe() {
            StringBuilder sb = new StringBuilder();
            for (Samples s : byShape.values()) {
                sb.append(sb.isEmpty() ? "" : ", ")
                        .append(String.format(Locale.ROOT, "%s %.2f", s.expected().word(), s.rate()));
            }
            return sb.toString();
        }

        public ObjectNode toJson() {
            ObjectNode n = JsonNodeFactory.instance.objectNode();
            byShape.forEach((shape, s) -> n.put(shape.word(), s.rate()));
            return n;
        }
    }

    /** The learning-curve measure: {@code samples} images of "a SHAPE" for every shape, from the folder's model. */
    public static Rates shapes(Path folder, Backend backend, int samples, long seed) {
        ModelFolder m = ModelFolder.resolve(folder.toString(), null, null);
        Map<Shape, Samples> out = new EnumMap<>(Shape.class);
        try (Generator gen = Generator.open(m, backend, null, List.of())) {
            Generator.Settings s = settings(m);
            int i = 0;
            for (Shape shape : Shape.values()) {
                out.put(shape, sample(gen, s, "a " + shape.word(), shape, samples, seed, i++));
            }
        }
        return new Rates(out);
    }
}
