package dev.fluxerase.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AtomicFilesTest {
    @TempDir
    Path tmp;

    @Test
    void replacesTheFileAndLeavesNothingElse() throws IOException {
        Path f = tmp.resolve("run.json");
        AtomicFiles.writeText(f, "first");
        AtomicFiles.writeText(f, "second ü");
        assertEquals("second ü", Files.readString(f));
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of(f), s.toList());
        }
    }

    /** StaleTemporaries recognises what a killed writer left by this name, so every writer must use it. */
    @Test
    void temporariesAreFreshAndNamedAsStaleTemporariesExpects() {
        Path a = AtomicFiles.temporarySibling(tmp.resolve("x.png"));
        Path b = AtomicFiles.temporarySibling(tmp.resolve("x.png"));
        assertNotEquals(a, b);
        assertEquals(tmp.toAbsolutePath(), a.getParent());
        assertTrue(AtomicFiles.TEMPORARY.matcher(a.getFileName().toString()).matches(), a.toString());
        assertTrue(a.getFileName().toString().startsWith("x.png.tmp-"), a.toString());
    }

    @Test
    void aFailedWriteNamesTheFile() {
        Path f = tmp.resolve("missing").resolve("index.csv");
        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> AtomicFiles.writeText(f, "x"));
        assertTrue(e.getMessage().startsWith(f + ": cannot write: "), e.getMessage());
    }
}
