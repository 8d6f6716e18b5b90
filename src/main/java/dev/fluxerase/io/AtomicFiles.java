package dev.fluxerase.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/**
 * Files written whole or not at all: into a temporary sibling {@code NAME.tmp-HEX}, then renamed over NAME, so a crash
 * leaves the old file or the new one, never a part. Every writer of ours names its temporaries this way (a random part,
 * so two writers never share one), which is what lets {@code StaleTemporaries} recognise what a killed writer left.
 */
public final class AtomicFiles {
    /** The names {@link #temporarySibling} gives. */
    public static final Pattern TEMPORARY = Pattern.compile(".+\\.tmp-[0-9a-f]{1,16}");

    private AtomicFiles() {
    }

    /** A fresh temporary name beside {@code target} (which it then replaces by rename). */
    public static Path temporarySibling(Path target) {
        Path t = target.toAbsolutePath();
        return t.resolveSibling(t.getFileName() + ".tmp-" + Long.toHexString(ThreadLocalRandom.current().nextLong()
                >>> 1));
    }

    /** Writes {@code bytes} to {@code file} atomically; on failure the temporary is removed and the error rethrown. */
    public static void write(Path file, byte[] bytes) throws IOException {
        Path tmp = temporarySibling(file);
        try {
            Files.write(tmp, bytes, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            Files.move(tmp, file.toAbsolutePath(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // the write already failed; that error is the one to report
            }
            throw e;
        }
    }

    /** UTF-8 text (configs, tokenizers, reports, indexes, logs), atomically; an I/O failure names the file. */
    public static void writeText(Path file, String text) {
        try {
            write(file, text.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot write: " + e.getMessage(), e);
        }
    }
}
