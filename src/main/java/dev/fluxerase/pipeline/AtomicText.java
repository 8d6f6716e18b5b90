package dev.fluxerase.pipeline;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Text files (configs, tokenizers, reports, indexes, logs) written to a temp file and renamed; the temp name is fixed,
 * so a file has one writer at a time (the folder lock, or a folder only one process writes).
 */
public final class AtomicText {
    private AtomicText() {
    }

    /** Writes {@code text} as UTF-8; a crash leaves the old file or the new one, never a part. */
    public static void write(Path file, String text) {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot write: " + e.getMessage(), e);
        }
    }
}
