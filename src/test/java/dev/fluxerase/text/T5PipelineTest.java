package dev.fluxerase.text;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pieces under T5Tokenizer: the protobuf reader, the precompiled charsmap, Metaspace, refused features. */
class T5PipelineTest {

    private static byte[] spieceBytes;
    private static SentencePieceModel spm;
    private static PrecompiledCharsmap charsmap;

    @BeforeAll
    static void load() throws IOException {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(Goldens.resource("t5-spiece/spiece.model.gz")))) {
            spieceBytes = in.readAllBytes();
        }
        spm = SentencePieceModel.parse(spieceBytes, "spiece.model");
        charsmap = new PrecompiledCharsmap(spm.precompiledCharsmap(), "spiece.model");
    }

    @Test
    void protobufReaderFindsPiecesTypesAndCharsmap() {
        assertEquals(32000, spm.pieces().size());
        assertEquals(java.util.List.of("<pad>", "</s>", "<unk>", "▁", "X"), spm.pieces().subList(0, 5));
        assertArrayEquals(new int[]{3, 3, 2, 1}, Arrays.copyOf(spm.types(), 4));
        assertEquals(-2.0122928619384766, spm.scores()[3], 0.0); // tokenizer.json's score of "▁"
        assertEquals(SentencePieceModel.MODEL_UNIGRAM, spm.modelType());
        assertTrue(!spm.byteFallback() && spm.precompiledCharsmap().length > 100_000);
    }

    @Test
    void truncatedProtobufIsOneLineNamingTheFile() {
        TokenizerException e = assertThrows(TokenizerException.class,
                () -> SentencePieceModel.parse(Arrays.copyOf(spieceBytes, spieceBytes.length - 1), "x/spiece.model"));
        assertTrue(e.getMessage().startsWith("x/spiece.model: malformed protobuf"), e.getMessage());
    }

    @Test
    void charsmapAppliesNfkcRules() {
        assertEquals("h", charsmap.transform("ｈ"));
        assertEquals("é", charsmap.transform("e\u0301"));
        assertEquals(" ", charsmap.transform("\u00a0"));
        assertNull(charsmap.transform("a"));
    }

    @Test
    void clusterIsReplacedByItsShortestMatchingPrefix() {
        // tokenizers' Precompiled takes the first (shortest) trie key that prefixes a grapheme cluster and replaces
        // the whole cluster with it: fullwidth A + combining acute (5 bytes, one cluster) becomes plain "A".
        SpannedText out = charsmap.normalize(SpannedText.of("Ａ\u0301b", 0, 3));
        assertEquals("Ab", out.text());
        assertEquals(0, out.start(0));
        assertEquals(2, out.end(0)); // "A" spans both source chars
        assertEquals(2, out.start(1));
    }

    @Test
    void noMetaspaceIsPrependedAfterASpecialToken() {
        T5Tokenizer t5 = T5Tokenizer.load(Goldens.fluxModelFolder());
        assertArrayEquals(new int[]{32099, 232, 1}, t5.ids("<extra_id_0>and"));
        assertArrayEquals(new int[]{32099, 11, 1}, t5.ids("<extra_id_0> and"));
        assertArrayEquals(new int[]{11, 1}, t5.ids("and"));
    }

    @Test
    void unsupportedTokenizerJsonIsRefusedNamingTheFile(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("tokenizer.json");
        Files.writeString(f, "{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}");
        TokenizerException e = assertThrows(TokenizerException.class, () -> T5Tokenizer.load(dir));
        assertEquals(f + ": model BPE is not supported (Unigram is)", e.getMessage());
        Files.writeString(f, "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"<unk>\", 0.0]]},"
                + " \"normalizer\": {\"type\": \"NFKC\"}}");
        e = assertThrows(TokenizerException.class, () -> T5Tokenizer.load(dir));
        assertTrue(e.getMessage().startsWith(f + ": normalizer NFKC is not supported"), e.getMessage());
        Files.writeString(f, "{not json");
        e = assertThrows(TokenizerException.class, () -> T5Tokenizer.load(dir));
        assertTrue(e.getMessage().startsWith(f + ": not valid JSON"), e.getMessage());
    }
}
