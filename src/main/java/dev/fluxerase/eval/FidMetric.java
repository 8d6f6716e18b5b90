package dev.fluxerase.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.image.Png;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.pipeline.ProgressBar;

import java.nio.file.Path;
import java.util.List;

/**
 * {@code --metrics fid}: each variant's FID against reference statistics of the same features, computed once per
 * variant: a category of a few dozen images gives a covariance of that many samples in {@link ImageFeatures#dims()}
 * dimensions, which says little, at the cost of an eigen-decomposition each.
 */
public final class FidMetric implements Metric<float[]> {
    public static final String NAME = "fid";

    private final ImageFeatures features;
    private final FeatureStats reference;

    /** {@code option} names where the reference came from, for the message when its width is not the features'. */
    public FidMetric(ImageFeatures features, FeatureStats reference, String option) {
        if (reference.dims() != features.dims()) {
            throw new IllegalArgumentException(option + ": its statistics have " + reference.dims() + " features, not "
                    + "those of " + features.describe() + " (statistics of another feature extractor?)");
        }
        this.features = features;
        this.reference = reference;
    }

    /** The FID statistics of a folder's images (its PNGs, read in name order), with progress on stderr. */
    public static FeatureStats statistics(ImageFeatures features, List<Path> images) {
        FeatureAccumulator acc = new FeatureAccumulator(features.dims());
        ProgressBar bar = ProgressBar.onStderr("FID reference", "image");
        for (int from = 0; from < images.size(); from += Scoring.CHUNK) {
            List<RgbImage> chunk = images.subList(from, Math.min(images.size(), from + Scoring.CHUNK)).stream()
                    .map(Png::read).toList();
            features.rows(chunk).forEach(acc::add);
            bar.advance(from + chunk.size(), images.size());
        }
        return acc.statistics();
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<String> columns() {
        return List.of();
    }

    @Override
    public List<float[]> score(List<PromptSuite.Entry> entries, List<RgbImage> images) {
        return features.rows(images);
    }

    @Override
    public List<String> cells(float[] score) {
        return List.of();
    }

    @Override
    public Tally<float[]> tally(boolean wholeVariant) {
        if (!wholeVariant) {
            return new Tally<>() {
                @Override
                public void add(float[] score) {
                }

                @Override
                public JsonNode summary() {
                    return null;
                }
            };
        }
        FeatureAccumulator acc = new FeatureAccumulator(features.dims());
        return new Tally<>() {
            @Override
            public void add(float[] score) {
                acc.add(score);
            }

            @Override
            public JsonNode summary() {
                ObjectNode n = JsonNodeFactory.instance.objectNode();
                n.put("fid", Fid.distance(acc.statistics(), reference).fid());
                n.put("images", acc.count());
                n.put("reference_images", reference.samples());
                n.put("features", features.describe());
                return n;
            }
        };
    }
}
