package dev.fluxerase.toy;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.pipeline.ModelFolder;
import dev.fluxerase.pipeline.PromptEmbeddings;
import dev.fluxerase.pipeline.PromptEncoder;
import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.text.ClipTextConfig;
import dev.fluxerase.text.ClipTextModel;
import dev.fluxerase.text.ClipTokenizer;
import dev.fluxerase.text.T5Config;
import dev.fluxerase.text.T5Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The toy text folders: read by the pipeline's own loaders, every word one token, any text tokenizable, byte-identical
 * for one seed, and encoders whose outputs tell the words apart.
 */
class ToyTextTest {
    static final List<String> WORDS = List.of("a", "circle", "disc", "dot", "square", "box", "red", "blue", "on",
            "background");
    static final int T5_LENGTH = 16;
    static final long SEED = 7;
    /** Both encoders' width. */
    static final int W = ToyText.Sizes.DEFAULT.t5Model();

    @TempDir
    static Path shared;
    static Path model;

    @BeforeAll
    static void writeModel() {
        model = shared.resolve("toy");
        ToyText.write(model, WORDS, T5_LENGTH, SEED);
    }

    static PromptEncoder encoder() {
        return new PromptEncoder(ModelFolder.resolve(model.toString(), null, null, Path.of("/nonexistent-hub")),
                new CpuBackend(), null);
    }

    @Test
    void pipelineEncodesPromptsWithTheToyFolder() {
        ClipTokenizer clip = ClipTokenizer.load(model);
        T5Tokenizer t5 = T5Tokenizer.load(model);
        try (PromptEncoder enc = encoder()) {
            PromptEmbeddings e = enc.encode("a circle", T5_LENGTH);
            assertArrayEquals(new long[]{1, T5_LENGTH, W}, e.t5().shape());
            assertArrayEquals(new long[]{1, W}, e.clipPooled().shape());
            int[] t5Ids = e.t5Ids();
            assertEquals("\u2581a", t5.tokenText(t5Ids[0]));
            assertEquals("\u2581circle", t5.tokenText(t5Ids[1]));
            assertEquals(1, t5Ids[2]);
            assertTrue(Arrays.stream(t5Ids, 3, T5_LENGTH).allMatch(id -> id == 0), Arrays.toString(t5Ids));
            int[] clipIds = e.clipIds();
            assertEquals(clip.bosId(), clipIds[0]);
            assertEquals("circle", clip.decode(clipIds[2]));
            assertEquals(clip.eosId(), clipIds[3]);

            // both pooling rules (legacy argmax of the ids, first eos_token_id) pick the first end token
            ClipTextConfig config = ClipTextConfig.read(model.resolve("text_encoder/config.json"));
            assertEquals(clip.eosId(), config.eosTokenId());
            assertEquals(3, ClipTextModel.pooledIndex(clipIds, config));
            assertEquals(clip.eosId(), Arrays.stream(clipIds).max().orElseThrow());

            // outputs end in a norm with scale 1: every state has norm √width
            float[] states = Floats.toF32(e.t5());
            for (int p = 0; p < T5_LENGTH; p++) {
                double n = norm(Arrays.copyOfRange(states, p * W, p * W + W));
                assertEquals(Math.sqrt(W), n, 0.01, "T5 state norm at " + p);
            }
            assertEquals(Math.sqrt(W), norm(Floats.toF32(e.clipPooled())), 0.01, "CLIP pooled norm");
        }
    }

    @Test
    void everyWordIsOneTokenAndAnyTextTokenizes() {
        ClipTokenizer clip = ClipTokenizer.load(model);
        T5Tokenizer t5 = T5Tokenizer.load(model);
        for (String w : WORDS) {
            int[] t5Ids = t5.ids(w);
            assertEquals(2, t5Ids.length, w + ": " + Arrays.toString(t5Ids));
            assertEquals("\u2581" + w, t5.tokenText(t5Ids[0]));
            int[] clipIds = clip.contentIds(w);
            assertEquals(1, clipIds.length, w + ": " + Arrays.toString(clipIds));
            assertEquals(w + "</w>", clip.tokenText(clipIds[0]));
        }
        assertEquals(8, t5.ids("a red circle on a blue background").length);
        assertEquals(7, clip.contentIds("a red circle on a blue background").length);

        for (String text : List.of("Zebra 42!?", "circles, squares & discs ~ {x}")) {
            int[] t5Ids = t5.ids(text);
            assertFalse(Arrays.stream(t5Ids).anyMatch(id -> id == t5.unkId()), text + ": " + Arrays.toString(t5Ids));
            assertFalse(Arrays.stream(clip.contentIds(text)).anyMatch(id -> id == clip.eosId()), text);
        }
        // CLIP's byte-level symbols cover every byte; T5 has only ASCII pieces, so the rest is <unk>
        assertFalse(Arrays.stream(clip.contentIds("café ☕ 猫")).anyMatch(id -> id == clip.eosId()));
        assertEquals(List.of("\u2581", "c", "a", "f", "<unk>", "\u2581", "<unk>", "</s>"),
                Arrays.stream(t5.ids("café ☕")).mapToObj(t5::tokenText).toList());
    }

    @Test
    void vocabulariesAreContiguousAndMatchTheConfigs() throws IOException {
        ClipTokenizer clip = ClipTokenizer.load(model);
        int clipVocab = ClipTextConfig.read(model.resolve("text_encoder/config.json")).vocabSize();
        for (int id = 0; id < clipVocab; id++) {
            clip.tokenText(id);
        }
        assertThrows(IllegalArgumentException.class, () -> clip.tokenText(clipVocab));
        assertEquals(clipVocab - 1, clip.eosId());
        assertEquals(clipVocab - 2, clip.bosId());
        // 2 specials + 512 byte symbols + one token per merge
        long merges = Files.readAllLines(model.resolve("tokenizer/merges.txt")).size() - 1;
        assertEquals(514 + merges, clipVocab);

        T5Tokenizer t5 = T5Tokenizer.load(model);
        int t5Vocab = T5Config.read(model.resolve("text_encoder_2/config.json")).vocabSize();
        assertEquals(3 + WORDS.size() + 1 + 94, t5Vocab);
        t5.tokenText(t5Vocab - 1);
        assertThrows(IllegalArgumentException.class, () -> t5.tokenText(t5Vocab));
        try (TensorSource s = Safetensors.open(model.resolve("text_encoder_2"))) {
            assertArrayEquals(new long[]{t5Vocab, W}, s.info("shared.weight").shape());
        }
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherWeights(@TempDir Path tmp) throws IOException {
        ToyText.write(tmp.resolve("same"), WORDS, T5_LENGTH, SEED);
        ToyText.write(tmp.resolve("other"), WORDS, T5_LENGTH, SEED + 1);
        List<Path> files = files(model);
        assertEquals(files, files(tmp.resolve("same")));
        assertEquals(11, files.size(), files.toString());
        for (Path f : files) {
            byte[] bytes = Files.readAllBytes(model.resolve(f));
            assertArrayEquals(bytes, Files.readAllBytes(tmp.resolve("same").resolve(f)), f.toString());
            boolean weights = f.getFileName().toString().endsWith(".safetensors");
            assertEquals(!weights, Arrays.equals(bytes, Files.readAllBytes(tmp.resolve("other").resolve(f))),
                    f.toString());
        }
    }

    @Test
    void encodersTellWordsApart() {
        try (PromptEncoder enc = encoder()) {
            PromptEmbeddings circle = enc.encode("a circle", T5_LENGTH);
            PromptEmbeddings square = enc.encode("a square", T5_LENGTH);
            PromptEmbeddings redCircle = enc.encode("a red circle", T5_LENGTH);
            double cross = cos(t5State(circle, 1), t5State(square, 1));
            double same = cos(t5State(circle, 1), t5State(redCircle, 2));
            double pooled = cos(Floats.toF32(circle.clipPooled()), Floats.toF32(square.clipPooled()));
            // order reaches the states: FLUX sees the text tokens as a set
            PromptEmbeddings redOnBlue = enc.encode("a red circle on a blue background", T5_LENGTH);
            PromptEmbeddings blueOnRed = enc.encode("a blue circle on a red background", T5_LENGTH);
            double swapped = cos(t5State(redOnBlue, 2), t5State(blueOnRed, 2));
            System.out.printf("T5 circle/square %.3f, circle/red circle %.3f, circle in swapped colours %.4f;"
                    + " CLIP pooled circle/square %.3f%n", cross, same, swapped, pooled);
            assertTrue(cross < 0.5, "T5 circle vs square " + cross);
            assertTrue(same > 0.9 && same > cross, "T5 circle vs circle after red " + same);
            assertTrue(swapped < 0.99, "T5 circle with colours swapped " + swapped);
            assertTrue(pooled < 0.95, "CLIP pooled circle vs square " + pooled);
        }
    }

    @Test
    void refusesWordsTheTokenizersCannotKeepWhole(@TempDir Path tmp) {
        assertEquals("toy word \"Circle\" is not lower-case ASCII letters a-z", assertThrows(
                IllegalArgumentException.class, () -> ToyText.write(tmp, List.of("Circle"), 16, 1)).getMessage());
        assertEquals("toy word \"dot\" is listed twice", assertThrows(IllegalArgumentException.class,
                () -> ToyText.write(tmp, List.of("dot", "box", "dot"), 16, 1)).getMessage());
    }

    private static float[] t5State(PromptEmbeddings e, int position) {
        float[] all = Floats.toF32(e.t5());
        int d = all.length / e.t5Ids().length;
        return Arrays.copyOfRange(all, position * d, (position + 1) * d);
    }

    private static double cos(float[] a, float[] b) {
        double ab = 0;
        for (int i = 0; i < a.length; i++) {
            ab += (double) a[i] * b[i];
        }
        return ab / (norm(a) * norm(b));
    }

    private static double norm(float[] a) {
        double s = 0;
        for (float v : a) {
            s += (double) v * v;
        }
        return Math.sqrt(s);
    }

    private static List<Path> files(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).map(root::relativize).sorted().toList();
        }
    }
}
