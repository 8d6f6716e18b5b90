package dev.fluxerase.toy;

import dev.fluxerase.eval.LabelTally;
import dev.fluxerase.eval.Metric;
import dev.fluxerase.eval.PromptSuite;
import dev.fluxerase.image.RgbImage;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The toy world's shape classifier as an {@code evaluate} metric ({@code --metrics shape}), and the scoring behind the
 * demo's table: per image the shape {@link ShapeClassifier} recognises (or none), a hit when that is the shape the
 * entry's concept names; per group the hit rate and how many images each class got. It lives here rather than in
 * {@code eval} so that the toy depends on the evaluation code and not the other way round.
 */
public final class ShapeMetric implements Metric<ShapeMetric.Score> {
    public static final String NAME = "shape";

    /** The recognised shape (null: none) and whether it is the entry's concept (null: the entry names none). */
    public record Score(Shape shape, Boolean hit) {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<String> columns() {
        return List.of("shape", "shape_hit");
    }

    /** A concept must be a shape's word; an entry without one is classified but counts towards no hit rate. */
    @Override
    public void check(List<PromptSuite.Entry> suite) {
        for (int i = 0; i < suite.size(); i++) {
            String c = suite.get(i).concept();
            if (c != null && Shape.named(c) == null) {
                throw new IllegalArgumentException("--metrics shape: suite row " + (i + 1) + " has concept \"" + c
                        + "\", which is not a shape of the toy world (one of " + Shape.words() + ")");
            }
        }
    }

    @Override
    public List<Score> score(List<PromptSuite.Entry> entries, List<RgbImage> images) {
        List<Score> out = new ArrayList<>();
        for (int k = 0; k < images.size(); k++) {
            Shape s = ShapeClassifier.classify(images.get(k)).shape();
            String concept = entries.get(k).concept();
            out.add(new Score(s, concept == null ? null : s != null && s == Shape.named(concept)));
        }
        return out;
    }

    @Override
    public List<String> cells(Score score) {
        return List.of(score.shape() == null ? "none" : score.shape().word(),
                score.hit() == null ? "" : score.hit() ? "1" : "0");
    }

    @Override
    public Tally tally(boolean wholeVariant) {
        return new Tally();
    }

    /** Per class (and none) how many images it got, and the hits among the images whose entry names a concept. */
    public static final class Tally extends LabelTally implements Metric.Tally<Score> {
        Tally() {
            super(Arrays.stream(Shape.values()).map(Shape::word).toList(), "none");
        }

        @Override
        public void add(Score score) {
            add(score.shape() == null ? -1 : score.shape().ordinal(), score.hit());
        }

        /** How many images were recognised as {@code s} (null: as no shape). */
        public long count(Shape s) {
            return count(s == null ? -1 : s.ordinal());
        }
    }
}
