package dev.fluxerase.cli;

import dev.fluxerase.pipeline.HfCache;
import dev.fluxerase.pipeline.ModelFolder;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The options that locate a FLUX.1 pipeline, shared by doctor, encode-prompt, generate and the trainer. */
public final class ModelOptions {

    @Option(names = "--model", required = true, paramLabel = "M",
            description = "A diffusers FLUX folder (model_index.json, transformer/, text_encoder/, text_encoder_2/, "
                    + "tokenizer/, tokenizer_2/, vae/, scheduler/), a Hugging Face repo id found offline in the hub "
                    + "cache (e.g. black-forest-labs/FLUX.1-dev), or a repo's hub cache folder (models--owner--name).")
    String model;

    @Option(names = "--hf-cache", paramLabel = "DIR",
            description = "Hugging Face hub cache to look repo ids up in. Default: $HF_HUB_CACHE, else $HF_HOME/hub, "
                    + "else ~/.cache/huggingface/hub.")
    Path hfCache;

    /** The transformer and VAE overrides, for commands that load them. */
    public static final class Weights {
        @Option(names = "--transformer", paramLabel = "T",
                description = "Transformer weights instead of the folder's: a BFL single file such as "
                        + "flux1-dev.safetensors, a diffusers file, index or folder. Default: transformer/, else "
                        + "flux1-dev.safetensors or flux1-schnell.safetensors at the folder's root.")
        Path transformer;

        @Option(names = "--vae", paramLabel = "V",
                description = "VAE weights instead of the folder's: BFL ae.safetensors, or a diffusers file or "
                        + "folder. Default: vae/, else ae.safetensors at the folder's root.")
        Path vae;
    }

    /** The resolved folder (weights may be null); one line naming what is wrong when it cannot be. */
    public ModelFolder resolve(Weights weights) {
        return ModelFolder.resolve(model, weights == null ? null : weights.transformer,
                weights == null ? null : weights.vae, hubCache(hfCache));
    }

    /** The hub cache a command's --hf-cache names, else the environment's. */
    static Path hubCache(Path given) {
        return given != null ? given : HfCache.cacheDir(System.getenv(), Path.of(System.getProperty("user.home")));
    }
}
