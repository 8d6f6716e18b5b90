package dev.fluxerase.safetensors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.io.AtomicFiles;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * Writes CPU tensors of any dtype as one safetensors file: {@code __metadata__} first (omitted when empty), tensors in the
 * map's iteration order with contiguous offsets, the header space-padded to a multiple of 8 so the data area starts
 * aligned. Bytes go to a temp file in the target folder, which is fsynced and then atomically renamed over the target, so
 * readers never see a partial file and a failed write leaves the old file untouched.
 */
public final class SafetensorsWriter {
    private static final long STAGING = 8L << 20;

    private SafetensorsWriter() {
    }

    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
        byte[] header = header(file, tensors, metadata);
        Path target = file.toAbsolutePath();
        if (!Files.isDirectory(target.getParent())) {
            throw new SafetensorsException(file + ": cannot write: folder " + target.getParent() + " does not exist");
        }
        Path tmp = AtomicFiles.temporarySibling(target);
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                 Arena arena = Arena.ofConfined()) {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
                writeFully(ch, len);
                writeFully(ch, ByteBuffer.wrap(header));
                // heap-backed tensors (float[] and friends) have no ByteBuffer view, so data goes through one staging buffer
                MemorySegment staging = arena.allocate(STAGING);
                for (Tensor t : tensors.values()) {
                    MemorySegment data = t.data();
                    for (long off = 0; off < data.byteSize(); off += STAGING) {
                        long n = Math.min(STAGING, data.byteSize() - off);
                        MemorySegment.copy(data, off, staging, 0, n);
                        writeFully(ch, staging.asSlice(0, n).asByteBuffer());
                    }
                }
                ch.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            deleteQuietly(tmp, e);
            throw new SafetensorsException(file + ": cannot write: " + e, e);
        } catch (IllegalStateException | IndexOutOfBoundsException e) {
            // a tensor whose memory was freed or is not what its shape says
            deleteQuietly(tmp, e);
            throw new SafetensorsException(file + ": cannot write: " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            deleteQuietly(tmp, e);
            throw e;
        }
    }

    private static void deleteQuietly(Path tmp, Throwable cause) {
        try {
            Files.deleteIfExists(tmp);
        } catch (IOException suppressed) {
            cause.addSuppressed(suppressed);
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** The header JSON, padded with spaces to a multiple of 8 bytes. */
    static byte[] header(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
        ObjectNode root = Header.JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject(Header.METADATA_KEY);
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String name = e.getKey();
            Tensor t = e.getValue();
            if (name.equals(Header.METADATA_KEY)) {
                throw SafetensorsException.tensor(file, name, "reserved name", "any other name", name);
            }
            if (t.device() != Device.CPU) {
                throw SafetensorsException.tensor(file, name, "not a host tensor", Device.CPU, t.device());
            }
            ObjectNode entry = root.putObject(name);
            entry.put("dtype", t.dtype().name());
            ArrayNode shape = entry.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            entry.putArray("data_offsets").add(offset).add(offset + t.byteSize());
            offset += t.byteSize();
        }
        byte[] json;
        try {
            json = Header.JSON.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new SafetensorsException(file + ": cannot encode header: " + e.getOriginalMessage(), e);
        }
        int padded = (json.length + 7) & ~7;
        byte[] out = new byte[padded];
        System.arraycopy(json, 0, out, 0, json.length);
        for (int i = json.length; i < padded; i++) {
            out[i] = ' ';
        }
        return out;
    }
}
