package dev.fluxerase.text;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class T5TokenizerTest {

    private static T5Tokenizer json;
    private static T5Tokenizer spiece;

    @BeforeAll
    static void load() {
        json = T5Tokenizer.load(Goldens.fluxModelFolder());
        spiece = T5Tokenizer.load(Goldens.resource("t5-spiece"));
    }

    static List<Goldens.Case> cases() {
        return Goldens.cases("t5_golden_detail.json", "ids", "t5_flux_input_ids_512.json");
    }

    @Test
    void readsTheFilesItWasPointedAt() {
        assertTrue(json.source().endsWith("tokenizer.json.gz"), json.source());
        assertTrue(spiece.source().endsWith("spiece.model.gz"), spiece.source());
        assertEquals(67, cases().size());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void paddedIdsMatchWhatFluxFeedsT5(Goldens.Case c) {
        assertArrayEquals(c.paddedIds(), json.inputIds(c.text(), 512));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void untruncatedIdsAndTokensMatch(Goldens.Case c) {
        assertArrayEquals(c.ids(), json.ids(c.text()));
        assertEquals(c.tokens(), json.encode(c.text()).stream().map(Token::text).toList());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void spieceModelGivesTheSameIds(Goldens.Case c) {
        assertArrayEquals(c.ids(), spiece.ids(c.text()));
        assertArrayEquals(c.paddedIds(), spiece.inputIds(c.text(), 512));
    }

    @Test
    void shorterLengthTruncatesBeforeAppendingEos() {
        String text = "cat ".repeat(300);
        int[] ids = json.inputIds(text, 256);
        assertEquals(256, ids.length);
        for (int i = 0; i < 255; i++) {
            assertEquals(1712, ids[i]);
        }
        assertEquals(1, ids[255]);
        int[] empty = json.inputIds("   ", 8);
        assertArrayEquals(new int[]{1, 0, 0, 0, 0, 0, 0, 0}, empty);
    }

    @Test
    void missingFilesNameTheFolderAndTheFiles(@TempDir Path dir) {
        TokenizerException e = assertThrows(TokenizerException.class, () -> T5Tokenizer.load(dir));
        assertTrue(e.getMessage().contains(dir.toString()) && e.getMessage().contains("spiece.model")
                && e.getMessage().contains("tokenizer.json"), e.getMessage());
    }

    @Test
    void keywordPositionsCoverTheKeywordsTokens() {
        // ▁ a ▁photo ▁of ▁ a ▁cat </s>: ids 3 9 1202 13 3 9 1712 1
        assertArrayEquals(new int[]{6}, json.keywordPositions("a photo of a cat", "cat", 256));
        // A bare ▁ goes with the token after it; both "a" words match, case-insensitively.
        assertArrayEquals(new int[]{0, 1, 4, 5}, json.keywordPositions("a photo of a cat", "A", 256));
        // ▁Portrait ▁of ▁Van ▁Go g h , ▁vanilla ▁sky: any whitespace between the keyword's words, not "vanilla".
        assertArrayEquals(new int[]{2, 3, 4, 5},
                json.keywordPositions("Portrait of Van  Gogh, vanilla sky", "van gogh", 256));
        // Not inside another word; attached punctuation is its own token and stays out.
        assertArrayEquals(new int[0], json.keywordPositions("a category", "cat", 256));
        assertEquals(List.of("▁cat", ","), tokens(json.encode("cat, dog"), 0, 2));
        assertArrayEquals(new int[]{0}, json.keywordPositions("cat, dog", "cat", 256));
        // Normalisation is traced back: the fullwidth word ＣＡＴ becomes ▁ CAT and still matches.
        assertArrayEquals(new int[]{2, 3}, json.keywordPositions("a ＣＡＴ", "ＣＡＴ", 256));
        // A keyword after the truncation point has no position.
        String longPrompt = "dog ".repeat(300) + "cat";
        assertArrayEquals(new int[0], json.keywordPositions(longPrompt, "cat", 256));
        assertArrayEquals(new int[]{300}, json.keywordPositions(longPrompt, "cat", 512));
        assertThrows(IllegalArgumentException.class, () -> json.keywordPositions("a cat", " ", 256));
    }

    @Test
    void releasedCodePositionsReproduceFindToken() {
        // keyword "cat" → [1712, 1]: 1712 at 6, </s> at 7, the last (7) dropped.
        assertArrayEquals(new int[]{6}, json.releasedCodePositions("a photo of a cat", "cat", 256));
        // keyword "a" → [3, 9, 1]: every ▁ (0, 4), every "a" (1, 5), </s> (7) dropped; keyword-token order.
        assertArrayEquals(new int[]{0, 4, 1, 5}, json.releasedCodePositions("a photo of a cat", "a", 256));
        // A keyword absent from the prompt still collects the prompt's </s>, which is then dropped.
        assertArrayEquals(new int[0], json.releasedCodePositions("a photo of a dog", "cat", 256));
    }

    private static List<String> tokens(List<Token> tokens, int from, int to) {
        return tokens.subList(from, to).stream().map(Token::text).toList();
    }
}
