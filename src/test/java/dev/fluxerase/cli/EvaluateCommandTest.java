package dev.fluxerase.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.eval.ClipGoldens;
import dev.fluxerase.eval.ClipScore;
import dev.fluxerase.eval.FeatureAccumulator;
import dev.fluxerase.eval.FeatureStats;
import dev.fluxerase.eval.Fid;
import dev.fluxerase.eval.NudeNet;
import dev.fluxerase.eval.NudityMetric;
import dev.fluxerase.eval.OnnxGoldens;
import dev.fluxerase.eval.OnnxImageModel;
import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.image.Png;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.lora.LoraModule;
import dev.fluxerase.lora.LoraSet;
import dev.fluxerase.pipeline.Csv;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.RandomData;
import dev.fluxerase.toy.Shape;
import dev.fluxerase.toy.ShapeClassifier;
import dev.fluxerase.toy.ShapeWorld;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code evaluate} end to end on the toy model (weights/toy, 32×32): generation of a base and an erased-like variant,
 * shape, CLIP score (the tiny CLIP of the eval goldens) and FID against a folder of toy-world drawings, the three
 * outputs checked against numbers computed here from the written images; resume, --images, one-line errors.
 */
class EvaluateCommandTest {
    static final Path TOY = Path.of("weights/toy");
    /** Four rows in two categories; the toy draws each shape for most seeds, but the test recomputes every hit. */
    static final String SUITE = """
            prompt,seed,category,concept
            a circle,1,shapes,circle
            a square,2,shapes,square
            a star,3,other,star
            "a ring",4,other,ring
            """;

    @TempDir
    static Path shared;
    static Path clip;
    static Path lora;
    static Path reference;

    @TempDir
    Path tmp;

    /** The tiny CLIP folder, a LoRA on the toy's text-side projections that changes what it draws, 6 reference drawings. */
    @BeforeAll
    static void files() throws IOException {
        clip = ClipGoldens.folder(shared.resolve("clip"), t -> t);
        FluxConfig cfg = FluxConfig.read(TOY.resolve("transformer/config.json"));
        Random rng = new Random(5);
        List<LoraModule> modules = new ArrayList<>();
        for (LoraModule m : LoraSet.create(cfg, LoraSet.DEFAULT_TARGETS, 4, 4f, 1, LoraSet.Init.GAUSSIAN).modules()) {
            modules.add(new LoraModule(m.module(), m.a(), Tensor.of(RandomData.gaussian(rng, m.b().numel(), 0.5),
                    m.b().shape()), m.alpha(), null, null));
        }
        lora = shared.resolve("variant.safetensors");
        LoraSet.of(modules).save(lora);
        reference = Files.createDirectories(shared.resolve("reference"));
        for (int i = 0; i < 6; i++) {
            Png.write(reference.resolve("ref" + i + ".png"), ShapeWorld.sample(7, i).image());
        }
    }

    private Path suite(String text) throws IOException {
        return Files.writeString(tmp.resolve("suite.csv"), text);
    }

    private CliRun evaluate(Path out, String... extra) throws IOException {
        List<String> a = new ArrayList<>(List.of("evaluate", "--suite", suite(SUITE).toString(), "--out",
                out.toString(), "--no-cache"));
        a.addAll(List.of(extra));
        return CliRun.of(a.toArray(String[]::new));
    }

    private static List<List<String>> csv(Path file) throws IOException {
        return Csv.parse(Files.readString(file), file.toString()).stream().map(Csv.Row::fields).toList();
    }

    private static JsonNode json(Path file) throws IOException {
        return new ObjectMapper().readTree(file.toFile());
    }

    private static int count(String text, String what) {
        return text.split(java.util.regex.Pattern.quote(what), -1).length - 1;
    }

    @Test
    void generatesScoresAndWritesTheThreeOutputs() throws Exception {
        Path out = tmp.resolve("out");
        CliRun r = evaluate(out, "--model", TOY.toString(), "--variant", "erased=" + lora, "--metrics",
                "shape,clip,fid", "--clip", clip.toString(), "--fid-reference", reference.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("base: 4 images written, 0 already there") && r.out().contains("erased: 4 images"
                + " written"), r.out());
        assertTrue(r.err().contains("base [1/4] 0001 step 20/20") && r.err().contains("erased [4/4] 0004 step 20/20")
                && r.err().contains("scoring erased image 4/4") && r.err().contains("FID reference image 6/6"), r.err());

        List<List<String>> rows = csv(out.resolve("results.csv"));
        assertEquals(List.of("variant", "prompt", "seed", "category", "concept", "file", "shape", "shape_hit",
                "clip_score"), rows.getFirst());
        assertEquals(1 + 2 * 4, rows.size());
        assertEquals(List.of("erased", "a star", "3", "other", "star", "images/erased/0003.png"),
                rows.get(7).subList(0, 6));
        List<String> prompts = List.of("a circle", "a square", "a star", "a ring");
        List<String> concepts = List.of("circle", "square", "star", "ring");
        JsonNode summary = json(out.resolve("summary.json"));
        assertEquals(4, summary.get("suite_rows").asInt());
        boolean differ = false;
        try (ClipScore reference = ClipScore.open(clip.toString(), tmp, new CpuBackend())) {
            FeatureAccumulator refFeatures = new FeatureAccumulator(reference.model().config().projectionDim());
            for (int i = 0; i < 6; i++) {
                refFeatures.add(Floats.toF32(reference.encode(List.of(Png.read(this.reference(i)))).embeddings()
                        .embeds()));
            }
            for (int v = 0; v < 2; v++) {
                String variant = v == 0 ? "base" : "erased";
                JsonNode s = summary.get("variants").get(variant);
                int hits = 0;
                int otherHits = 0;
                double clipSum = 0;
                FeatureAccumulator features = new FeatureAccumulator(reference.model().config().projectionDim());
                for (int k = 0; k < 4; k++) {
                    List<String> row = rows.get(1 + v * 4 + k);
                    RgbImage img = Png.read(out.resolve("images").resolve(variant).resolve(String.format("%04d.png",
                            k + 1)));
                    Shape seen = ShapeClassifier.classify(img).shape();
                    boolean hit = seen != null && seen.word().equals(concepts.get(k));
                    hits += hit ? 1 : 0;
                    otherHits += hit && k >= 2 ? 1 : 0;
                    assertEquals(seen == null ? "none" : seen.word(), row.get(6), row.toString());
                    assertEquals(hit ? "1" : "0", row.get(7), row.toString());
                    double clipScore = reference.score(List.of(img), List.of(prompts.get(k))).scores()[0];
                    assertEquals(clipScore, Double.parseDouble(row.get(8)), 1e-6, row.toString());
                    clipSum += Double.parseDouble(row.get(8));
                    features.add(Floats.toF32(reference.encode(List.of(img)).embeddings().embeds()));
                    if (v == 1) {
                        differ |= !img.equals(Png.read(out.resolve("images/base").resolve(String.format("%04d.png",
                                k + 1))));
                    }
                }
                assertTrue(s.get("source").asText().endsWith(v == 0 ? "LoRAs none" : "LoRAs [" + lora + ":1.0]"),
                        s.get("source").asText());
                JsonNode overall = s.get("overall");
                assertEquals(4, overall.get("count").asInt());
                assertEquals(hits / 4.0, overall.get("shape").get("hit_rate").asDouble(), variant);
                assertEquals(otherHits / 2.0, s.get("categories").get("other").get("shape").get("hit_rate").asDouble());
                assertEquals(2, s.get("categories").get("shapes").get("count").asInt());
                assertEquals(4, overall.get("shape").get("counts").properties().stream()
                        .mapToInt(e -> e.getValue().asInt()).sum());
                assertEquals(clipSum / 4, overall.get("clip").get("mean").asDouble(), 1e-9);
                assertEquals(Math.max(clipSum / 4, 0), overall.get("clip").get("score").asDouble(), 1e-9);
                double fid = Fid.distance(features.statistics(), refFeatures.statistics()).fid();
                assertEquals(fid, overall.get("fid").get("fid").asDouble(), 1e-6 * Math.max(1, fid));
                assertEquals(6, overall.get("fid").get("reference_images").asInt());
                assertFalse(s.get("categories").get("other").has("fid"), "FID is per variant only");
            }
        }
        assertTrue(differ, "the variant's LoRA changes at least one image");
        assertEquals(6, FeatureStats.load(out.resolve("fid-reference.safetensors")).samples());

        String html = Files.readString(out.resolve("report.html"));
        assertEquals(8, count(html, "<img "), "one image per suite row and variant");
        assertEquals(8, count(html, "src=\"data:image/png;base64,"), "embedded, not linked");
        assertTrue(html.contains("<th>base</th><th>erased</th>"), "side by side");
        assertFalse(html.contains("The first "), "every row shown");
        assertFalse(Files.list(out).anyMatch(p -> p.getFileName().toString().contains(".tmp-")));
    }

    private Path reference(int i) {
        return reference.resolve("ref" + i + ".png");
    }

    /**
     * The ONNX metrics end to end on the toy model's images: the tiny NudeNet-layout detector (every detection counted,
     * threshold 0.25; on these 32-px drawings the random model finds nothing, the golden pictures below are where it
     * does), the tiny classifier (its labels are shape words, so the suite's concepts are labels) and FID on the
     * classifier's logits as features; every cell and summary number recomputed here from the written images.
     */
    @Test
    void scoresWithTheOnnxModels() throws Exception {
        Path detector = OnnxGoldens.detector(tmp);
        Path classifier = OnnxGoldens.classifier();
        Path out = tmp.resolve("out");
        CliRun r = evaluate(out, "--model", TOY.toString(), "--steps", "4", "--metrics", "nudenet,classifier,fid",
                "--nudenet", detector.toString(), "--nudenet-threshold", "0.25", "--classifier", classifier.toString(),
                "--fid-features", classifier.toString(), "--fid-reference", reference.toString());
        assertEquals(0, r.exit(), r.err());
        List<List<String>> rows = csv(out.resolve("results.csv"));
        assertEquals(List.of("nudenet_exposed", "nudenet_detections", "classifier", "classifier_prob",
                "classifier_hit"), rows.getFirst().subList(6, 11));
        JsonNode overall = json(out.resolve("summary.json")).get("variants").get("base").get("overall");
        List<String> concepts = List.of("circle", "square", "star", "ring");
        try (NudeNet nudenet = NudeNet.open(detector);
             OnnxImageModel labels = OnnxImageModel.open(classifier, "--classifier", true);
             OnnxImageModel logits = OnnxImageModel.open(classifier, "--fid-features", false)) {
            long exposed = 0;
            long detections = 0;
            long hits = 0;
            FeatureAccumulator features = new FeatureAccumulator(5);
            FeatureAccumulator refFeatures = new FeatureAccumulator(5);
            for (int i = 0; i < 6; i++) {
                refFeatures.add(logits.rows(List.of(Png.read(reference(i)))).getFirst());
            }
            for (int k = 0; k < 4; k++) {
                List<String> row = rows.get(1 + k);
                RgbImage img = Png.read(out.resolve(row.get(5)));
                List<NudeNet.Detection> found = nudenet.detect(img);
                long parts = found.stream().filter(d -> NudityMetric.PARTS.stream()
                        .anyMatch(p -> p.nudenetClass().equals(d.label()))).count();
                exposed += parts;
                detections += found.size();
                assertEquals(List.of(Long.toString(parts), found.stream().map(d -> d.label() + ":" + d.score())
                        .collect(Collectors.joining(";"))), row.subList(6, 8));
                float[] p = labels.rows(List.of(img)).getFirst();
                int top = 0;
                for (int c = 1; c < p.length; c++) {
                    top = p[c] > p[top] ? c : top;
                }
                boolean hit = labels.labels().get(top).equals(concepts.get(k));
                hits += hit ? 1 : 0;
                assertEquals(List.of(labels.labels().get(top), Float.toString(p[top]), hit ? "1" : "0"),
                        row.subList(8, 11));
                features.add(logits.rows(List.of(img)).getFirst());
            }
            JsonNode n = overall.get("nudenet");
            assertEquals(exposed, n.get("parts").get("total").asLong());
            assertEquals(detections, n.get("classes").properties().stream().mapToLong(e -> e.getValue().asLong())
                    .sum());
            assertEquals(hits / 4.0, overall.get("classifier").get("hit_rate").asDouble());
            assertEquals(Fid.distance(features.statistics(), refFeatures.statistics()).fid(),
                    overall.get("fid").get("fid").asDouble(), 1e-9);
            assertEquals("classifier.onnx output 'logits', 5-d", overall.get("fid").get("features").asText());
        }
        String html = Files.readString(out.resolve("report.html"));
        assertTrue(html.contains("<h2>Nudity (NudeNet)</h2>") && html.contains("<th>Breasts (F)</th>"), html);
    }

    /** The golden pictures, given as images made elsewhere: NudeNet's detections counted in the papers' layout. */
    @Test
    void countsTheGoldenDetectionsInThePapersLayout() throws Exception {
        Path images = Files.createDirectories(tmp.resolve("pictures"));
        Files.copy(OnnxGoldens.picture(0), images.resolve("0001.png"));
        Files.copy(OnnxGoldens.picture(1), images.resolve("0002.png"));
        Path twoRows = suite("prompt,seed,category\nfirst,1,a\nsecond,2,b\n");
        Path out = tmp.resolve("out");
        CliRun r = CliRun.of("evaluate", "--suite", twoRows.toString(), "--images", images.toString(), "--metrics",
                "nudenet", "--nudenet", OnnxGoldens.detector(tmp).toString(), "--nudenet-threshold", "0.3", "--out",
                out.toString());
        assertEquals(0, r.exit(), r.err());
        // detector-golden.json: det0 3 FEMALE_BREAST_EXPOSED and 1 FEET_EXPOSED, all above 0.3; det1 at 0.3 or more
        // 3 of its 4 FEMALE_BREAST_EXPOSED, 5 of its 6 FEET_EXPOSED, 6 of its 7 FACE_MALE
        JsonNode v = json(out.resolve("summary.json")).get("variants").get("pictures");
        assertEquals("{\"armpits\":0,\"belly\":0,\"buttocks\":0,\"feet\":1,\"breasts_f\":3,\"genitalia_f\":0,"
                + "\"breasts_m\":0,\"genitalia_m\":0,\"total\":4}", v.at("/categories/a/nudenet/parts").toString());
        assertEquals("{\"armpits\":0,\"belly\":0,\"buttocks\":0,\"feet\":6,\"breasts_f\":6,\"genitalia_f\":0,"
                + "\"breasts_m\":0,\"genitalia_m\":0,\"total\":12}", v.at("/overall/nudenet/parts").toString());
        assertEquals("{\"female\":6,\"male\":0,\"common\":6}", v.at("/overall/nudenet/groups").toString());
        assertEquals(6, v.at("/categories/b/nudenet/classes/FACE_MALE").asInt());
        assertEquals(1.0, v.at("/overall/nudenet/detection_rate").asDouble());
        List<List<String>> rows = csv(out.resolve("results.csv"));
        assertEquals(List.of("4", "8"), List.of(rows.get(1).get(6), rows.get(2).get(6)));
        assertEquals(List.of(4, 17), List.of(rows.get(1).get(7).split(";").length, rows.get(2).get(7).split(";").length),
                "every detection NudeNet returns, whatever the threshold");
        assertTrue(Files.readString(out.resolve("report.html")).contains("<tr><td>pictures</td><td>overall</td><td>2"
                + "</td><td>0</td><td>0</td><td>0</td><td>6</td><td>6</td><td>0</td><td>0</td><td>0</td><td>12</td>"
                + "<td>6</td><td>0</td><td>6</td><td>2 (100.0%)</td></tr>"));
    }

    /**
     * ONNX Runtime is loaded by the ONNX metrics only: a shape evaluation in a JVM of its own loads none of its classes
     * (so none of its natives), the same with nudenet does; natives that do not load are one line.
     */
    @Test
    void onnxRuntimeLoadsOnlyForTheOnnxMetrics() throws Exception {
        Path images = Files.createDirectories(tmp.resolve("pictures"));
        Files.copy(OnnxGoldens.picture(0), images.resolve("0001.png"));
        Path oneRow = suite("prompt,seed\nfirst,1\n");
        Path detector = OnnxGoldens.detector(tmp);
        for (String metric : List.of("shape", "nudenet")) {
            Path log = tmp.resolve(metric + ".log");
            Process p = new ProcessBuilder(CliRun.inOwnJvm(List.of("-Xlog:class+load=info:file=" + log), List.of(
                    "evaluate", "--suite", oneRow.toString(), "--images", images.toString(), "--metrics", metric,
                    "--nudenet", detector.toString(), "--out", tmp.resolve(metric).toString()))).redirectErrorStream(true)
                    .start();
            String output = new String(p.getInputStream().readAllBytes());
            assertEquals(0, p.waitFor(), output);
            assertEquals(metric.equals("nudenet"), Files.readString(log).contains("ai.onnxruntime.OnnxRuntime "),
                    metric);
        }
        // as on a platform without libraries: ONNX Runtime told to skip loading both
        Process p = new ProcessBuilder(CliRun.inOwnJvm(List.of("-Donnxruntime.native.onnxruntime.skip=true",
                "-Donnxruntime.native.onnxruntime4j_jni.skip=true"), List.of("evaluate", "--suite", oneRow.toString(),
                "--images", images.toString(), "--metrics", "nudenet", "--nudenet", detector.toString(), "--out",
                tmp.resolve("skip").toString()))).start();
        String err = new String(p.getErrorStream().readAllBytes()).replaceAll("(?m)^WARNING: .*\\R", "");
        assertEquals(1, p.waitFor(), err);
        assertTrue(err.startsWith("flux-erase: ONNX Runtime's native library did not load on ") && err.contains(
                "-Donnxruntime.native.path=DIR") && err.strip().lines().count() == 1, err);
    }

    /** A second run makes no image; a missing one is made again, and only it; the report shows the capped rows. */
    @Test
    void aRerunResumesAndMakesOnlyMissingImages() throws Exception {
        Path out = tmp.resolve("out");
        assertEquals(0, evaluate(out, "--model", TOY.toString(), "--metrics", "shape", "--steps", "4").exit());
        Path images = out.resolve("images/base");
        List<byte[]> first = new ArrayList<>();
        for (int k = 1; k <= 4; k++) {
            first.add(Files.readAllBytes(images.resolve(String.format("%04d.png", k))));
        }
        List<String> index = Files.readAllLines(images.resolve("index.csv"));
        CliRun again = evaluate(out, "--model", TOY.toString(), "--metrics", "shape", "--steps", "4",
                "--report-rows", "2");
        assertEquals(0, again.exit(), again.err());
        assertTrue(again.out().contains("base: 0 images written, 4 already there"), again.out());
        assertFalse(again.err().contains(" step "), again.err());
        assertEquals(index, Files.readAllLines(images.resolve("index.csv")));
        String html = Files.readString(out.resolve("report.html"));
        assertEquals(2, count(html, "<img "));
        assertTrue(html.contains("The first 2 of 4 suite rows"), html);

        Files.delete(images.resolve("0003.png"));
        CliRun third = evaluate(out, "--model", TOY.toString(), "--metrics", "shape", "--steps", "4");
        assertEquals(0, third.exit(), third.err());
        assertTrue(third.out().contains("base: 1 image written, 3 already there"), third.out());
        assertTrue(third.err().contains("base [3/4] 0003 step 4/4") && !third.err().contains("[1/4]"), third.err());
        for (int k = 1; k <= 4; k++) {
            assertArrayEquals(first.get(k - 1), Files.readAllBytes(images.resolve(String.format("%04d.png", k))),
                    "image " + k);
        }

        // other settings would relabel the folder's images: refused before any work
        CliRun steps = evaluate(out, "--model", TOY.toString(), "--metrics", "shape", "--steps", "5");
        assertEquals(1, steps.exit());
        assertEquals(1, steps.err().lines().count(), steps.err());
        assertTrue(steps.err().contains("0001.png (suite row 1) holds another image") && steps.err().contains(
                "use another --out"), steps.err());
    }

    /**
     * Images made elsewhere: matched by row number without an index, by prompt and seed with one (here a suite in
     * another order than the folder's), scored as the generated ones were.
     */
    @Test
    void scoresImagesMadeElsewhere() throws Exception {
        Path gen = tmp.resolve("gen");
        assertEquals(0, evaluate(gen, "--model", TOY.toString(), "--metrics", "shape", "--steps", "4").exit());
        Path plain = Files.createDirectories(tmp.resolve("comfy"));
        for (int k = 1; k <= 4; k++) {
            String name = String.format("%04d.png", k);
            Files.copy(gen.resolve("images/base").resolve(name), plain.resolve(name));
        }
        Path out = tmp.resolve("out");
        CliRun r = evaluate(out, "--images", plain.toString(), "--images", "again=" + gen.resolve("images/base"),
                "--metrics", "shape");
        assertEquals(0, r.exit(), r.err());
        List<List<String>> rows = csv(out.resolve("results.csv"));
        List<List<String>> generated = csv(gen.resolve("results.csv"));
        assertEquals(9, rows.size());
        for (int k = 1; k <= 4; k++) {
            assertEquals("comfy", rows.get(k).getFirst());
            assertEquals("again", rows.get(4 + k).getFirst());
            assertEquals(generated.get(k).subList(6, 8), rows.get(k).subList(6, 8));
            assertEquals(generated.get(k).subList(6, 8), rows.get(4 + k).subList(6, 8));
            assertEquals(plain.resolve(String.format("%04d.png", k)).toString(), rows.get(k).get(5));
        }
        assertEquals(List.of("comfy", "again"), List.copyOf(json(out.resolve("summary.json")).get("variants")
                .properties().stream().map(java.util.Map.Entry::getKey).toList()));

        Path reversed = suite("prompt,seed,category,concept\n\"a ring\",4,other,ring\na circle,1,shapes,circle\n");
        CliRun byIndex = CliRun.of("evaluate", "--suite", reversed.toString(), "--images", gen.resolve("images/base")
                .toString(), "--metrics", "shape", "--out", tmp.resolve("out2").toString());
        assertEquals(0, byIndex.exit(), byIndex.err());
        List<List<String>> two = csv(tmp.resolve("out2/results.csv"));
        assertEquals(gen.resolve("images/base/0004.png").toString(), two.get(1).get(5));
        assertEquals(gen.resolve("images/base/0001.png").toString(), two.get(2).get(5));
    }

    private void oneLine(CliRun r, String expected) {
        assertEquals(1, r.exit(), r.err());
        assertEquals("flux-erase: " + expected, r.err().strip());
    }

    @Test
    void whatCannotWorkIsOneLineBeforeAnyWork() throws Exception {
        Path out = tmp.resolve("out");
        Path missing = tmp.resolve("no-model");
        CliRun model = evaluate(out, "--model", missing.toString(), "--metrics", "shape");
        assertEquals(1, model.exit());
        assertEquals(1, model.err().lines().count(), model.err());
        assertTrue(model.err().startsWith("flux-erase: ") && model.err().contains(missing.toString()), model.err());

        oneLine(evaluate(out, "--model", TOY.toString(), "--metrics", "shape,bleu"),
                "--metrics bleu: unknown (shape, clip, fid, nudenet, classifier)");
        oneLine(evaluate(out, "--model", TOY.toString(), "--metrics", "fid", "--fid-reference", reference.toString()),
                "--metrics fid needs --clip (a CLIP model folder or repo id, such as openai/clip-vit-large-patch14) or"
                        + " --fid-features (an ONNX feature extractor)");
        oneLine(evaluate(out, "--model", TOY.toString(), "--metrics", "nudenet"), "--metrics nudenet needs --nudenet "
                + "(NudeNet's ONNX detector, 320n.onnx or 640m.onnx)");
        oneLine(evaluate(out, "--model", TOY.toString(), "--metrics", "classifier"), "--metrics classifier needs "
                + "--classifier (an ONNX image classifier with its labels in a JSON file beside it)");
        Path classifier = OnnxGoldens.classifier();
        oneLine(evaluate(out, "--model", TOY.toString(), "--metrics", "nudenet", "--nudenet", classifier.toString()),
                "--nudenet " + classifier + ": output 'logits' has shape [?, 5], expected NudeNet's [1, 22, anchors] (a"
                        + " box and 18 class scores per anchor)");
        Path alone = Files.copy(classifier, tmp.resolve("alone.onnx"));
        oneLine(evaluate(out, "--model", TOY.toString(), "--metrics", "classifier", "--classifier", alone.toString()),
                "--classifier " + alone + ": no alone.json beside it (the model's \"preprocessing\" and \"labels\", "
                        + "docs/evaluate.md)");
        oneLine(evaluate(out, "--model", TOY.toString(), "--metrics", "clip"), "--metrics clip needs --clip (a CLIP"
                + " model folder or repo id, such as openai/clip-vit-large-patch14)");
        oneLine(evaluate(out, "--model", TOY.toString(), "--metrics", "fid", "--clip", clip.toString()),
                "--metrics fid needs --fid-reference (a folder of reference PNG images, or the "
                        + "fid-reference.safetensors an earlier run saved)");
        oneLine(evaluate(out, "--model", TOY.toString(), "--images", tmp.toString(), "--metrics", "shape"),
                "give --model (generate the suite, then score it) or --images (score images made elsewhere), not both");
        oneLine(evaluate(out, "--model", TOY.toString(), "--variant", "base=" + lora, "--metrics", "shape"),
                "--variant base=" + lora + ": the name base is the model alone's");
        oneLine(evaluate(out, "--model", TOY.toString(), "--variant", "x=" + tmp.resolve("none.safetensors"),
                "--metrics", "shape"), "LoRA " + tmp.resolve("none.safetensors") + ": no such file");

        Path empty = Files.createDirectories(tmp.resolve("empty"));
        oneLine(evaluate(out, "--images", empty.toString(), "--metrics", "shape"),
                "--images " + empty + ": no PNG images in the folder");
        oneLine(evaluate(out, "--model", TOY.toString(), "--metrics", "fid", "--clip", clip.toString(),
                "--fid-reference", empty.toString()), "--fid-reference " + empty + ": no PNG images in the folder");
        Path some = Files.createDirectories(tmp.resolve("some"));
        Files.copy(reference(0), some.resolve("0001.png"));
        oneLine(evaluate(out, "--images", some.toString(), "--metrics", "shape"), "--images " + some + ": 3 of 4"
                + " suite rows have no image, the first row 2 (prompt \"a square\", seed 2): expected 0002.png "
                + "(matched by row number, as the folder has no index.csv)");

        Path badSeed = suite("prompt,seed\na cat,x\n");
        oneLine(CliRun.of("evaluate", "--suite", badSeed.toString(), "--images", some.toString(), "--metrics", "shape",
                "--out", out.toString()), badSeed + " line 2: seed \"x\" is not an integer");
        Path nudity = suite("prompt,seed,concept\na circle,1,circle\na nude,2,nudity\n");
        oneLine(CliRun.of("evaluate", "--suite", nudity.toString(), "--images", some.toString(), "--metrics", "shape",
                "--out", out.toString()), "--metrics shape: suite row 2 has concept \"nudity\", which is not a shape "
                + "of the toy world (one of [circle, square, triangle, star, cross, ring])");
        assertFalse(Files.exists(out.resolve("results.csv")));
        assertFalse(Files.exists(out.resolve("images")));
    }
}
