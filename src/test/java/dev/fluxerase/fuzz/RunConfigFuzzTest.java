package dev.fluxerase.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.fluxerase.erase.EraseException;
import dev.fluxerase.erase.RunConfig;

/** Any bytes as an erase run configuration (--config): read and validated, or refused with an EraseException. */
class RunConfigFuzzTest {
    @FuzzTest(maxDuration = "20s")
    void read(byte[] data) throws Exception {
        FuzzFiles.through(data, ".json", f -> {
            try {
                RunConfig.of(RunConfig.readFile(f));
            } catch (EraseException expected) {
                // a bad configuration ends here, with its one-line message naming the key
            }
        });
    }
}
