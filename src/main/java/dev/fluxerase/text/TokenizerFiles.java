package dev.fluxerase.text;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Finds the tokenizer files: either directly in the given folder, or in the {@code tokenizer/} (CLIP) and
 * {@code tokenizer_2/} (T5) subfolders of a diffusers FLUX folder.
 */
final class TokenizerFiles {

    static final List<String> CLIP_FILES = List.of("vocab.json", "merges.txt");
    /** In order of preference: FLUX ships tokenizer.json (what diffusers runs); spiece.model is the slow tokenizer's. */
    static final List<String> T5_FILES = List.of("tokenizer.json", "tokenizer.json.gz", "spiece.model");

    private TokenizerFiles() {
    }

    /** The folder holding vocab.json and merges.txt. */
    static Path clipFolder(Path folder) {
        for (Path dir : List.of(folder, folder.resolve("tokenizer"))) {
            if (CLIP_FILES.stream().allMatch(f -> Files.isRegularFile(dir.resolve(f)))) {
                return dir;
            }
        }
        throw new TokenizerException("no CLIP tokenizer in " + folder + ": looked for " + String.join(" and ", CLIP_FILES)
                + " in " + folder + " and " + folder.resolve("tokenizer"));
    }

    /** The T5 tokenizer file: tokenizer.json, tokenizer.json.gz or spiece.model, in the folder or its tokenizer_2/. */
    static Path t5File(Path folder) {
        if (Files.isRegularFile(folder)) {
            return folder;
        }
        for (Path dir : List.of(folder, folder.resolve("tokenizer_2"))) {
            for (String name : T5_FILES) {
                if (Files.isRegularFile(dir.resolve(name))) {
                    return dir.resolve(name);
                }
            }
        }
        throw new TokenizerException("no T5 tokenizer in " + folder + ": looked for " + String.join(", ", T5_FILES)
                + " in " + folder + " and " + folder.resolve("tokenizer_2"));
    }
}
