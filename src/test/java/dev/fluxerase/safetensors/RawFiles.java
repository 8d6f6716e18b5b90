package dev.fluxerase.safetensors;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Hand-built safetensors bytes for tests: a header length, a header string and data, each exactly as given. */
final class RawFiles {
    private RawFiles() {
    }

    static Path write(Path file, long headerLength, String header, int dataBytes) {
        return write(file, headerLength, header.getBytes(StandardCharsets.UTF_8), dataBytes);
    }

    /** The header as raw bytes (any encoding, or none). */
    static Path write(Path file, long headerLength, byte[] h, int dataBytes) {
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(headerLength).put(h);
        try {
            Files.write(file, b.array());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    /** A well-formed file: the header length is the header's true length. */
    static Path write(Path file, String header, int dataBytes) {
        return write(file, header.getBytes(StandardCharsets.UTF_8).length, header, dataBytes);
    }
}
