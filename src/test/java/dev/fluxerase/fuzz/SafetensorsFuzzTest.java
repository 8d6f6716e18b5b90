package dev.fluxerase.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.SafetensorsException;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Floats;

/**
 * Any bytes as a .safetensors file: opening and reading every tensor either works or ends in a SafetensorsException;
 * anything else escaping (an IndexOutOfBounds, an OutOfMemoryError, an untyped Jackson exception) fails the test.
 * CI runs the corpus in src/test/resources/.../SafetensorsFuzzTestInputs, then fuzzes for a few seconds (pom.xml).
 */
class SafetensorsFuzzTest {
    @FuzzTest(maxDuration = "20s")
    void open(byte[] data) throws Exception {
        FuzzFiles.through(data, ".safetensors", f -> {
            try (TensorSource s = Safetensors.open(f)) {
                for (String n : s.names()) {
                    if (s.info(n).dtype().isFloat()) {
                        Floats.toF32(s.tensor(n));
                    } else {
                        s.tensor(n);
                    }
                }
            } catch (SafetensorsException expected) {
                // the one failure a bad file may cause
            }
        });
    }
}
