package dev.fluxerase.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.fluxerase.text.T5Tokenizer;
import dev.fluxerase.text.TokenizerException;

/** Any bytes as a T5 tokenizer.json: loaded and able to encode a prompt, or refused with a TokenizerException. */
class T5TokenizerFuzzTest {
    @FuzzTest(maxDuration = "20s")
    void load(byte[] data) throws Exception {
        FuzzFiles.through(data, "-tokenizer.json", f -> {
            try {
                T5Tokenizer.load(f).ids("a red circle on a white background");
            } catch (TokenizerException expected) {
                // a bad tokenizer file ends here, with its one-line message
            }
        });
    }
}
