package dev.fluxerase.cli;

import dev.fluxerase.image.Png;
import dev.fluxerase.pipeline.Backends;
import dev.fluxerase.pipeline.BatchRun;
import dev.fluxerase.pipeline.FolderLock;
import dev.fluxerase.pipeline.Generator;
import dev.fluxerase.pipeline.Latents;
import dev.fluxerase.pipeline.LatentsFile;
import dev.fluxerase.pipeline.LoraStack;
import dev.fluxerase.pipeline.ModelFolder;
import dev.fluxerase.pipeline.PipelineException;
import dev.fluxerase.pipeline.ProgressBar;
import dev.fluxerase.pipeline.PromptBatch;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import picocli.CommandLine.ArgGroup;
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

    @Mixin
    SamplingOptions sampling;

    @Mixin
    CacheOptions cache;

    @Mixin
    ActivationsOption activations;

    @Option(names = "--lora", paramLabel = "L[:SCALE]",
            description = "A LoRA file (diffusers/peft or kohya) and its strength (default 1); repeat for several.")
    List<String> loras = new ArrayList<>();

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

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if (input.prompt != null) {
            require(out != null, "--prompt needs --out (the PNG to write)");
            require(sampling.batchSize == null, "--batch-size goes with --batch, not with a single --prompt");
            require(outDir == null, "--out-dir goes with --batch; for one prompt use --out");
        } else {
            require(outDir != null, "--batch needs --out-dir (the folder for the images)");
            require(out == null, "--out goes with --prompt; for a batch use --out-dir");
            require(latents == null, "--latents works with a single --prompt, not with --batch");
            require(saveLatents == null, "--save-latents works with a single --prompt, not with --batch");
        }
        int together = sampling.together();
        if (out != null) {
            writable("--out", out);
        }
        if (saveLatents != null) {
            writable("--save-latents", saveLatents);
        }
        ModelFolder m = model.resolve(weights);
        Generator.Settings settings = sampling.settings(m.defaults());
        List<LoraStack.Entry> loraEntries = loras.stream().map(LoraStack.Entry::parse).toList();
        List<PromptBatch.Item> batch = input.batch != null ? PromptBatch.read(input.batch) : null;
        PrintWriter stdout = spec.commandLine().getOut();
        DType mlp = activations.dtype();
        // BF16 activations give other pixels, so a batch resumed with them must not take the F32 images for its own
        String described = settings.describe(m, loraEntries) + (mlp == DType.F32 ? "" : ", bf16 MLP activations");
        // the batch's folder is locked and checked before the model loads, so a refusal costs nothing
        try (FolderLock lock = batch == null ? null : FolderLock.acquire(outDir, holder -> new PipelineException(
                "--out-dir " + outDir + " is in use by another generate batch (" + holder + "); wait for it to end, "
                        + "or choose another folder"))) {
            BatchRun run = batch == null ? null : BatchRun.plan(outDir, batch, described,
                    it -> "line " + it.line() + " of the batch", "use another --out-dir or another name");
            // the backend is closed after the generator, which frees its tensors on it first
            try (Backend be = Backends.open(sampling.backend, System.err::println)) {
                Generator.requireMemory(m, settings, together, be);
                try (Generator gen = Generator.open(m, be, cache.open(), loraEntries)) {
                    gen.model().setMlpActivations(mlp);
                    gen.warnings().forEach(w -> System.err.println("flux-erase: warning: " + w));
                    if (batch == null) {
                        generateOne(gen, settings, stdout);
                    } else {
                        int made = run.run(gen, settings, together, "");
                        stdout.printf(Locale.ROOT, "%d image%s written, %d already there, to %s (index: %s)%n",
                                made, made == 1 ? "" : "s", run.skipped(), outDir, outDir.resolve(PromptBatch.INDEX));
                    }
                }
            }
        }
        stdout.flush();
        return 0;
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
