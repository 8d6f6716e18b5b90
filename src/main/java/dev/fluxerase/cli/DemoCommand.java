package dev.fluxerase.cli;

import dev.fluxerase.pipeline.Backends;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.toy.Demo;
import dev.fluxerase.toy.Shape;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code flux-erase demo}: erasure shown with numbers in the toy world. */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
                "Erase a shape from the toy FLUX model (weights/toy) with the real EraseAnything trainer, then let a "
                        + "shape classifier count what the model draws before and after, on the same noises: the "
                        + "erased shape's prompt, its synonyms seen in training, held-out paraphrases and every other "
                        + "shape. Prints the table and writes report.json, grid.png (rows = prompts, before | after), "
                        + "the LoRA and the erase run record into --out.",
                "A few minutes on 2 cores; progress on stderr."},
        footer = {"", "Example:", "  flux-erase demo", "  flux-erase demo --concept star --mode released --seed 2"})
public final class DemoCommand implements Callable<Integer> {

    @Option(names = "--concept", paramLabel = "SHAPE", defaultValue = "circle",
            description = "Shape to erase: circle, square, triangle, star, cross or ring. Default: ${DEFAULT-VALUE}.")
    String concept;

    @Option(names = "--mode", paramLabel = "M", defaultValue = "paper",
            description = "paper or released (the authors' code), as erase --mode. Default: ${DEFAULT-VALUE}.")
    String mode;

    @Option(names = "--samples", paramLabel = "N", defaultValue = "32",
            description = "Images per prompt, before and after. Default: ${DEFAULT-VALUE}.")
    int samples;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0",
            description = "Seed of the erase run and of the sampling noises. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "demo-out",
            description = "Output folder (an earlier demo's output there is replaced). Default: ${DEFAULT-VALUE}.")
    Path out;

    @Option(names = "--erase-steps", paramLabel = "N", defaultValue = "" + DEFAULT_ERASE_STEPS,
            description = "Steps of the erase run. Default: ${DEFAULT-VALUE}.")
    int eraseSteps;

    @Option(names = "--model", paramLabel = "DIR", defaultValue = "weights/toy",
            description = "The toy model folder. Default: ${DEFAULT-VALUE}.")
    Path model;

    @Option(names = "--backend", paramLabel = "B", defaultValue = "cpu",
            description = "cpu or naive, for sampling. Default: ${DEFAULT-VALUE}.")
    String backend;

    @Spec
    CommandSpec spec;

    static final int DEFAULT_ERASE_STEPS = 200;

    @Override
    public Integer call() {
        Shape shape = Demo.shape(concept);
        if (!mode.equals("paper") && !mode.equals("released")) {
            throw new IllegalArgumentException("--mode " + mode + ": expected paper or released");
        }
        Demo.Settings s = new Demo.Settings(model, shape, mode, samples, seed, out, eraseSteps);
        List<Demo.Row> rows;
        try (Backend be = Backends.host(backend, "demo")) {
            rows = Demo.run(s, be, System.err);
        }
        PrintWriter o = spec.commandLine().getOut();
        o.printf(Locale.ROOT, "erased \"%s\" (%s mode, %d steps, seed %d); share of %d images drawn as the shape:%n",
                shape.word(), mode, eraseSteps, seed, samples);
        o.print(Demo.table(rows));
        o.println("wrote " + out.resolve("report.json") + ", " + out.resolve("grid.png") + ", "
                + out.resolve("erase/pytorch_lora_weights.safetensors"));
        o.flush();
        return 0;
    }
}
