package dev.fluxerase.cli;

import dev.fluxerase.pipeline.PromptCache;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The prompt embedding cache, for the commands that encode prompts: encode-prompt, generate and evaluate. */
public final class CacheOptions {

    @Option(names = "--cache-dir", paramLabel = "D",
            description = "Prompt embedding cache. Default: ~/.cache/flux-erase/prompts.")
    Path cacheDir;

    @Option(names = "--no-cache", description = "Encode every prompt, read and write no cache.")
    boolean noCache;

    /** The cache, or null with --no-cache. */
    PromptCache open() {
        return noCache ? null : new PromptCache(cacheDir != null ? cacheDir : PromptCache.defaultDir());
    }
}
