package dev.fluxerase.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.fluxerase.eval.ClipImageProcessor;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Any bytes as a CLIP preprocessor_config.json: read, or refused with one line that starts with the file's name (the
 * config readers report through IllegalArgumentException); anything else escaping fails.
 */
class ClipPreprocessorFuzzTest {
    @FuzzTest(maxDuration = "20s")
    void read(byte[] data) throws Exception {
        FuzzFiles.through(data, "-preprocessor_config.json", f -> {
            try {
                ClipImageProcessor.read(f);
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage().startsWith(f.toString()) && !e.getMessage().contains("\n"), e.getMessage());
            }
        });
    }
}
