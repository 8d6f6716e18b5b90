package dev.fluxerase.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.fluxerase.lora.LoraException;
import dev.fluxerase.lora.LoraSet;
import dev.fluxerase.safetensors.SafetensorsException;

/** Any bytes as a LoRA file: loaded, or refused with a LoraException or SafetensorsException, nothing else. */
class LoraFuzzTest {
    @FuzzTest(maxDuration = "20s")
    void load(byte[] data) throws Exception {
        FuzzFiles.through(data, ".safetensors", f -> {
            try {
                LoraSet.load(f);
            } catch (LoraException | SafetensorsException expected) {
                // a bad LoRA file ends here, with its one-line message
            }
        });
    }
}
