package dev.fluxerase.eval;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fluxerase.image.RgbImage;

import java.util.List;

/**
 * One score of {@code evaluate}: per image the values of its results.csv columns, and per group of images (a
 * variant's category, or the whole variant) a summary for summary.json. The toy world's shape classifier is one
 * ({@code toy.ShapeMetric}), which is how the demo's table comes from this code too.
 *
 * @param <S> one image's score
 */
public interface Metric<S> {

    /** The name {@code --metrics} takes, and the key of this metric's summary. */
    String name();

    /** The results.csv columns of one image's score; none for a score of a whole set (FID). */
    List<String> columns();

    /**
     * Refuses, in one line and before any image is made, a suite this metric cannot score (a concept it does not
     * know). Entry k is suite row k + 1.
     */
    default void check(List<PromptSuite.Entry> suite) {
    }

    /** Scores image k, made for {@code entries} k. */
    List<S> score(List<PromptSuite.Entry> entries, List<RgbImage> images);

    /** One image's score as the cells of {@link #columns()}. */
    List<String> cells(S score);

    /** A new, empty summary of one group: a category of a variant, or with {@code wholeVariant} all its images. */
    Tally<S> tally(boolean wholeVariant);

    /** What a metric keeps of one group's scores. */
    interface Tally<S> {
        void add(S score);

        /** This metric's entry in the group's summary, or null where it has none (FID per category). */
        JsonNode summary();
    }
}
