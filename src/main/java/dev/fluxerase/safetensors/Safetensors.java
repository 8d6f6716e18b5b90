package dev.fluxerase.safetensors;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** Opens whatever a user points at: a .safetensors file, a sharded checkpoint's index JSON, or a folder holding either. */
public final class Safetensors {
    private Safetensors() {
    }

    /**
     * A file ending in .json is an index; a folder must hold exactly one {@code *.index.json} (sharded) or else exactly
     * one {@code *.safetensors} file.
     */
    public static TensorSource open(Path path) {
        if (Files.isDirectory(path)) {
            return openFolder(path);
        }
        if (!Files.exists(path)) {
            throw new SafetensorsException(path + ": no such file or folder");
        }
        if (path.getFileName().toString().endsWith(".json")) {
            return ShardedSafetensors.open(path);
        }
        return SafetensorsFile.open(path);
    }

    /** The bytes of every tensor that {@link #open} finds at {@code path}, from the headers alone. */
    public static long tensorBytes(Path path) {
        try (TensorSource s = open(path)) {
            long bytes = 0;
            for (String name : s.names()) {
                bytes += s.info(name).byteSize();
            }
            return bytes;
        }
    }

    private static TensorSource openFolder(Path folder) {
        List<String> files;
        try (Stream<Path> s = Files.list(folder)) {
            files = s.filter(Files::isRegularFile).map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new SafetensorsException(folder + ": cannot list folder: " + e.getMessage(), e);
        }
        List<String> indexes = files.stream().filter(f -> f.endsWith(".safetensors.index.json")).toList();
        if (indexes.size() == 1) {
            return ShardedSafetensors.open(folder.resolve(indexes.getFirst()));
        }
        List<String> singles = files.stream().filter(f -> f.endsWith(".safetensors")).toList();
        if (indexes.isEmpty() && singles.size() == 1) {
            return SafetensorsFile.open(folder.resolve(singles.getFirst()));
        }
        String hint = Files.isDirectory(folder.resolve("transformer"))
                ? " (for a diffusers pipeline folder, pass its transformer/ subfolder)" : "";
        throw new SafetensorsException(folder + ": expected one *.safetensors.index.json or exactly one *.safetensors"
                + " file, found " + (indexes.isEmpty() && singles.isEmpty() ? "none"
                : String.join(", ", Stream.concat(indexes.stream(), singles.stream()).toList())) + hint);
    }
}
