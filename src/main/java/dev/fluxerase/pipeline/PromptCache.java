package dev.fluxerase.pipeline;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.function.Supplier;

/**
 * An on-disk cache of prompt embeddings, one {@link PromptFile} per (encoder identity, prompt, T5 length), named by the
 * SHA-256 of the three. Entries are written atomically, so concurrent runs and crashes leave either no entry or a
 * complete one. An entry is used only when its metadata repeats the exact key; an unreadable entry counts as a miss
 * and is rewritten.
 */
public final class PromptCache {
    private static final String KEY_IDENTITY = "encoders";
    private static final String KEY_PROMPT = "prompt";
    private static final String KEY_LENGTH = "t5_length";

    static final Duration STALE_AFTER = Duration.ofHours(1);

    private final Path dir;
    private int hits;
    private int misses;

    /**
     * Processes share the folder without a lock, so only temporaries older than {@link #STALE_AFTER} (a prompt file is
     * written in well under a second) are taken as left by a killed process and removed.
     */
    public PromptCache(Path dir) {
        this.dir = dir;
        StaleTemporaries.remove(dir, STALE_AFTER);
    }

    /** ~/.cache/flux-erase/prompts (under $XDG_CACHE_HOME when that is set). */
    public static Path defaultDir(Map<String, String> env, Path home) {
        String xdg = env.get("XDG_CACHE_HOME");
        Path cache = xdg != null && !xdg.isBlank() ? Path.of(xdg) : home.resolve(".cache");
        return cache.resolve("flux-erase").resolve("prompts");
    }

    public static Path defaultDir() {
        return defaultDir(System.getenv(), Path.of(System.getProperty("user.home")));
    }

    public Path dir() {
        return dir;
    }

    public int hits() {
        return hits;
    }

    public int misses() {
        return misses;
    }

    /** The entry file for a key (whether or not it exists). */
    public Path entry(String identity, String prompt, int t5Length) {
        return dir.resolve(hash(identity + "\u0000" + t5Length + "\u0000" + prompt) + ".safetensors");
    }

    /** The cached embeddings for the key, else {@code compute}'s result, stored before it is returned. */
    public PromptEmbeddings get(String identity, String prompt, int t5Length, Supplier<PromptEmbeddings> compute) {
        Path file = entry(identity, prompt, t5Length);
        if (Files.isRegularFile(file)) {
            PromptEmbeddings found = tryRead(file, identity, prompt, t5Length);
            if (found != null) {
                hits++;
                return found;
            }
        }
        misses++;
        PromptEmbeddings e = compute.get();
        try {
            Files.createDirectories(dir);
        } catch (IOException ex) {
            throw new PipelineException("prompt cache " + dir + ": cannot create folder: " + ex.getMessage(), ex);
        }
        PromptFile.write(file, e, Map.of(KEY_IDENTITY, identity, KEY_PROMPT, prompt, KEY_LENGTH,
                Integer.toString(t5Length)));
        return e;
    }

    private static PromptEmbeddings tryRead(Path file, String identity, String prompt, int t5Length) {
        try {
            PromptFile.Read r = PromptFile.read(file);
            Map<String, String> m = r.metadata();
            boolean same = identity.equals(m.get(KEY_IDENTITY)) && prompt.equals(m.get(KEY_PROMPT))
                    && Integer.toString(t5Length).equals(m.get(KEY_LENGTH)) && r.embeddings().t5Length() == t5Length;
            return same ? r.embeddings() : null;
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static String hash(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
