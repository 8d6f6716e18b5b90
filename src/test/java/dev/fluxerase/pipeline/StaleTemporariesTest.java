package dev.fluxerase.pipeline;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** What a kill -9 in the middle of an atomic write leaves behind is cleaned at the next start, and nothing else. */
class StaleTemporariesTest {
    @TempDir
    Path dir;

    private List<String> files() throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private void leftovers() throws Exception {
        Path old = Files.writeString(dir.resolve("a.safetensors.tmp-1f3a9c"), "partial");
        Files.setLastModifiedTime(old, FileTime.from(Instant.now().minus(Duration.ofHours(2))));
        Files.writeString(dir.resolve("b.png.tmp-7"), "being written");
        Files.writeString(dir.resolve("a.safetensors"), "done");
        Files.writeString(dir.resolve("notes.tmp-draft"), "not ours");
    }

    @Test
    void thePromptCacheRemovesOnlyTemporariesOldEnoughToBeAbandoned() throws Exception {
        leftovers();
        new PromptCache(dir);
        assertEquals(List.of("a.safetensors", "b.png.tmp-7", "notes.tmp-draft"), files());
    }

    @Test
    void aLockedFolderHasNoWriterLeftSoEveryTemporaryGoes() throws Exception {
        leftovers();
        try (FolderLock lock = FolderLock.acquire(dir, h -> new IllegalStateException(h))) {
            assertEquals(List.of(FolderLock.FILE, "a.safetensors", "notes.tmp-draft"), files());
        }
    }
}
