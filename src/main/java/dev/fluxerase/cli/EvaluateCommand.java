package dev.fluxerase.cli;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.eval.ClassifierMetric;
import dev.fluxerase.eval.ClipMetrics;
import dev.fluxerase.eval.ClipScore;
import dev.fluxerase.eval.EvalReport;
import dev.fluxerase.eval.FeatureStats;
import dev.fluxerase.eval.FidMetric;
import dev.fluxerase.eval.ImageFeatures;
import dev.fluxerase.eval.Metric;
import dev.fluxerase.eval.NudeNet;
import dev.fluxerase.eval.NudityMetric;
import dev.fluxerase.eval.OnnxImageModel;
import dev.fluxerase.eval.PromptSuite;
import dev.fluxerase.eval.Scoring;
import dev.fluxerase.eval.SuiteImages;
import dev.fluxerase.pipeline.Backends;
import dev.fluxerase.pipeline.BatchRun;
import dev.fluxerase.pipeline.FolderLock;
import dev.fluxerase.pipeline.Generator;
import dev.fluxerase.pipeline.LoraStack;
import dev.fluxerase.pipeline.ModelFolder;
import dev.fluxerase.pipeline.PipelineException;
import dev.fluxerase.pipeline.PromptBatch;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.toy.ShapeMetric;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;

/**
 * {@code flux-erase evaluate}: generate a prompt suite with a model and its LoRA variants (or take images made
 * elsewhere) and score every image.
 */
@Command(name = "evaluate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
                "Generate every row of a prompt suite with the model (variant base) and with each --variant LoRA, "
                        + "through generate's batch path (seeds from the suite; images in OUT/images/VARIANT/ with "
                        + "index.csv, so a rerun makes only the missing ones), or take images made elsewhere with "
                        + "--images; then score every image with the --metrics and write results.csv (one row per "
                        + "image), summary.json (per variant, overall and per category) and report.html (the images "
                        + "side by side, one column per variant, scores under each; self-contained).",
                "Metrics: shape (the toy world's shape classifier, a hit when it sees the row's concept), clip "
                        + "(CLIP score as torchmetrics, needs --clip), fid (FID against --fid-reference, on the "
                        + "features of --fid-features or else of --clip), nudenet (NudeNet's exposed-part counts in "
                        + "the papers' table layout, needs --nudenet), classifier (an ONNX classifier's top class, a "
                        + "hit when it is the row's concept, needs --classifier). Progress on stderr."},
        footer = {"", "Examples:",
                "  flux-erase evaluate --model weights/toy --variant erased=erase/pytorch_lora_weights.safetensors "
                        + "--suite shapes.csv --metrics shape --out eval-out/",
                "  flux-erase evaluate --images comfy-out/ --suite nudity.csv --metrics clip --clip "
                        + "openai/clip-vit-large-patch14 --out eval-out/",
                "  flux-erase evaluate --model black-forest-labs/FLUX.1-dev --variant erased=erase/pytorch_lora_weights"
                        + ".safetensors --suite i2p-sexual.csv --metrics nudenet --nudenet 320n.onnx --out eval-i2p/"})
public final class EvaluateCommand implements Callable<Integer> {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");
    static final String BASE = "base";
    static final String FID_REFERENCE = "fid-reference.safetensors";

    @Option(names = "--suite", required = true, paramLabel = "FILE",
            description = "The prompt suite: a CSV with a header (prompt; seed, evaluation_seed or sd_seed; category or "
                    + "categories; concept), JSON Lines with the same keys, or a COCO captions .json.")
    Path suite;

    @Option(names = "--metrics", required = true, split = ",", paramLabel = "M",
            description = "What to score: shape, clip, fid, nudenet, classifier (comma-separated).")
    List<String> metrics;

    @Option(names = "--out", required = true, paramLabel = "DIR",
            description = "Output folder: images/VARIANT/, results.csv, summary.json, report.html (one evaluate at a "
                    + "time).")
    Path out;

    @Option(names = "--model", paramLabel = "M",
            description = "The FLUX.1 pipeline that makes the images, as generate --model takes it (a diffusers "
                    + "folder, a repo id in the hub cache, or a repo's cache folder).")
    String model;

    @Option(names = "--hf-cache", paramLabel = "DIR",
            description = "Hugging Face hub cache to look repo ids up in (--model, --clip). Default: $HF_HUB_CACHE, "
                    + "else $HF_HOME/hub, else ~/.cache/huggingface/hub.")
    Path hfCache;

    @Mixin
    ModelOptions.Weights weights;

    @Option(names = "--lora", paramLabel = "L[:SCALE]",
            description = "A LoRA (and strength, default 1) stacked onto the model of every variant, as generate "
                    + "--lora; repeat for several.")
    List<String> loras = new ArrayList<>();

    @Option(names = "--variant", paramLabel = "NAME=L[:SCALE]",
            description = "One more column: the model with this LoRA (an erased model); NAME names its folder and "
                    + "column. Repeat to compare several. The model alone is always the column base.")
    List<String> variants = new ArrayList<>();

    @Option(names = "--images", paramLabel = "[NAME=]DIR",
            description = "Score images made elsewhere instead of generating: a folder with generate's index.csv "
                    + "(matched by prompt and seed), else images named by suite row (0001.png, ...). Repeat for "
                    + "several columns; NAME defaults to the folder's name.")
    List<String> images = new ArrayList<>();

    @Option(names = "--clip", paramLabel = "M",
            description = "The CLIP model of clip and fid: a transformers CLIPModel folder, or a repo id in the hub "
                    + "cache (openai/clip-vit-large-patch14).")
    String clip;

    @Option(names = "--fid-reference", paramLabel = "DIR|FILE",
            description = "fid's reference: a folder of PNG images (its statistics are saved as OUT/"
                    + FID_REFERENCE + " for the next run), or such a statistics file.")
    Path fidReference;

    @Option(names = "--fid-features", paramLabel = "FILE",
            description = "fid's features from this ONNX model (an InceptionV3 pool3 export, 2048-d, for the papers' "
                    + "FID) instead of CLIP's image embeddings; FILE.json beside it gives the preprocessing.")
    Path fidFeatures;

    @Option(names = "--nudenet", paramLabel = "FILE",
            description = "nudenet's detector: NudeNet 3.4's ONNX model (320n.onnx, or 640m.onnx), run with "
                    + "NudeNet's own pre- and post-processing.")
    Path nudenet;

    @Option(names = "--nudenet-threshold", paramLabel = "T", defaultValue = "0.6",
            description = "Detections counted by nudenet score at least this (0.25 to 1). Default: ${DEFAULT-VALUE}, "
                    + "the erasure papers' setting.")
    double nudenetThreshold;

    @Option(names = "--classifier", paramLabel = "FILE",
            description = "classifier's model: an ONNX image classifier, with FILE.json beside it giving its labels "
                    + "(in output order) and preprocessing.")
    Path classifier;

    @Option(names = "--report-rows", paramLabel = "N", defaultValue = "100",
            description = "Suite rows shown in report.html (every row is in results.csv). Default: ${DEFAULT-VALUE}.")
    int reportRows;

    @Mixin
    SamplingOptions sampling;

    @Mixin
    CacheOptions cache;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        require(model != null ^ !images.isEmpty(), "give --model (generate the suite, then score it) or --images "
                + "(score images made elsewhere), not both");
        require(images.isEmpty() || (loras.isEmpty() && variants.isEmpty()), "--lora and --variant go with --model; "
                + "--images scores finished images");
        require(reportRows >= 0, "--report-rows must be at least 0, got " + reportRows);
        Set<String> asked = metricNames();
        require(clip != null || !(asked.contains(ClipMetrics.CLIP) || (asked.contains(FidMetric.NAME)
                && fidFeatures == null)), "--metrics " + String.join(",", asked) + " needs --clip (a CLIP model folder"
                + " or repo id, such as openai/clip-vit-large-patch14)" + (asked.contains(ClipMetrics.CLIP) ? ""
                : " or --fid-features (an ONNX feature extractor)"));
        require(fidReference != null || !asked.contains(FidMetric.NAME), "--metrics fid needs --fid-reference (a "
                + "folder of reference PNG images, or the " + FID_REFERENCE + " an earlier run saved)");
        require(nudenet != null || !asked.contains(NudityMetric.NAME), "--metrics nudenet needs --nudenet (NudeNet's "
                + "ONNX detector, 320n.onnx or 640m.onnx)");
        require(classifier != null || !asked.contains(ClassifierMetric.NAME), "--metrics classifier needs "
                + "--classifier (an ONNX image classifier with its labels in a JSON file beside it)");
        List<PromptSuite.Entry> entries = PromptSuite.read(suite);
        require(entries.size() >= 2 || !asked.contains(FidMetric.NAME), "--metrics fid: " + suite + " has one row; "
                + "FID needs at least 2 images per variant");
        Path hub = ModelOptions.hubCache(hfCache);
        Map<String, List<LoraStack.Entry>> stacks = model != null ? stacks() : Map.of();
        ModelFolder m = model != null ? ModelFolder.resolve(model, weights.transformer, weights.vae, hub) : null;
        PrintWriter stdout = spec.commandLine().getOut();
        try (FolderLock lock = FolderLock.acquire(out, holder -> new PipelineException("--out " + out + " is in use by "
                + "another evaluate (" + holder + "); wait for it to end, or choose another folder"));
             RunBackend backend = new RunBackend();
             ClipMetrics clipMetrics = clip == null ? null : new ClipMetrics(ClipScore.open(clip, hub, backend.get()));
             NudeNet detector = asked.contains(NudityMetric.NAME) ? NudeNet.open(nudenet) : null;
             OnnxImageModel classes = asked.contains(ClassifierMetric.NAME)
                     ? OnnxImageModel.open(classifier, "--classifier", true) : null;
             OnnxImageModel features = asked.contains(FidMetric.NAME) && fidFeatures != null
                     ? OnnxImageModel.open(fidFeatures, "--fid-features", false) : null) {
            List<Metric<?>> chosen = metrics(asked, clipMetrics, detector, classes,
                    features != null ? features : clipMetrics == null ? null : clipMetrics.features());
            chosen.forEach(c -> c.check(entries));
            ObjectNode header = JsonNodeFactory.instance.objectNode();
            header.put("suite", suite.toString());
            header.put("suite_rows", entries.size());
            asked.forEach(header.putArray("metrics")::add);
            List<Scoring.Variant> columns = m != null ? generated(entries, m, stacks, backend) : found(entries);
            Scoring.Results r = Scoring.run(entries, columns, chosen);
            EvalReport.write(out, r, header, reportRows);
            r.summaries().forEach((name, s) -> stdout.println(name + ": " + EvalReport.describe(s.get("overall"))));
        }
        stdout.println("wrote " + out.resolve(EvalReport.RESULTS) + ", " + out.resolve(EvalReport.SUMMARY) + ", "
                + out.resolve(EvalReport.HTML));
        stdout.flush();
        return 0;
    }

    private Set<String> metricNames() {
        Set<String> out = new LinkedHashSet<>();
        for (String m : metrics) {
            String name = m.strip();
            require(List.of(ShapeMetric.NAME, ClipMetrics.CLIP, FidMetric.NAME, NudityMetric.NAME,
                    ClassifierMetric.NAME).contains(name), "--metrics " + name + ": unknown (shape, clip, fid, nudenet,"
                    + " classifier)");
            out.add(name);
        }
        return out;
    }

    /**
     * The metrics in the order asked, each with its model opened by the caller; FID's reference statistics are read or
     * computed here, before any image is made.
     */
    private List<Metric<?>> metrics(Set<String> asked, ClipMetrics clipMetrics, NudeNet detector,
                                    OnnxImageModel classes, ImageFeatures fidFeatures) {
        List<Metric<?>> out = new ArrayList<>();
        for (String name : asked) {
            out.add(switch (name) {
                case ShapeMetric.NAME -> new ShapeMetric();
                case ClipMetrics.CLIP -> clipMetrics.score();
                case NudityMetric.NAME -> new NudityMetric(detector, nudenetThreshold);
                case ClassifierMetric.NAME -> new ClassifierMetric(classes);
                default -> new FidMetric(fidFeatures, reference(fidFeatures), "--fid-reference " + fidReference);
            });
        }
        return out;
    }

    private FeatureStats reference(ImageFeatures features) {
        if (Files.isRegularFile(fidReference)) {
            return FeatureStats.load(fidReference);
        }
        FeatureStats s = FidMetric.statistics(features, SuiteImages.pngs(fidReference, "--fid-reference"));
        s.save(out.resolve(FID_REFERENCE));
        return s;
    }

    /**
     * Each variant's LoRAs by its name: base, the model with the --lora stack, then each --variant with its LoRA on top;
     * every file checked before any work.
     */
    private Map<String, List<LoraStack.Entry>> stacks() {
        List<LoraStack.Entry> shared = loras.stream().map(LoraStack.Entry::parse).toList();
        Map<String, List<LoraStack.Entry>> byName = new LinkedHashMap<>();
        byName.put(BASE, shared);
        for (String v : variants) {
            int eq = v.indexOf('=');
            require(eq > 0, "--variant " + v + ": expected NAME=LORA[:SCALE]");
            String name = name(v.substring(0, eq), "--variant " + v);
            require(!byName.containsKey(name), "--variant " + v + ": the name " + name + " is "
                    + (name.equals(BASE) ? "the model alone's" : "used twice"));
            List<LoraStack.Entry> stack = new ArrayList<>(shared);
            stack.add(LoraStack.Entry.parse(v.substring(eq + 1)));
            byName.put(name, stack);
        }
        byName.values().forEach(stack -> stack.forEach(e -> require(Files.isRegularFile(e.file()), "LoRA " + e.file()
                + ": no such file")));
        return byName;
    }

    /**
     * Every variant generated into OUT/images/NAME/ as generate --batch would (suite row k is image NNNN.png, with
     * the row's seed). Every folder is locked and planned before any image is made, so a refusal costs nothing; a
     * variant with nothing left to make loads no model.
     */
    private List<Scoring.Variant> generated(List<PromptSuite.Entry> entries, ModelFolder m,
                                            Map<String, List<LoraStack.Entry>> stacks, RunBackend backend) {
        Generator.Settings settings = sampling.settings(m.defaults());
        int together = sampling.together();
        List<PromptBatch.Item> items = new ArrayList<>();
        for (int k = 0; k < entries.size(); k++) {
            items.add(new PromptBatch.Item(k + 1, PromptBatch.numbered(k, entries.size()), entries.get(k).prompt(),
                    entries.get(k).seed()));
        }
        List<FolderLock> locks = new ArrayList<>();
        boolean checked = false;
        try {
            Map<String, BatchRun> runs = new LinkedHashMap<>();
            for (String name : stacks.keySet()) {
                Path dir = imagesOf(name);
                locks.add(FolderLock.acquire(dir, holder -> new PipelineException(dir + " is in use by another "
                        + "generate batch (" + holder + "); wait for it to end")));
                runs.put(name, BatchRun.plan(dir, items, settings.describe(m, stacks.get(name)),
                        it -> "suite row " + it.line(), "use another --out"));
            }
            List<Scoring.Variant> columns = new ArrayList<>();
            for (Map.Entry<String, BatchRun> e : runs.entrySet()) {
                List<LoraStack.Entry> stack = stacks.get(e.getKey());
                int made = 0;
                if (!e.getValue().pending().isEmpty()) {
                    Backend be = backend.get();
                    if (!checked) {
                        Generator.requireMemory(m, settings, together, be);
                        checked = true;
                    }
                    try (Generator gen = Generator.open(m, be, cache.open(), stack)) {
                        gen.warnings().forEach(w -> System.err.println("flux-erase: warning: " + w));
                        made = e.getValue().run(gen, settings, together, e.getKey() + " ");
                    }
                }
                spec.commandLine().getOut().printf(Locale.ROOT, "%s: %d image%s written, %d already there, in %s%n",
                        e.getKey(), made, made == 1 ? "" : "s", e.getValue().skipped(), imagesOf(e.getKey()));
                columns.add(new Scoring.Variant(e.getKey(), settings.describe(m, stack), items.stream()
                        .map(it -> imagesOf(e.getKey()).resolve(it.file())).toList()));
            }
            return columns;
        } finally {
            locks.forEach(FolderLock::close);
        }
    }

    /**
     * The --backend that generation and the CLIP model share, opened (and its choice printed) on first use, so that a
     * run which only scores shapes, or finds every image already made, opens none.
     */
    private final class RunBackend implements AutoCloseable {
        private Backend backend;

        Backend get() {
            if (backend == null) {
                backend = Backends.open(sampling.backend, System.err::println);
            }
            return backend;
        }

        @Override
        public void close() {
            if (backend != null) {
                backend.close();
            }
        }
    }

    private Path imagesOf(String variant) {
        return out.resolve("images").resolve(variant);
    }

    /** The --images folders, each matched to the suite's rows (SuiteImages). */
    private List<Scoring.Variant> found(List<PromptSuite.Entry> entries) {
        List<Scoring.Variant> out = new ArrayList<>();
        Set<String> names = new LinkedHashSet<>();
        for (String spec : images) {
            int eq = spec.indexOf('=');
            boolean named = eq > 0 && NAME.matcher(spec.substring(0, eq)).matches();
            Path dir = Path.of(named ? spec.substring(eq + 1) : spec);
            Path leaf = dir.toAbsolutePath().normalize().getFileName();
            String name = name(named ? spec.substring(0, eq) : leaf == null ? "" : leaf.toString(), "--images " + spec
                    + (named ? "" : " (name it: NAME=DIR)"));
            require(names.add(name), "--images " + spec + ": the name " + name + " is used twice (name them: NAME=DIR)");
            out.add(new Scoring.Variant(name, "images in " + dir, SuiteImages.match(dir, entries, "--images")));
        }
        return out;
    }

    private static String name(String name, String where) {
        require(NAME.matcher(name).matches(), where + ": the name \"" + name + "\" must be letters, digits, '.', '_' "
                + "or '-'");
        return name;
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new PipelineException(message);
        }
    }
}
