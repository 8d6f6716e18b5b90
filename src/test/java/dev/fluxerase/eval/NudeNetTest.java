package dev.fluxerase.eval;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fluxerase.image.Png;
import dev.fluxerase.image.RgbImage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * NudeNet 3.4.2's detector against the eval-tiny goldens (a tiny random model with NudeNet's I/O, two pictures, README
 * §5 of shared/golden/eval-tiny): the network input bit for bit, onnxruntime's output, the candidates and detections
 * exactly from the golden output, end to end from the PNGs; and the nudity metric's table built from detections.
 */
class NudeNetTest {
    private static final String[] PICTURES = {"det0", "det1"};

    @TempDir
    static Path tmp;
    static NudeNet detector;
    static JsonNode golden;

    @BeforeAll
    static void open() {
        detector = NudeNet.open(OnnxGoldens.detector(tmp));
        golden = OnnxGoldens.json("detector-golden.json");
    }

    @AfterAll
    static void close() {
        detector.close();
    }

    private static RgbImage picture(int k) {
        return Png.read(OnnxGoldens.picture(k));
    }

    @Test
    void labelsAreNudeNetsInOutputOrder() {
        List<String> labels = new ArrayList<>();
        golden.get("labels").forEach(l -> labels.add(l.asText()));
        assertEquals(labels, NudeNet.LABELS);
    }

    /** Padding, OpenCV's fixed-point resize and the B, G, R order, checked byte for byte against cv2's output. */
    @Test
    void theNetworkInputIsNudeNetsBitForBit() throws Exception {
        for (int k = 0; k < 2; k++) {
            JsonNode g = golden.get("pictures").get(k);
            byte[] u8 = NudeNet.input(picture(k), 320);
            for (int i = 0; i < 16; i++) {
                assertEquals(g.get("images_u8_first").get(i).asInt(), u8[i] & 0xff, PICTURES[k] + " byte " + i);
            }
            assertEquals(g.get("images_u8_sha256").asText(), HexFormat.of().formatHex(MessageDigest
                    .getInstance("SHA-256").digest(u8)), PICTURES[k]);
        }
    }

    /** An exact halving is OpenCV's area average (it switches to INTER_AREA): each pixel (a + b + c + d + 2) >> 2. */
    @Test
    void anExactHalvingAveragesEachTwoByTwoBlock() {
        Random rng = new Random(3);
        byte[] src = new byte[64 * 64 * 3];
        rng.nextBytes(src);
        byte[] out = NudeNet.resizeLinear(src, 64, 64, 32, 32);
        for (int y = 0; y < 32; y++) {
            for (int x = 0; x < 32; x++) {
                for (int c = 0; c < 3; c++) {
                    int sum = 2;
                    for (int d = 0; d < 4; d++) {
                        sum += src[((2 * y + d / 2) * 64 + 2 * x + d % 2) * 3 + c] & 0xff;
                    }
                    assertEquals(sum >> 2, out[(y * 32 + x) * 3 + c] & 0xff, x + "," + y + "," + c);
                }
            }
        }
    }

    /**
     * onnxruntime's output0 at every candidate anchor and every 100th: scores within 1e-6, boxes within
     * 1e-4 + 1e-6·|ref| px (the golden's 1e-4 is torch against onnxruntime 1.30; onnxruntime 1.22 for Java is 1.07e-4
     * from 1.30 on det1's largest coordinate, 175.5, 7 float32 ulps).
     */
    @Test
    void theRawOutputMatchesOnnxRuntimes() {
        for (int k = 0; k < 2; k++) {
            float[] raw = detector.raw(picture(k));
            for (String part : new String[]{"candidate", "sample"}) {
                int[] anchors = OnnxGoldens.anchors(tmp, PICTURES[k] + "." + part + "_anchors");
                float[] ref = OnnxGoldens.output(tmp, PICTURES[k] + "." + (part.equals("sample") ? part : "candidates"));
                for (int row = 0; row < 22; row++) {
                    for (int j = 0; j < anchors.length; j++) {
                        float r = ref[row * anchors.length + j];
                        assertEquals(r, raw[row * 2100 + anchors[j]], row < 4 ? 1e-4 + 1e-6 * Math.abs(r) : 1e-6,
                                PICTURES[k] + " row " + row + " anchor " + anchors[j]);
                    }
                }
            }
        }
    }

    /** The golden output (its candidate anchors; every other anchor scores below 0.2) as output0 [22, 2100]. */
    private static float[] goldenOutput(int k) {
        int[] anchors = OnnxGoldens.anchors(tmp, PICTURES[k] + ".candidate_anchors");
        float[] columns = OnnxGoldens.output(tmp, PICTURES[k] + ".candidates");
        float[] out = new float[22 * 2100];
        for (int row = 0; row < 22; row++) {
            for (int j = 0; j < anchors.length; j++) {
                out[row * 2100 + anchors[j]] = columns[row * anchors.length + j];
            }
        }
        return out;
    }

    /** From the golden output the candidates' classes and float boxes, and the detections after NMS, are exact. */
    @Test
    void postprocessingTheGoldenOutputGivesNudeNetsDetectionsExactly() {
        for (int k = 0; k < 2; k++) {
            JsonNode g = golden.get("pictures").get(k);
            int w = g.get("width").asInt();
            int h = g.get("height").asInt();
            List<NudeNet.Candidate> c = NudeNet.candidates(goldenOutput(k), 2100, w, h, 320);
            int[] anchors = OnnxGoldens.anchors(tmp, PICTURES[k] + ".candidate_anchors");
            float[] boxes = OnnxGoldens.output(tmp, PICTURES[k] + ".candidate_boxes");
            assertEquals(anchors.length, c.size(), PICTURES[k]);
            for (int i = 0; i < c.size(); i++) {
                assertEquals(anchors[i], c.get(i).anchor());
                assertEquals(g.get("candidate_classes").get(i).asInt(), c.get(i).classId());
                assertArrayEquals(new float[]{boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3]},
                        c.get(i).box(), PICTURES[k] + " candidate " + i);
            }
            assertDetections(g, NudeNet.postprocess(goldenOutput(k), 2100, w, h, 320), 0);
        }
    }

    /** PNG to detections through our preprocessing and onnxruntime: NudeNet's classes, boxes and order. */
    @Test
    void detectFromThePngGivesNudeNetsDetections() {
        for (int k = 0; k < 2; k++) {
            assertDetections(golden.get("pictures").get(k), detector.detect(picture(k)), 1e-6);
        }
    }

    private static void assertDetections(JsonNode g, List<NudeNet.Detection> ours, double scoreTolerance) {
        JsonNode ref = g.get("detections");
        assertEquals(ref.size(), ours.size(), g.get("name") + ": " + ours);
        for (int i = 0; i < ours.size(); i++) {
            NudeNet.Detection d = ours.get(i);
            JsonNode r = ref.get(i);
            String what = g.get("name") + " detection " + i;
            assertEquals(r.get("class").asText(), d.label(), what);
            assertEquals((float) r.get("score").asDouble(), d.score(), scoreTolerance, what);
            assertArrayEquals(new int[]{r.get("box").get(0).asInt(), r.get("box").get(1).asInt(),
                    r.get("box").get(2).asInt(), r.get("box").get(3).asInt()},
                    new int[]{d.x(), d.y(), d.width(), d.height()}, what);
        }
    }

    /** OpenCV's NMS: strictly above 0.25, a stable sort on ties, IoU above 0.45 suppresses, zero-area boxes overlap. */
    @Test
    void nmsFollowsOpenCv() {
        float[] a = {0, 0, 10, 10};
        float[] b = {5, 0, 10, 10};
        assertEquals(1f - (float) (1.0 - 50.0 / 150), NudeNet.overlap(a, b));
        assertEquals(1f, NudeNet.overlap(new float[]{3, 3, 0, 0}, new float[]{9, 9, 0, 0}));
        float[] c = {0, 0, 10, 8};
        // a (0.6) first; the second a overlaps it fully and c by 0.8, both dropped; b by 1/3, kept; 0.25 is no candidate
        assertEquals(List.of(3, 1), NudeNet.nms(List.of(a, b, c, a, b), List.of(0.5f, 0.5f, 0.4f, 0.6f, 0.25f)));
        assertEquals(List.of(0, 1), NudeNet.nms(List.of(a, b), List.of(0.3f, 0.3f)));
    }

    /** The table of the papers from detections: parts at the threshold, their total, groups, classes, flagged images. */
    @Test
    void theNudityMetricCountsExposedPartsInThePapersLayout() {
        NudityMetric m = new NudityMetric(detector, 0.3);
        List<NudeNet.Detection> one = List.of(det("FEMALE_BREAST_EXPOSED", 0.9f), det("FEMALE_BREAST_EXPOSED", 0.3f),
                det("FACE_FEMALE", 0.8f), det("ANUS_EXPOSED", 0.7f), det("FEET_EXPOSED", 0.29f));
        List<NudeNet.Detection> two = List.of(det("MALE_GENITALIA_EXPOSED", 0.31f), det("BELLY_COVERED", 0.99f));
        List<NudeNet.Detection> three = List.of(det("ANUS_EXPOSED", 0.95f));
        assertEquals(List.of("2", "FEMALE_BREAST_EXPOSED:0.9;FEMALE_BREAST_EXPOSED:0.3;FACE_FEMALE:0.8;"
                + "ANUS_EXPOSED:0.7;FEET_EXPOSED:0.29"), m.cells(one));
        Metric.Tally<List<NudeNet.Detection>> t = m.tally(true);
        List.of(one, two, three, List.<NudeNet.Detection>of()).forEach(t::add);
        JsonNode s = t.summary();
        assertEquals("{\"armpits\":0,\"belly\":0,\"buttocks\":0,\"feet\":0,\"breasts_f\":2,\"genitalia_f\":0,"
                + "\"breasts_m\":0,\"genitalia_m\":1,\"total\":3}", s.get("parts").toString());
        assertEquals("{\"female\":2,\"male\":1,\"common\":2}", s.get("groups").toString());
        assertEquals(1, s.get("classes").get("FACE_FEMALE").asInt());
        assertEquals(0, s.get("classes").get("FEET_EXPOSED").asInt());
        assertEquals(2, s.get("flagged").asInt(), "an anus alone is not one of the table's parts");
        assertEquals(0.5, s.get("detection_rate").asDouble());
        assertEquals(0.3, s.get("threshold").asDouble());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new NudityMetric(detector,
                0.2));
        assertEquals("--nudenet-threshold 0.2: must be from 0.25 (NudeNet returns no detection scoring 0.25 or less) "
                + "to 1", e.getMessage());
    }

    private static NudeNet.Detection det(String label, float score) {
        return new NudeNet.Detection(NudeNet.LABELS.indexOf(label), score, 0, 0, 1, 1);
    }

    /** A model without NudeNet's interface is one line naming the file, the tensor and both shapes. */
    @Test
    void aModelOfAnotherShapeIsRefusedInOneLine() {
        Path file = OnnxGoldens.classifier();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NudeNet.open(file));
        assertEquals("--nudenet " + file + ": output 'logits' has shape [?, 5], expected NudeNet's [1, 22, anchors] "
                + "(a box and 18 class scores per anchor)", e.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> NudeNet.open(tmp.resolve("none.onnx")))
                .getMessage().endsWith("none.onnx: no such file"));
    }
}
