package dev.fluxerase.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.fluxerase.image.Png;
import dev.fluxerase.image.PngException;

/** Any bytes as a PNG (concept images are users' files): decoded, or refused with a PngException, nothing else. */
class PngFuzzTest {
    @FuzzTest(maxDuration = "20s")
    void read(byte[] data) throws Exception {
        FuzzFiles.through(data, ".png", f -> {
            try {
                Png.read(f);
            } catch (PngException expected) {
                // a bad image ends here, with its one-line message
            }
        });
    }
}
