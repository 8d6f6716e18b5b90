package dev.fluxerase.eval;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fluxerase.image.RgbImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An ONNX classifier and feature extractor with its JSON beside it, against the eval-tiny goldens (onnxruntime 1.30's
 * logits and softmax of the tiny classifier on the 4 golden images, each preprocessed as CLIP's 32-px processor), the
 * classifier metric, and the one-line refusals.
 */
class OnnxImageModelTest {
    @TempDir
    Path tmp;

    private static final JsonNode GOLDEN = OnnxGoldens.json("classifier-golden.json").get("rows");

    private static float[] golden(int k, String what) {
        float[] v = new float[5];
        for (int i = 0; i < 5; i++) {
            v[i] = (float) GOLDEN.get(k).get(what).get(i).asDouble();
        }
        return v;
    }

    /** Logits within 1e-5 (the golden's tolerance) as a feature extractor's rows, probabilities within 1e-6. */
    @Test
    void logitsAndProbabilitiesMatchOnnxRuntime() {
        List<RgbImage> images = ClipGoldens.images();
        try (OnnxImageModel features = OnnxImageModel.open(OnnxGoldens.classifier(), "--fid-features", false);
             OnnxImageModel classifier = OnnxImageModel.open(OnnxGoldens.classifier(), "--classifier", true)) {
            assertEquals(5, features.dims());
            assertEquals("classifier.onnx output 'logits', 5-d", features.describe());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new FidMetric(features,
                    new FeatureStats(new double[3], new double[9], 2), "--fid-reference r.safetensors"));
            assertEquals("--fid-reference r.safetensors: its statistics have 3 features, not those of classifier.onnx "
                    + "output 'logits', 5-d (statistics of another feature extractor?)", e.getMessage());
            List<float[]> logits = features.rows(images);
            List<float[]> probs = classifier.rows(images);
            for (int k = 0; k < 4; k++) {
                ClipGoldens.assertClose("logits " + k, logits.get(k), golden(k, "logits"), 1e-5, 0);
                ClipGoldens.assertClose("probs " + k, probs.get(k), golden(k, "probs"), 1e-6, 0);
                ClipGoldens.assertClose("softmax " + k, OnnxImageModel.softmax(golden(k, "logits")),
                        golden(k, "probs"), 1e-7, 0);
            }
        }
    }

    /** The top class per image is the golden's argmax; a hit when it is the row's concept, in any case. */
    @Test
    void theClassifierMetricScoresTheTopClassAgainstTheConcept() {
        try (OnnxImageModel classifier = OnnxImageModel.open(OnnxGoldens.classifier(), "--classifier", true)) {
            ClassifierMetric m = new ClassifierMetric(classifier);
            List<String> labels = classifier.labels();
            List<PromptSuite.Entry> entries = List.of(new PromptSuite.Entry("a", 0, "x", labels.get(GOLDEN.get(0)
                    .get("argmax").asInt()).toUpperCase()), new PromptSuite.Entry("b", 0, "x", "circle"),
                    new PromptSuite.Entry("c", 0, "y", null), new PromptSuite.Entry("d", 0, "y", "ring"));
            List<ClassifierMetric.Score> scores = m.score(entries, ClipGoldens.images());
            for (int k = 0; k < 4; k++) {
                int top = GOLDEN.get(k).get("argmax").asInt();
                assertEquals(top, scores.get(k).label(), "image " + k);
                assertEquals(golden(k, "probs")[top], scores.get(k).probability(), 1e-6);
            }
            assertEquals(List.of(labels.get(scores.getFirst().label()), Float.toString(scores.getFirst()
                    .probability()), "1"), m.cells(scores.getFirst()));
            assertEquals("", m.cells(scores.get(2)).get(2));
            Metric.Tally<ClassifierMetric.Score> t = m.tally(true);
            scores.forEach(t::add);
            long hits = 1 + (scores.get(1).label() == 0 ? 1 : 0) + (scores.get(3).label() == 4 ? 1 : 0);
            assertEquals(hits, t.summary().get("hits").asLong());
            assertEquals(hits / 3.0, t.summary().get("hit_rate").asDouble());
            assertEquals(4, t.summary().get("counts").properties().stream().mapToLong(e -> e.getValue().asLong())
                    .sum());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.check(List.of(
                    entries.getFirst(), new PromptSuite.Entry("n", 0, null, "nudity"))));
            assertEquals("--metrics classifier: suite row 2 has concept \"nudity\", which is not one of the "
                    + "classifier's labels [circle, square, triangle, star, ring]", e.getMessage());
        }
    }

    /** The model beside a JSON written here; returns the model's path. */
    private Path model(String json) throws Exception {
        Path onnx = Files.copy(OnnxGoldens.classifier(), tmp.resolve("m.onnx"));
        if (json != null) {
            Files.writeString(tmp.resolve("m.json"), json);
        }
        return onnx;
    }

    private String refusal(Path onnx, boolean classifier) {
        return assertThrows(IllegalArgumentException.class, () -> OnnxImageModel.open(onnx, "--classifier",
                classifier)).getMessage();
    }

    @Test
    void aMissingJsonIsOneLine() throws Exception {
        Path onnx = model(null);
        assertEquals("--classifier " + onnx + ": no m.json beside it (the model's \"preprocessing\" and \"labels\", "
                + "docs/evaluate.md)", refusal(onnx, true));
    }

    @Test
    void aPreprocessingOfAnotherSizeNamesTheInputAndBothShapes() throws Exception {
        Path onnx = model("{\"labels\": [\"a\", \"b\", \"c\", \"d\", \"e\"], \"preprocessing\": {\"size\": 224, "
                + "\"crop_size\": 224}}");
        assertEquals("--classifier " + onnx + ": input 'pixel_values' expects [?, 3, 32, 32], the preprocessing in "
                + "m.json gives [1, 3, 224, 224]", refusal(onnx, true));
    }

    @Test
    void labelsThatAreNotOnePerOutputAreRefused() throws Exception {
        Path onnx = model("{\"labels\": [\"a\", \"b\"], \"preprocessing\": {\"size\": 32, \"crop_size\": 32}}");
        assertEquals("--classifier " + onnx + ": output 'logits' gives 5 values per image, m.json lists 2 labels",
                refusal(onnx, true));
        Files.writeString(tmp.resolve("m.json"), "{\"preprocessing\": {\"size\": 32, \"crop_size\": 32}}");
        assertEquals("--classifier " + tmp.resolve("m.json") + ": no \"labels\" array (a classifier's class names, "
                + "in the order of its outputs)", refusal(onnx, true));
        try (OnnxImageModel features = OnnxImageModel.open(onnx, "--fid-features", false)) {
            assertEquals(5, features.dims(), "a feature extractor needs no labels");
        }
    }

    @Test
    void aFileOnnxRuntimeCannotLoadIsOneLine() throws Exception {
        Path onnx = tmp.resolve("x.onnx");
        Files.writeString(onnx, "not a model");
        Files.writeString(tmp.resolve("x.json"), "{\"preprocessing\": {}}");
        String m = refusal(onnx, false);
        assertTrue(m.startsWith("--classifier " + onnx + ": ONNX Runtime cannot load it: ") && !m.contains("\n"), m);
    }
}
