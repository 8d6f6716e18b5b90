package dev.fluxerase.cli;

import dev.fluxerase.image.Png;
import dev.fluxerase.pipeline.Backends;
import dev.fluxerase.pipeline.FolderLock;
import dev.fluxerase.pipeline.Generator;
import dev.fluxerase.pipeline.Latents;
import dev.fluxerase.pipeline.LatentsFile;
import dev.fluxerase.pipeline.LoraStack;
import dev.fluxerase.pipeline.MemoryEstimate;
import dev.fluxerase.pipeline.ModelDefaults;
import dev.fluxerase.pipeline.ModelFolder;
import dev.fluxerase.pipeline.PipelineException;
import dev.fluxerase.pipeline.ProgressBar;
import dev.fluxerase.pipeline.PromptBatch;
import dev.fluxerase.pipeline.PromptCache;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.vae.LatentCodec;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code flux-erase generate}: text to image with FLUX.1 (optionally with LoRAs), one prompt or a CSV batch. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
                "Generate images with FLUX.1 as diffusers' FluxPipeline does: prompt -> CLIP pooled + T5 states, "
                        + "Euler flow-matching steps from seeded noise with the folder's scheduler settings and the "
                        + "guidance scale as an embedded input, then the VAE decode, written as an 8-bit PNG (atomically).",
                "The noise comes from Java's seeded generator, not torch's: the same seed does not give diffusers' "
                        + "image. To reproduce a diffusers run, pass its initial latents with --latents.",
                "Progress goes to stderr: a bar on a terminal, one line per step otherwise."},
        footer = {"", "Examples:",
                "  flux-erase generate --model black-forest-labs/FLUX.1-dev --prompt \"a photo of a cat\" --seed 7 "
                        + "--out cat.png",
                "  flux-erase generate --model ./FLUX.1-dev --lora erase_nudity.safetensors:1.0 --batch prompts.csv "
                        + "--out-dir out/",
                "", "Batch CSV: one row per image, prompt,seed[,name] with RFC 4180 quoting (\"a, b\"; \"say \"\"hi\"\"\");"
                        + " an optional header row prompt,seed[,name]. Images are <out-dir>/<name>.png (name "
                        + "defaults to the row number, 0001); index.csv lists name,prompt,seed,file,settings of every "
                        + "image in the folder; rows whose PNG exists with the same prompt, seed and settings are "
                        + "skipped, so an interrupted batch resumes; a PNG made for another image is never "
                        + "overwritten. One batch per folder at a time."})
public final class GenerateCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model;

    @Mixin
    ModelOptions.Weights weights;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--prompt", paramLabel = "P", description = "The prompt (one image, written to --out).")
        String prompt;

        @Option(names = "--batch", paramLabel = "CSV",
                description = "A CSV file of prompt,seed[,name] rows (images written to --out-dir).")
        Path batch;
    }

    @Option(names = "--batch-size", paramLabel = "B",
            description = "With --batch: sample up to B consecutive rows with the same prompt together, one transformer "
                    + "call per step for all of them (the same images as one at a time; B times the activation memory). "
                    + "Default: 1.")
    Integer batchSize;

    @Option(names = "--lora", paramLabel = "L[:SCALE]",
            description = "A LoRA file (diffusers/peft or kohya) and its strength (default 1); repeat for several.")
    List<String> loras = new ArrayList<>();

    @Option(names = "--steps", paramLabel = "N",
            description = "Sampling steps. Default: the model folder's steps (model_index.json flux_erase_defaults), "
                    + "else 28.")
    Integer steps;

    @Option(names = "--guidance", paramLabel = "G", defaultValue = "3.5",
            description = "Guidance scale, embedded like the timestep (dev models; schnell ignores it). Default: "
                    + "${DEFAULT-VALUE}.")
    double guidance;

    @Option(names = "--width", paramLabel = "W",
            description = "Image width in pixels, a multiple of 16 for FLUX. Default: the model folder's resolution "
                    + "(model_index.json flux_erase_defaults), else 512.")
    Integer width;

    @Option(names = "--height", paramLabel = "H",
            description = "Image height in pixels, a multiple of 16 for FLUX. Default: the model folder's resolution, "
                    + "else 512.")
    Integer height;

    @Option(names = "--t5-length", paramLabel = "N",
            description = "T5 sequence length (FLUX.1-dev: 512; schnell: 256). Default: the model folder's t5_length "
                    + "(model_index.json flux_erase_defaults), else 512.")
    Integer t5Length;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0",
            description = "Seed of the initial noise (single prompt). Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--latents", paramLabel = "F",
            description = "Initial packed latents instead of seeded noise: a safetensors file with tensor latents "
                    + "[1, L, 64], as diffusers' FluxPipeline(latents=...) takes them (single prompt only).")
    Path latents;

    @Option(names = "--out", paramLabel = "PNG", description = "Image to write (with --prompt).")
    Path out;

    @Option(names = "--out-dir", paramLabel = "D", description = "Folder for the images and index.csv (with --batch).")
    Path outDir;

    @Option(names = "--save-latents", paramLabel = "F",
            description = "Also write the final packed latents (tensor latents [1, L, 64], F32) here (single prompt).")
    Path saveLatents;

    @Option(names = "--backend", paramLabel = "B", defaultValue = "auto",
            description = "Transformer backend: auto (cuda when a usable GPU is found, else cpu; the choice and why "
                    + "are printed), cuda, cpu (Vector API, all cores) or naive (the f64-accumulating reference). Text "
                    + "encoders and the VAE run on the CPU. Default: ${DEFAULT-VALUE}.")
    String backend;

    @Option(names = "--cache-dir", paramLabel = "D",
            description = "Prompt embedding cache. Default: ~/.cache/flux-erase/prompts.")
    Path cacheDir;

    @Option(names = "--no-cache", description = "Encode every prompt, read and write no cache.")
    boolean noCache;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if (input.prompt != null) {
            require(out != null, "--prompt needs --out (the PNG to write)");
            require(batchSize == null, "--batch-size goes with --batch, not with a single --prompt");
            require(outDir == null, "--out-dir goes with --batch; for one prompt use --out");
        } else {
            require(outDir != null, "--batch needs --out-dir (the folder for the images)");
            require(out == null, "--out goes with --prompt; for a batch use --out-dir");
            require(latents == null, "--latents works with a single --prompt, not with --batch");
            require(saveLatents == null, "--save-latents works with a single --prompt, not with --batch");
            require(batchSize == null || batchSize >= 1, "--batch-size must be at least 1, got " + batchSize);
        }
        if (out != null) {
            writable("--out", out);
        }
        if (saveLatents != null) {
            writable("--save-latents", saveLatents);
        }
        ModelFolder m = model.resolve(weights);
        Generator.Settings settings = settings(m.defaults());
        List<LoraStack.Entry> loraEntries = loras.stream().map(LoraStack.Entry::parse).toList();
        List<PromptBatch.Item> batch = input.batch != null ? PromptBatch.read(input.batch) : null;
        PromptCache cache = noCache ? null : new PromptCache(cacheDir != null ? cacheDir : PromptCache.defaultDir());
        PrintWriter stdout = spec.commandLine().getOut();
        String described = describe(settings, m, loraEntries);
        // the batch's folder is locked and checked before the model loads, so a refusal costs nothing
        try (FolderLock lock = batch == null ? null : FolderLock.acquire(outDir, holder -> new PipelineException(
                "--out-dir " + outDir + " is in use by another generate batch (" + holder + "); wait for it to end, "
                        + "or choose another folder"))) {
            Map<String, PromptBatch.Indexed> index = batch == null ? null : PromptBatch.readIndex(outDir);
            List<Integer> pending = batch == null ? null : pending(batch, described, index);
            Backend be = Backends.open(backend, System.err::println);
            requireMemory(m, settings, batch == null || batchSize == null ? 1 : batchSize, be);
            try (Generator gen = Generator.open(m, be, cache, loraEntries)) {
                gen.warnings().forEach(w -> System.err.println("flux-erase: warning: " + w));
                if (batch == null) {
                    generateOne(gen, settings, stdout);
                } else {
                    runBatch(gen, settings, described, batch, index, pending, batchSize == null ? 1 : batchSize,
                            stdout);
                }
            }
        }
        stdout.flush();
        return 0;
    }

    /** A size the heap cannot hold is refused here, from the configs alone, before the model loads. */
    private static void requireMemory(ModelFolder m, Generator.Settings s, int images, Backend be) {
        LatentCodec codec = m.openCodec();
        Latents g = new Latents(s.width(), s.height(), codec.downsampleFactor(), codec.latentChannels());
        MemoryEstimate.of(m.transformerConfig(), codec, g, s.t5Length(), images, be.device() == Device.CPU)
                .require("a " + s.width() + "x"
                + s.height() + (images == 1 ? " image" : " batch of " + images + " images"), Runtime.getRuntime()
                .maxMemory());
    }

    private void generateOne(Generator gen, Generator.Settings settings, PrintWriter stdout) {
        Latents g = gen.geometry(settings.width(), settings.height());
        float[] init = latents != null ? LatentsFile.read(latents, g) : null;
        long t0 = System.nanoTime();
        Generator.Result r = gen.generate(input.prompt, settings, seed, init, ProgressBar.onStderr(""));
        Png.write(out, r.image());
        if (saveLatents != null) {
            LatentsFile.write(saveLatents, r.latents(), g, metadata(input.prompt, settings, init == null
                    ? "java.util.Random seed " + seed : "initial latents " + latents));
        }
        stdout.printf(Locale.ROOT, "wrote %s (%dx%d, %d steps, %s, %.1f s)%n", out, settings.width(),
                settings.height(), settings.steps(), init == null ? "seed " + seed : "latents from " + latents,
                (System.nanoTime() - t0) / 1e9);
    }

    /** What decides an image besides its prompt and seed, as index.csv records it. */
    static String describe(Generator.Settings s, ModelFolder m, List<LoraStack.Entry> loras) {
        return String.format(Locale.ROOT, "%dx%d, %d steps, guidance %s, T5 length %d, model %s, LoRAs %s", s.width(),
                s.height(), s.steps(), s.guidance(), s.t5Length(), m.describe(), loras.isEmpty() ? "none"
                        : loras.stream().map(e -> e.file() + ":" + e.scale()).toList());
    }

    /**
     * The rows (indices into the batch) that the folder does not hold yet. A row is done when its PNG exists and
     * index.csv says it was made from the same prompt, seed and settings; a PNG that index.csv ties to another image
     * stops the batch before any work, as overwriting it would lose that image. Consecutive pending rows of one prompt
     * are later sampled together, up to --batch-size.
     */
    private List<Integer> pending(List<PromptBatch.Item> batch, String described,
                                  Map<String, PromptBatch.Indexed> index) {
        List<Integer> pending = new ArrayList<>();
        for (int i = 0; i < batch.size(); i++) {
            PromptBatch.Item it = batch.get(i);
            PromptBatch.Indexed row = index.get(it.file());
            boolean exists = Files.isRegularFile(outDir.resolve(it.file()));
            if (exists && row != null && !row.makes(it, described)) {
                throw new PipelineException(outDir.resolve(it.file()) + " (line " + it.line() + " of the batch) "
                        + "holds another image: index.csv made it from prompt \"" + row.prompt() + "\", seed "
                        + row.seed() + ", " + row.settings() + "; use another --out-dir or another name");
            }
            if (!exists || row == null) {
                pending.add(i);
            }
        }
        return pending;
    }

    /** Samples the pending rows of the (locked) folder and keeps index.csv current after each sampling. */
    private void runBatch(Generator gen, Generator.Settings settings, String described, List<PromptBatch.Item> batch,
                          Map<String, PromptBatch.Indexed> index, List<Integer> pending, int together,
                          PrintWriter stdout) {
        int made = 0;
        int skipped = batch.size() - pending.size();
        for (int p = 0; p < pending.size(); ) {
            PromptBatch.Item first = batch.get(pending.get(p));
            int end = p + 1;
            while (end < pending.size() && end - p < together
                    && batch.get(pending.get(end)).prompt().equals(first.prompt())) {
                end++;
            }
            List<PromptBatch.Item> group = pending.subList(p, end).stream().map(batch::get).toList();
            String label = "[" + (pending.get(p) + 1) + "/" + batch.size() + "] " + first.name()
                    + (group.size() == 1 ? "" : ".." + group.getLast().name() + " (" + group.size() + " images)");
            long[] seeds = group.stream().mapToLong(PromptBatch.Item::seed).toArray();
            List<Generator.Result> results = gen.generate(first.prompt(), settings, seeds,
                    ProgressBar.onStderr(label));
            for (int k = 0; k < group.size(); k++) {
                PromptBatch.Item it = group.get(k);
                Png.write(outDir.resolve(it.file()), results.get(k).image());
                index.put(it.file(), new PromptBatch.Indexed(it.name(), it.prompt(), it.seed(), it.file(),
                        described));
            }
            PromptBatch.writeIndex(outDir, index.values());
            made += group.size();
            p = end;
        }
        stdout.printf(Locale.ROOT, "%d image%s written, %d already there, to %s (index: %s)%n", made,
                made == 1 ? "" : "s", skipped, outDir, outDir.resolve(PromptBatch.INDEX));
    }

    /** The options given, else the model folder's defaults, else FLUX.1-dev's (at 512², T5 length 512, 28 steps). */
    private Generator.Settings settings(ModelDefaults d) {
        return new Generator.Settings(width != null ? width : d.resolution(512),
                height != null ? height : d.resolution(512), steps != null ? steps : d.steps(28), guidance,
                t5Length != null ? t5Length : d.t5Length(512));
    }

    private static Map<String, String> metadata(String prompt, Generator.Settings s, String noise) {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("prompt", prompt);
        meta.put("noise", noise);
        meta.put("steps", Integer.toString(s.steps()));
        meta.put("guidance", Double.toString(s.guidance()));
        meta.put("size", s.width() + "x" + s.height());
        meta.put("t5_length", Integer.toString(s.t5Length()));
        return meta;
    }

    /** A file to write: not a folder, in a folder that exists and may be written, checked before any work. */
    private static void writable(String option, Path file) {
        Path parent = file.toAbsolutePath().getParent();
        require(!Files.isDirectory(file), option + " " + file + " is a folder, expected a file to write");
        require(Files.isDirectory(parent), option + " " + file + ": the folder " + parent + " does not exist");
        require(Files.isWritable(parent), option + " " + file + ": the folder " + parent + " is not writable");
        require(!Files.exists(file) || Files.isWritable(file), option + " " + file + " exists and is not writable");
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new PipelineException(message);
        }
    }

}
