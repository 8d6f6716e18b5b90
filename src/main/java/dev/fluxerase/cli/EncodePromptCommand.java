package dev.fluxerase.cli;

import dev.fluxerase.pipeline.Backends;
import dev.fluxerase.pipeline.ModelFolder;
import dev.fluxerase.pipeline.PromptCache;
import dev.fluxerase.pipeline.PromptEmbeddings;
import dev.fluxerase.pipeline.PromptEncoder;
import dev.fluxerase.pipeline.PromptFile;
import dev.fluxerase.tensor.Backend;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code flux-erase encode-prompt}: a prompt's FLUX conditioning (token ids, T5 states, CLIP pooled) to a file. */
@Command(name = "encode-prompt", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
                "Tokenize a prompt with the folder's CLIP and T5 tokenizers and run both text encoders as FLUX uses "
                        + "them (padded to 77 and N tokens, no attention mask), then write a safetensors file with "
                        + "t5_ids [1, N] I64, clip_ids [1, 77] I64, t5 [1, N, d_model] F32 (T5 last hidden state, "
                        + "padding included) and clip_pooled [1, hidden] F32 (CLIP pooler output).",
                "Results are cached on disk by (text encoder files, prompt, N); a cached prompt loads no model."},
        footer = {"", "Example:",
                "  flux-erase encode-prompt --model black-forest-labs/FLUX.1-dev --prompt \"a photo of a cat\" "
                        + "--output cat.safetensors"})
public final class EncodePromptCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model;

    @Option(names = "--prompt", required = true, paramLabel = "P", description = "The prompt.")
    String prompt;

    @Option(names = "--output", required = true, paramLabel = "O", description = "Safetensors file to write (atomically).")
    Path output;

    @Option(names = "--t5-length", paramLabel = "N",
            description = "T5 sequence length (FLUX.1-dev: 512; schnell: 256). Default: the model folder's t5_length "
                    + "(model_index.json flux_erase_defaults), else 512.")
    Integer t5Length;

    @Option(names = "--backend", paramLabel = "B", defaultValue = "auto",
            description = "Backend the text encoders run on: auto (cuda when a usable GPU is found, else cpu; the "
                    + "choice and why are printed), cuda, cpu (Vector API, all cores) or naive (the f64-accumulating "
                    + "reference). Default: ${DEFAULT-VALUE}.")
    String backend;

    @Mixin
    CacheOptions caching;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        ModelFolder m = model.resolve(null);
        PromptEncoder.requireFolders(m);
        PromptCache cache = caching.open();
        PromptEmbeddings e;
        try (Backend be = Backends.open(backend, System.err::println);
             PromptEncoder enc = new PromptEncoder(m, be, cache)) {
            e = enc.encode(prompt, t5Length != null ? t5Length : m.defaults().t5Length(512));
        }
        PromptFile.write(output, e, Map.of("prompt", prompt, "model", m.describe()));
        PrintWriter out = spec.commandLine().getOut();
        out.printf("wrote %s: t5 %s, clip_pooled %s%s%n", output, Arrays.toString(e.t5().shape()),
                Arrays.toString(e.clipPooled().shape()),
                cache == null ? "" : cache.hits() > 0 ? " (from the cache)" : " (cached in " + cache.dir() + ")");
        out.flush();
        return 0;
    }
}
