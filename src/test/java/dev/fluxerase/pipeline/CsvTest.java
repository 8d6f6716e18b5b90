package dev.fluxerase.pipeline;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** RFC 4180 parsing and quoting, batch files and the progress line. */
class CsvTest {
    @TempDir
    Path tmp;

    @Test
    void quotedFieldsHoldCommasQuotesAndLineBreaks() {
        List<Csv.Row> rows = Csv.parse("\uFEFFa,\"b, c\",\"say \"\"hi\"\"\"\r\n\n\"two\nlines\",,x\nlast", "t.csv");
        assertEquals(3, rows.size());
        assertEquals(List.of("a", "b, c", "say \"hi\""), rows.get(0).fields());
        assertEquals(List.of("two\nlines", "", "x"), rows.get(1).fields());
        assertEquals(3, rows.get(1).line());
        assertEquals(List.of("last"), rows.get(2).fields());
        assertEquals(5, rows.get(2).line());
        for (String s : new String[]{"plain", "a,b", "q\"q", "two\nlines", " lead", ""}) {
            assertEquals(List.of(s, "1"), Csv.parse(Csv.line(List.of(s, "1")), "t").getFirst().fields(), s);
        }
        assertEquals("\"a,b\",\"q\"\"q\",plain\n", Csv.line(List.of("a,b", "q\"q", "plain")));
    }

    @Test
    void malformedQuotingIsOneLineWithTheLine() {
        assertEquals("t.csv line 2: a quoted field is not closed",
                assertThrows(PipelineException.class, () -> Csv.parse("a,1\n\"open,2\n", "t.csv")).getMessage());
        assertEquals("t.csv line 1: text after a closing quote",
                assertThrows(PipelineException.class, () -> Csv.parse("\"a\"b,1", "t.csv")).getMessage());
        assertTrue(assertThrows(PipelineException.class, () -> Csv.parse("a\"b,1", "t.csv")).getMessage()
                .startsWith("t.csv line 1: a quote inside an unquoted field"));
    }

    @Test
    void batchRowsNamesAndIndex() throws Exception {
        Path csv = Files.writeString(tmp.resolve("p.csv"), "Prompt,Seed\na cat,7\n\"b, dog\",-3,dog.v2\n");
        List<PromptBatch.Item> items = PromptBatch.read(csv);
        assertEquals(List.of(new PromptBatch.Item(2, "0001", "a cat", 7), new PromptBatch.Item(3, "dog.v2", "b, dog", -3)),
                items);
        PromptBatch.Indexed row = new PromptBatch.Indexed("dog.v2", "b, dog", -3, "dog.v2.png", "16x16, \"q\"");
        PromptBatch.writeIndex(tmp, List.of(row));
        assertEquals(List.of("name,prompt,seed,file,settings", "dog.v2,\"b, dog\",-3,dog.v2.png,\"16x16, \"\"q\"\"\""),
                Files.readAllLines(tmp.resolve("index.csv")));
        assertEquals(Map.of("dog.v2.png", row), PromptBatch.readIndex(tmp));
        assertTrue(row.makes(items.get(1), "16x16, \"q\""));
        assertFalse(row.makes(items.get(1), "32x32, \"q\""));
        assertFalse(row.makes(items.get(0), "16x16, \"q\""));
        Files.writeString(tmp.resolve("index.csv"), "name,prompt,seed,file\nx,y\n");
        assertEquals(tmp.resolve("index.csv") + " line 2: expected name,prompt,seed,file,settings; move the index (and "
                + "its images) away to start a new batch in this folder",
                assertThrows(PipelineException.class, () -> PromptBatch.readIndex(tmp)).getMessage());
        Path bad = Files.writeString(tmp.resolve("b.csv"), "a,1,../up\n");
        assertTrue(assertThrows(PipelineException.class, () -> PromptBatch.read(bad)).getMessage()
                .contains("line 1: name \"../up\" must be letters, digits"));
        Path fields = Files.writeString(tmp.resolve("f.csv"), "only a prompt\n");
        assertEquals(fields + " line 1: expected prompt,seed[,name], got 1 field",
                assertThrows(PipelineException.class, () -> PromptBatch.read(fields)).getMessage());
        Path empty = Files.writeString(tmp.resolve("e.csv"), "prompt,seed\n\n");
        assertTrue(assertThrows(PipelineException.class, () -> PromptBatch.read(empty)).getMessage()
                .endsWith("no rows (expected prompt,seed[,name] per line)"));
    }

    @Test
    void progressLinesAndBar() {
        long[] now = {0};
        var bytes = new java.io.ByteArrayOutputStream();
        var out = new java.io.PrintStream(bytes, true, java.nio.charset.StandardCharsets.UTF_8);
        ProgressBar plain = new ProgressBar(out, false, "[1/2] cat", () -> now[0]);
        now[0] = 7_000_000_000L;
        plain.onStart(4);
        now[0] += 10_000_000_000L;
        plain.onStep(0, 4, null, null);
        assertEquals("[1/2] cat step 1/4, 0:10 elapsed, ETA 0:30\n", bytes.toString());
        bytes.reset();
        ProgressBar bar = new ProgressBar(out, true, "", () -> now[0]);
        now[0] += 3_000_000_000_000L;
        bar.onStep(1, 2, null, null);
        assertEquals("\r[########################] 2/2 50:00 elapsed, ETA 0:00\n", bytes.toString());
        assertEquals("1:01:05", ProgressBar.clock(3665));
        // surefire pipes the test JVM's stderr
        assertFalse(ProgressBar.stderrIsTerminal());
    }
}
