package dev.fluxerase.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.fluxerase.flux.FluxConfig;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Any text as a transformer config.json: read, or refused with one line that names the file (the config readers report
 * through IllegalArgumentException with the file first); a NullPointerException, ClassCastException or the like fails.
 */
class FluxConfigFuzzTest {
    @FuzzTest(maxDuration = "20s")
    void read(byte[] data) throws Exception {
        FuzzFiles.through(data, ".json", f -> {
            try {
                FluxConfig.read(f);
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage().startsWith(f.toString()) && !e.getMessage().contains("\n"), e.getMessage());
            }
        });
    }
}
