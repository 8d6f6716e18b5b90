package dev.fluxerase.cli;

import dev.fluxerase.pipeline.Generator;
import dev.fluxerase.pipeline.ModelDefaults;
import dev.fluxerase.pipeline.PipelineException;
import picocli.CommandLine.Option;

/** How images are sampled, shared by generate and evaluate, which make their images the same way. */
public final class SamplingOptions {

    @Option(names = "--batch-size", paramLabel = "B",
            description = "For a batch of images: sample up to B consecutive rows with the same prompt together, one "
                    + "transformer call per step for all of them (the same images as one at a time; B times the "
                    + "activation memory). Default: 1.")
    Integer batchSize;

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

    @Option(names = "--backend", paramLabel = "B", defaultValue = "auto",
            description = "Backend of the transformer, the text encoders and the VAE: auto (cuda when a usable GPU is "
                    + "found, else cpu; the choice and why are printed), cuda, cpu (Vector API, all cores) or naive (the "
                    + "f64-accumulating reference). Default: ${DEFAULT-VALUE}.")
    String backend;

    /** The options given, else the model folder's defaults, else FLUX.1-dev's (at 512², T5 length 512, 28 steps). */
    Generator.Settings settings(ModelDefaults d) {
        return new Generator.Settings(width != null ? width : d.resolution(512),
                height != null ? height : d.resolution(512), steps != null ? steps : d.steps(28), guidance,
                t5Length != null ? t5Length : d.t5Length(512));
    }

    /** --batch-size, 1 when not given; one line when below 1. */
    int together() {
        if (batchSize != null && batchSize < 1) {
            throw new PipelineException("--batch-size must be at least 1, got " + batchSize);
        }
        return batchSize == null ? 1 : batchSize;
    }
}
