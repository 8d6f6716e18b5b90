package dev.fluxerase.fuzz;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The readers take paths, as users give them files: each input goes through one temporary file. */
final class FuzzFiles {
    interface Reader {
        void read(Path file);
    }

    private FuzzFiles() {
    }

    static void through(byte[] data, String suffix, Reader reader) throws IOException {
        Path f = Files.createTempFile("flux-erase-fuzz-", suffix);
        try {
            Files.write(f, data);
            reader.read(f);
        } finally {
            Files.deleteIfExists(f);
        }
    }
}
