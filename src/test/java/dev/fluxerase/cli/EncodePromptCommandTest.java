package dev.fluxerase.cli;


import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.testing.ToyFolder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code encode-prompt} on the tiny pipeline: the file's tensors against FluxPipeline's, and the cache. */
class EncodePromptCommandTest {
    static final Path TINY = GenerateCommandTest.TINY;

    @TempDir
    Path tmp;

    @Test
    void writesIdsAndEmbeddingsAndReusesTheCache() {
        Path out = tmp.resolve("cat.safetensors");
        String[] args = {"encode-prompt", "--model", TINY.resolve("model").toString(), "--prompt", "a photo of a cat",
                "--t5-length", "64", "--output", out.toString(), "--cache-dir", tmp.resolve("cache").toString()};
        CliRun r = CliRun.of(args);
        assertEquals(0, r.exit(), r.err());
        assertEquals("wrote " + out + ": t5 [1, 64, 32], clip_pooled [1, 16] (cached in " + tmp.resolve("cache") + ")",
                r.out().strip());
        try (TensorSource s = Safetensors.open(out)) {
            assertEquals(DType.I64, s.info("t5_ids").dtype());
            assertArrayEquals(new long[]{1, 77}, s.info("clip_ids").shape());
            assertEquals(DType.F32, s.info("t5").dtype());
            long[] clip = new long[77];
            long[] t5 = new long[64];
            for (int i = 0; i < 77; i++) {
                clip[i] = s.tensor("clip_ids").data().getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i);
            }
            for (int i = 0; i < 64; i++) {
                t5[i] = s.tensor("t5_ids").data().getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i);
            }
            assertEquals(49406, clip[0]);
            assertEquals(2368, clip[5]);
            assertEquals(49407, clip[6]);
            assertEquals(1, t5[7]);
            assertEquals(0, t5[8]);
            float[] ref = GenerateCommandTest.reference("cat_32_s4", "f64.pooled_prompt_embeds");
            float[] got = Floats.toF32(s.tensor("clip_pooled"));
            for (int i = 0; i < ref.length; i++) {
                assertEquals(ref[i], got[i], 2e-5f * 2, "pooled " + i);
            }
            assertEquals("a photo of a cat", s.metadata().get("prompt"));
        }
        CliRun again = CliRun.of(args);
        assertEquals(0, again.exit(), again.err());
        assertTrue(again.out().strip().endsWith("(from the cache)"), again.out());
    }

    @Test
    void missingTokenizerIsOneLine() throws Exception {
        Path m = tmp.resolve("m");
        Files.createDirectories(m);
        for (String s : new String[]{"text_encoder", "text_encoder_2", "tokenizer_2"}) {
            Files.createSymbolicLink(m.resolve(s), TINY.resolve("model").resolve(s));
        }
        CliRun r = CliRun.of("encode-prompt", "--model", m.toString(), "--prompt", "a", "--output",
                tmp.resolve("o.safetensors").toString(), "--no-cache");
        assertEquals(1, r.exit());
        assertEquals("flux-erase: " + m + ": no tokenizer: looked for tokenizer/ with vocab.json and merges.txt",
                r.err().strip());
        for (String s : new String[]{"text_encoder", "text_encoder_2", "tokenizer_2"}) {
            Files.delete(m.resolve(s));
        }
    }

    /** --t5-length, else the folder's t5_length, else 512. */
    @Test
    void t5LengthComesFromTheOptionThenTheModelFolder() {
        Path toy = ToyFolder.create(tmp.resolve("toy"), "{\"t5_length\": 8}");
        Path out = tmp.resolve("p.safetensors");
        String[] base = {"encode-prompt", "--prompt", "a cat", "--output", out.toString(), "--no-cache", "--model"};
        CliRun folder = CliRun.of(concat(base, toy.toString()));
        assertEquals(0, folder.exit(), folder.err());
        assertEquals("wrote " + out + ": t5 [1, 8, 32], clip_pooled [1, 16]", folder.out().strip());
        CliRun given = CliRun.of(concat(base, toy.toString(), "--t5-length", "12"));
        assertEquals("wrote " + out + ": t5 [1, 12, 32], clip_pooled [1, 16]", given.out().strip());
        CliRun builtIn = CliRun.of(concat(base, TINY.resolve("model").toString()));
        assertEquals("wrote " + out + ": t5 [1, 512, 32], clip_pooled [1, 16]", builtIn.out().strip());
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
