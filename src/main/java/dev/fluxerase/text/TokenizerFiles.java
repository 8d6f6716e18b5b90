package dev.fluxerase.text;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * Finds the tokenizer files: either directly in the given folder, or in the {@code tokenizer/} (CLIP) and
 * {@code tokenizer_2/} (T5) subfolders of a diffusers FLUX folder.
 */
public final class TokenizerFiles {

    static final List<String> CLIP_FILES = List.of("vocab.json", "merges.txt");
    /** A file may also be stored gzipped under its name plus .gz (how the test resources keep them small). */
    static final String GZ = ".gz";
    /**
     * In order of preference, each possibly gzipped: FLUX ships tokenizer.json (what diffusers runs); spiece.model is the
     * slow tokenizer's.
     */
    public static final List<String> T5_FILES = List.of("tokenizer.json", "spiece.model");

    private TokenizerFiles() {
    }

    /** The folder holding vocab.json and merges.txt (each possibly gzipped). */
    static Path clipFolder(Path folder) {
        for (Path dir : List.of(folder, folder.resolve("tokenizer"))) {
            if (CLIP_FILES.stream().allMatch(f -> Files.isRegularFile(file(dir, f)))) {
                return dir;
            }
        }
        throw new TokenizerException("no CLIP tokenizer in " + folder + ": looked for " + String.join(" and ", CLIP_FILES)
                + " in " + folder + " and " + folder.resolve("tokenizer"));
    }

    /** {@code dir/name}, or {@code dir/name.gz} when only that exists. */
    public static Path file(Path dir, String name) {
        Path plain = dir.resolve(name);
        Path gz = dir.resolve(name + GZ);
        return !Files.exists(plain) && Files.isRegularFile(gz) ? gz : plain;
    }

    /** The file's bytes, decompressed when its name ends in .gz. */
    static InputStream open(Path file) throws IOException {
        InputStream raw = Files.newInputStream(file);
        return file.getFileName().toString().endsWith(GZ) ? new GZIPInputStream(raw) : raw;
    }

    /** The T5 tokenizer file: the first of {@link #T5_FILES} in the folder or its tokenizer_2/. */
    static Path t5File(Path folder) {
        if (Files.isRegularFile(folder)) {
            return folder;
        }
        for (Path dir : List.of(folder, folder.resolve("tokenizer_2"))) {
            for (String name : T5_FILES) {
                Path file = file(dir, name);
                if (Files.isRegularFile(file)) {
                    return file;
                }
            }
        }
        throw new TokenizerException("no T5 tokenizer in " + folder + ": looked for " + String.join(" or ", T5_FILES)
                + " (each possibly gzipped) in " + folder + " and " + folder.resolve("tokenizer_2"));
    }
}
