package dev.fluxerase.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * The metrics computed with one CLIP model: the CLIP score ({@code --metrics clip}) and the features of FID on CLIP
 * ({@code --metrics fid} without {@code --fid-features}): the image tower's projected embeddings, {@code image_embeds}
 * (what {@code get_image_features} returns, not normalised), the same vectors the CLIP score compares with the prompt,
 * so the tower runs once per batch whichever of the two are asked for.
 */
public final class ClipMetrics implements AutoCloseable {
    public static final String CLIP = "clip";

    private final ClipScore clip;
    private List<RgbImage> encodedFor;
    private ClipScore.Images encoded;

    public ClipMetrics(ClipScore clip) {
        this.clip = clip;
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
     * FID's features: the image tower's projected embeddings, {@code image_embeds}, the vectors the CLIP score compares
     * with the prompt, so a batch scored for both is encoded once.
     */
    public ImageFeatures features() {
        return new ImageFeatures() {
            @Override
            public int dims() {
                return clip.model().config().projectionDim();
            }

            @Override
            public String describe() {
                return "CLIP image_embeds, " + dims() + "-d";
            }

            @Override
            public List<float[]> rows(List<RgbImage> images) {
                return ClipMetrics.rows(encode(images).embeddings().embeds());
            }
        };
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
