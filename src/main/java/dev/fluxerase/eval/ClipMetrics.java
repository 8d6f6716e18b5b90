package dev.fluxerase.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.image.Png;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.pipeline.ProgressBar;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The metrics computed with one CLIP model: the CLIP score ({@code --metrics clip}) and FID on CLIP image features
 * ({@code --metrics fid}). FID's features are the image tower's projected embeddings, {@code image_embeds} (what
 * {@code get_image_features} returns, not normalised), the same vectors the CLIP score compares with the prompt, so
 * the tower runs once per batch whichever of the two are asked for.
 */
public final class ClipMetrics implements AutoCloseable {
    public static final String CLIP = "clip";
    public static final String FID = "fid";

    private final ClipScore clip;
    private List<RgbImage> encodedFor;
    private ClipScore.Images encoded;

    public ClipMetrics(ClipScore clip) {
        this.clip = clip;
    }

    /** The width of FID's feature rows: the model's projection_dim (768 for CLIP-L). */
    public int featureDims() {
        return clip.model().config().projectionDim();
    }

    /**
     * The batch's encoding, computed once for the list object that {@link Scoring} hands to each metric in turn (an
     * equal list from elsewhere is encoded again: images are compared by identity, not by their pixels).
     */
    private ClipScore.Images encode(List<RgbImage> images) {
        if (images != encodedFor) {
            encoded = clip.encode(images);
            encodedFor = images;
        }
        return encoded;
    }

    /** Per image s_k = 100·cos(image_embeds, text_embeds) with its prompt; per group the mean and torchmetrics' score. */
    public Metric<Double> score() {
        return new Metric<>() {
            @Override
            public String name() {
                return CLIP;
            }

            @Override
            public List<String> columns() {
                return List.of("clip_score");
            }

            @Override
            public List<Double> score(List<PromptSuite.Entry> entries, List<RgbImage> images) {
                double[] s = clip.score(encode(images), entries.stream().map(PromptSuite.Entry::prompt).toList())
                        .scores();
                List<Double> out = new ArrayList<>();
                for (double v : s) {
                    out.add(v);
                }
                return out;
            }

            @Override
            public List<String> cells(Double score) {
                return List.of(Double.toString(score));
            }

            @Override
            public Tally<Double> tally(boolean wholeVariant) {
                return new Tally<>() {
                    private double sum;
                    private long count;

                    @Override
                    public void add(Double score) {
                        sum += score;
                        count++;
                    }

                    @Override
                    public JsonNode summary() {
                        ObjectNode n = JsonNodeFactory.instance.objectNode();
                        n.put("mean", sum / count);
                        n.put("score", ClipScore.aggregate(sum, count));
                        return n;
                    }
                };
            }
        };
    }

    /**
     * FID of each variant's images against {@code reference} (statistics of the same features), computed once per
     * variant: a category of a few dozen images gives a covariance of that many samples in {@link #featureDims()}
     * dimensions, which says little, at the cost of an eigen-decomposition each.
     */
    public Metric<float[]> fid(FeatureStats reference) {
        if (reference.dims() != featureDims()) {
            throw new IllegalArgumentException("--fid-reference: its statistics have " + reference.dims() + " features, "
                    + "the CLIP model's image_embeds " + featureDims() + " (statistics of another feature extractor?)");
        }
        return new Metric<>() {
            @Override
            public String name() {
                return FID;
            }

            @Override
            public List<String> columns() {
                return List.of();
            }

            @Override
            public List<float[]> score(List<PromptSuite.Entry> entries, List<RgbImage> images) {
                return rows(encode(images).embeddings().embeds());
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
                FeatureAccumulator acc = new FeatureAccumulator(featureDims());
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
                        n.put("features", "CLIP image_embeds, " + featureDims() + "-d");
                        return n;
                    }
                };
            }
        };
    }

    /** The FID statistics of a folder's images (its PNGs, read in name order), with progress on stderr. */
    public FeatureStats statistics(List<Path> images) {
        FeatureAccumulator acc = new FeatureAccumulator(featureDims());
        ProgressBar bar = ProgressBar.onStderr("FID reference", "image");
        for (int from = 0; from < images.size(); from += Scoring.CHUNK) {
            List<RgbImage> chunk = images.subList(from, Math.min(images.size(), from + Scoring.CHUNK)).stream()
                    .map(Png::read).toList();
            rows(encode(chunk).embeddings().embeds()).forEach(acc::add);
            bar.advance(from + chunk.size(), images.size());
        }
        return acc.statistics();
    }

    private static List<float[]> rows(Tensor embeds) {
        float[] all = Floats.toF32(embeds);
        int d = (int) embeds.cols();
        List<float[]> out = new ArrayList<>();
        for (int r = 0; r < all.length / d; r++) {
            float[] row = new float[d];
            System.arraycopy(all, r * d, row, 0, d);
            out.add(row);
        }
        return out;
    }

    @Override
    public void close() {
        clip.close();
    }
}
