package dev.fluxerase.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.fluxerase.text.ClipTokenizer;
import dev.fluxerase.text.TokenizerException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Any bytes as CLIP's vocab.json and merges.txt (the input up to its first NUL byte is the vocabulary, the rest the
 * merges, so a seed is the two files joined by one NUL): loaded and able to encode a prompt, or refused with a
 * TokenizerException.
 */
class ClipTokenizerFuzzTest {
    @FuzzTest(maxDuration = "20s")
    void load(byte[] data) throws Exception {
        int nul = 0;
        while (nul < data.length && data[nul] != 0) {
            nul++;
        }
        Path dir = Files.createTempDirectory("flux-erase-fuzz-");
        try {
            Files.write(dir.resolve("vocab.json"), Arrays.copyOfRange(data, 0, nul));
            Files.write(dir.resolve("merges.txt"), Arrays.copyOfRange(data, Math.min(nul + 1, data.length), data.length));
            try {
                ClipTokenizer.load(dir).inputIds("a red circle on a white background");
            } catch (TokenizerException expected) {
                // a bad tokenizer file ends here, with its one-line message
            }
        } finally {
            Files.deleteIfExists(dir.resolve("vocab.json"));
            Files.deleteIfExists(dir.resolve("merges.txt"));
            Files.delete(dir);
        }
    }
}
