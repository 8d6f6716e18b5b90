package dev.fluxerase.pipeline;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Offline lookup in a Hugging Face hub cache ({@code huggingface_hub}'s layout): a repo {@code owner/name} lives in
 * {@code <cache>/models--owner--name/} with {@code refs/main} holding the commit hash of the snapshot that
 * {@code snapshots/<hash>/} mirrors (files there are symlinks into {@code blobs/}). Nothing is downloaded.
 */
public final class HfCache {
    /** A hub repo id: owner/name with the characters the hub allows. */
    private static final Pattern REPO_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*");

    private HfCache() {
    }

    public static boolean isRepoId(String s) {
        return REPO_ID.matcher(s).matches();
    }

    /**
     * The hub cache folder as huggingface_hub picks it: $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub,
     * else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
     */
    public static Path cacheDir(Map<String, String> env, Path home) {
        for (String key : List.of("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")) {
            String v = env.get(key);
            if (v != null && !v.isBlank()) {
                return Path.of(v);
            }
        }
        String hfHome = env.get("HF_HOME");
        if (hfHome != null && !hfHome.isBlank()) {
            return Path.of(hfHome, "hub");
        }
        String xdg = env.get("XDG_CACHE_HOME");
        Path cache = xdg != null && !xdg.isBlank() ? Path.of(xdg) : home.resolve(".cache");
        return cache.resolve("huggingface").resolve("hub");
    }

    /** The cache folder of a repo: {@code models--owner--name}. */
    public static Path repoDir(Path cacheDir, String repoId) {
        return cacheDir.resolve("models--" + repoId.replace("/", "--"));
    }

    /** Whether a folder looks like one repo's cache folder (it has snapshots/). */
    public static boolean isRepoDir(Path dir) {
        return Files.isDirectory(dir.resolve("snapshots"));
    }

    /**
     * The snapshot to use: the one refs/main names when it is present, else the only one, else the most recently
     * modified. Throws one line naming the folder when there is none.
     */
    public static Path snapshot(Path repoDir) {
        Path snapshots = repoDir.resolve("snapshots");
        Path ref = repoDir.resolve("refs").resolve("main");
        if (Files.isRegularFile(ref)) {
            try {
                String hash = Files.readString(ref, StandardCharsets.UTF_8).strip();
                if (!hash.isEmpty() && Files.isDirectory(snapshots.resolve(hash))) {
                    return snapshots.resolve(hash);
                }
            } catch (IOException e) {
                throw new PipelineException(ref + ": cannot read: " + e.getMessage());
            }
        }
        List<Path> all;
        try (Stream<Path> s = Files.list(snapshots)) {
            all = s.filter(Files::isDirectory).toList();
        } catch (IOException e) {
            throw new PipelineException(snapshots + ": cannot list: " + e.getMessage());
        }
        if (all.isEmpty()) {
            throw new PipelineException(snapshots + ": no snapshot (the download did not complete)");
        }
        return all.stream().max(Comparator.comparing(HfCache::modified).thenComparing(Path::toString)).orElseThrow();
    }

    private static FileTime modified(Path p) {
        try {
            return Files.getLastModifiedTime(p);
        } catch (IOException e) {
            return FileTime.fromMillis(0);
        }
    }
}
