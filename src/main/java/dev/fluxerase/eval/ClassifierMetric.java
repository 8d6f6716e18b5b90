package dev.fluxerase.eval;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fluxerase.image.RgbImage;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code --metrics classifier}: an ONNX image classifier's top class per image (its label and probability), a hit when
 * that label is the row's concept (any case); per group the hit rate and how many images each label got. With the
 * erased identities as concepts this is the papers' celebrity accuracy (Acc_e; the kept ones give Acc_ir).
 */
public final class ClassifierMetric implements Metric<ClassifierMetric.Score> {
    public static final String NAME = "classifier";

    private final OnnxImageModel classifier;

    /** The top class, its probability, and whether it is the row's concept (null: the row names none). */
    public record Score(int label, float probability, Boolean hit) {
    }

    public ClassifierMetric(OnnxImageModel classifier) {
        this.classifier = classifier;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<String> columns() {
        return List.of("classifier", "classifier_prob", "classifier_hit");
    }

    /** A concept must be one of the classifier's labels, else no image could ever hit it. */
    @Override
    public void check(List<PromptSuite.Entry> suite) {
        for (int i = 0; i < suite.size(); i++) {
            String c = suite.get(i).concept();
            if (c != null && label(c) < 0) {
                throw new IllegalArgumentException("--metrics classifier: suite row " + (i + 1) + " has concept \"" + c
                        + "\", which is not one of the classifier's labels " + classifier.labels());
            }
        }
    }

    private int label(String concept) {
        List<String> labels = classifier.labels();
        for (int i = 0; i < labels.size(); i++) {
            if (labels.get(i).toLowerCase(Locale.ROOT).equals(concept.toLowerCase(Locale.ROOT))) {
                return i;
            }
        }
        return -1;
    }

    @Override
    public List<Score> score(List<PromptSuite.Entry> entries, List<RgbImage> images) {
        List<float[]> probs = classifier.rows(images);
        List<Score> out = new ArrayList<>();
        for (int k = 0; k < images.size(); k++) {
            float[] p = probs.get(k);
            int top = 0;
            for (int i = 1; i < p.length; i++) {
                top = p[i] > p[top] ? i : top;
            }
            String concept = entries.get(k).concept();
            out.add(new Score(top, p[top], concept == null ? null : top == label(concept)));
        }
        return out;
    }

    @Override
    public List<String> cells(Score score) {
        return List.of(classifier.labels().get(score.label()), Float.toString(score.probability()),
                score.hit() == null ? "" : score.hit() ? "1" : "0");
    }

    @Override
    public Tally<Score> tally(boolean wholeVariant) {
        LabelTally t = new LabelTally(classifier.labels(), null);
        return new Tally<>() {
            @Override
            public void add(Score score) {
                t.add(score.label(), score.hit());
            }

            @Override
            public JsonNode summary() {
                return t.summary();
            }
        };
    }
}
