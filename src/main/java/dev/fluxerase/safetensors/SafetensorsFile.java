package dev.fluxerase.safetensors;

import dev.fluxerase.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Set;

/**
 * One safetensors file, memory-mapped once in a shared arena (no 2 GB limit; every tensor is a slice of the one mapping,
 * nothing is copied). Opening parses and validates the header only; tensors are built on request.
 *
 * <p>Layout: an 8-byte little-endian header length N, N bytes of JSON header, then the data area, which the header's
 * {@code data_offsets} index.
 */
public final class SafetensorsFile implements TensorSource {
    /** The limit the reference implementation applies; a larger value is corruption, not a real header. */
    static final long MAX_HEADER_BYTES = 100_000_000L;

    private static final ValueLayout.OfLong U64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final Header header;

    private SafetensorsFile(Path path, Arena arena, MemorySegment data, Header header) {
        this.path = path;
        this.arena = arena;
        this.data = data;
        this.header = header;
    }

    public static SafetensorsFile open(Path path) {
        if (Files.isDirectory(path)) {
            throw new SafetensorsException(path + ": is a folder, expected a .safetensors file");
        }
        long size;
        try {
            size = Files.size(path);
        } catch (NoSuchFileException e) {
            throw new SafetensorsException(path + ": no such file");
        } catch (IOException e) {
            throw new SafetensorsException(path + ": cannot read: " + e.getMessage(), e);
        }
        if (size < 8) {
            throw SafetensorsException.header(path, "file too short for the header length, expected at least 8 bytes, got "
                    + size);
        }
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment map = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long n = map.get(U64_LE, 0);
            long room = size - 8;
            if (n < 0 || n > room) {
                throw SafetensorsException.header(path, "length " + Long.toUnsignedString(n)
                        + " runs past the end of the file, expected at most " + room + ", got " + Long.toUnsignedString(n));
            }
            if (n > MAX_HEADER_BYTES) {
                throw SafetensorsException.header(path, "length too large, expected at most " + MAX_HEADER_BYTES + ", got "
                        + n);
            }
            byte[] json = map.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
            MemorySegment dataArea = map.asSlice(8 + n);
            Header header = Header.parse(path, json, dataArea.byteSize());
            return new SafetensorsFile(path, arena, dataArea, header);
        } catch (IOException e) {
            arena.close();
            throw new SafetensorsException(path + ": cannot map: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    @Override
    public Set<String> names() {
        return header.tensors.keySet();
    }

    @Override
    public boolean contains(String name) {
        return header.tensors.containsKey(name);
    }

    @Override
    public TensorInfo info(String name) {
        TensorInfo info = header.tensors.get(name);
        if (info == null) {
            throw new SafetensorsException(path + ": tensor '" + name + "': not in this file (" + header.tensors.size()
                    + " tensors)");
        }
        return info;
    }

    @Override
    public Tensor tensor(String name) {
        TensorInfo info = info(name);
        if (!arena.scope().isAlive()) {
            throw new IllegalStateException(path + " is closed");
        }
        return Tensor.wrap(info.dtype(), data.asSlice(info.begin(), info.byteSize()), info.shape());
    }

    @Override
    public Map<String, String> metadata() {
        return header.metadata;
    }

    @Override
    public String describe() {
        return path.toString();
    }

    /** Unmaps the file; tensors taken from it must not be used afterwards. */
    @Override
    public synchronized void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
