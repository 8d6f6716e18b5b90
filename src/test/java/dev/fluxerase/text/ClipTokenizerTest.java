package dev.fluxerase.text;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ClipTokenizerTest {

    private static ClipTokenizer clip;

    @BeforeAll
    static void load() {
        clip = ClipTokenizer.load(Goldens.fluxModelFolder());
    }

    static List<Goldens.Case> cases() {
        return Goldens.cases("clip_golden_detail.json", "content_ids", "clip_flux_input_ids.json");
    }

    @Test
    void allSixtySevenGoldenStringsArePresent() {
        assertEquals(67, cases().size());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void paddedIdsMatchWhatFluxFeedsClip(Goldens.Case c) {
        assertArrayEquals(c.paddedIds(), clip.inputIds(c.text()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void untruncatedContentIdsAndTokensMatch(Goldens.Case c) {
        assertArrayEquals(c.ids(), clip.contentIds(c.text()));
        assertEquals(c.tokens(), clip.encode(c.text()).stream().map(Token::text).toList());
    }

    @Test
    void cleaningFollowsBertBasicTokenizer() {
        // Greek final sigma per word (Python str.lower), not per character.
        assertEquals("οδυσσευς σοφος", ClipTokenizer.clean("ΟΔΥΣΣΕΥΣ ΣΟΦΟΣ"));
        // ZWJ/ZWSP/soft hyphen/BEL are dropped, NBSP and tabs become a space, runs collapse.
        assertEquals("ab c d", ClipTokenizer.clean("a\u200db\u00a0\tc\u0007 \u00add"));
        // CJK ideographs are spaced out, kana stays attached.
        assertEquals("日 本 語 の", ClipTokenizer.clean("日本語の"));
        // Decomposed accents are composed (NFC) before the split.
        assertEquals("café", ClipTokenizer.clean("Cafe\u0301"));
        assertEquals("i\u0307stanbul", ClipTokenizer.clean("İstanbul"));
    }

    @Test
    void decodeSpellsOutByteLevelSymbols() {
        assertEquals("cafÃ©</w>", clip.tokenText(15304));
        assertEquals("café", clip.decode(15304));
        assertEquals("cat", clip.decode(2368));
        assertEquals("\uFFFD", clip.decode(138)); // "Î": the lead byte 0xCE alone
        assertEquals("<|endoftext|>", clip.decode(49407));
    }

    @Test
    void framingTruncatesContentBeforeAppendingEos() {
        int[] ids = clip.inputIds("a ".repeat(100));
        assertEquals(ClipTokenizer.CONTEXT_LENGTH, ids.length);
        assertEquals(49406, ids[0]);
        for (int i = 1; i <= 75; i++) {
            assertEquals(320, ids[i]);
        }
        assertEquals(49407, ids[76]);
    }

    @Test
    void missingFilesNameTheFolderAndTheFiles(@TempDir Path dir) {
        TokenizerException e = assertThrows(TokenizerException.class, () -> ClipTokenizer.load(dir));
        assertTrue(e.getMessage().contains(dir.toString()) && e.getMessage().contains("vocab.json")
                && e.getMessage().contains("merges.txt"), e.getMessage());
    }

    /** The test resources keep vocab.json and merges.txt gzipped; the plain files give the same tokenizer. */
    @Test
    void gzippedAndPlainFilesAreTheSameTokenizer(@TempDir Path dir) throws Exception {
        Path gz = Goldens.fluxModelFolder().resolve("tokenizer");
        for (String name : List.of("vocab.json", "merges.txt")) {
            try (InputStream in = new GZIPInputStream(Files.newInputStream(gz.resolve(name + ".gz")))) {
                Files.write(dir.resolve(name), in.readAllBytes());
            }
        }
        ClipTokenizer plain = ClipTokenizer.load(dir);
        for (Goldens.Case c : cases()) {
            assertArrayEquals(clip.inputIds(c.text()), plain.inputIds(c.text()), c.text());
        }
    }
}
