package dev.fluxerase.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.testing.Resources;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenizeCommandTest {

    private static String flux() {
        return Resources.path("pipeline-tiny/model").toString();
    }

    @Test
    void jsonForBothEncodersIsAnArrayOfClipThenT5() throws Exception {
        CliRun r = CliRun.of("tokenize", "--model", flux(), "--text",
                "a photo of a cat", "--json");
        assertEquals(0, r.exit(), r.err());
        JsonNode a = new ObjectMapper().readTree(r.out());
        assertEquals(2, a.size());
        JsonNode clip = a.get(0);
        assertEquals("clip", clip.get("encoder").asText());
        assertEquals(77, clip.get("ids").size());
        assertEquals(77, clip.get("length").intValue());
        int[] clipHead = {49406, 320, 1125, 539, 320, 2368, 49407, 49407};
        for (int i = 0; i < clipHead.length; i++) {
            assertEquals(clipHead[i], clip.get("ids").get(i).intValue());
        }
        assertEquals("cat</w>", clip.get("tokens").get(5).asText());
        JsonNode t5 = a.get(1);
        assertEquals("t5", t5.get("encoder").asText());
        assertEquals(512, t5.get("ids").size());
        int[] t5Head = {3, 9, 1202, 13, 3, 9, 1712, 1, 0};
        for (int i = 0; i < t5Head.length; i++) {
            assertEquals(t5Head[i], t5.get("ids").get(i).intValue());
        }
        assertEquals("▁cat", t5.get("tokens").get(6).asText());
        assertEquals("<pad>", t5.get("tokens").get(511).asText());
    }

    @Test
    void oneEncoderGivesOneObjectWithLengthAndKeyword() throws Exception {
        CliRun r = CliRun.of("tokenize", "--model", flux(), "--text",
                "a photo of a cat", "--encoder", "t5", "--length", "256", "--keyword", "cat", "--json");
        assertEquals(0, r.exit(), r.err());
        JsonNode o = new ObjectMapper().readTree(r.out());
        assertEquals("t5", o.get("encoder").asText());
        assertEquals(256, o.get("ids").size());
        assertEquals("[6]", o.get("keyword_positions").toString());
    }

    @Test
    void tableShowsPositionsIdsTokensAndPadding() {
        CliRun r = CliRun.of("tokenize", "--model", flux(), "--text",
                "a photo of a cat", "--keyword", "cat");
        assertEquals(0, r.exit(), r.err());
        String out = r.out();
        assertTrue(out.contains("clip: 77 ids, 5 content tokens"), out);
        assertTrue(out.contains("t5: 512 ids, 7 content tokens"), out);
        assertTrue(out.matches("(?s).*\\n\\s+5\\s+2368\\s+cat</w>\\n.*"), out);
        assertTrue(out.matches("(?s).*\\n\\s+6\\s+1712\\s+▁cat   <- keyword\\n.*"), out);
        assertTrue(out.contains("7-76   49407  <|endoftext|>  (padding, 70 positions)"), out);
        assertTrue(out.contains("8-511       0  <pad>  (padding, 504 positions)"), out);
    }

    @Test
    void tableSpellsOutClipByteSymbols() {
        CliRun r = CliRun.of("tokenize", "--model", flux(), "--encoder", "clip",
                "--text", "café");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().matches("(?s).*\\n\\s+1\\s+15304\\s+cafÃ©</w>  \\(café\\)\\n.*"), r.out());
    }

    @Test
    void truncationIsReported() {
        CliRun r = CliRun.of("tokenize", "--model", flux(), "--encoder", "clip",
                "--text", "a ".repeat(80));
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("clip: 77 ids, 80 content tokens (75 kept, the rest truncated)"), r.out());
    }

    @Test
    void invisibleCharactersAreEscapedInTheTable() {
        assertEquals("\\u00AD", TokenizeCommand.visible("\u00ad"));
        assertEquals("▁cat", TokenizeCommand.visible("▁cat"));
    }

    @Test
    void missingTokenizerIsOneLineNamingFolderAndFiles(@TempDir Path dir) {
        CliRun r = CliRun.of("tokenize", "--model", dir.toString(), "--text", "x",
                "--encoder", "t5");
        assertEquals(1, r.exit());
        String err = r.err().strip();
        assertEquals(1, err.lines().count(), err);
        assertTrue(err.startsWith("flux-erase: no T5 tokenizer in " + dir) && err.contains("spiece.model")
                && err.contains("tokenizer_2"), err);
        CliRun c = CliRun.of("tokenize", "--model", dir.toString(), "--text", "x");
        assertEquals(1, c.exit());
        assertTrue(c.err().contains("vocab.json and merges.txt"), c.err());
    }

    @Test
    void lengthIsForT5Only() {
        CliRun r = CliRun.of("tokenize", "--model", flux(), "--text", "x",
                "--encoder", "clip", "--length", "10");
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("--length applies to t5 only"), r.err());
    }
}
