package dev.fluxerase.safetensors;

import dev.fluxerase.cli.CliRun;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every malformed input ends as one SafetensorsException line naming the file (and tensor, expected, got), and through
 * the CLI as exit code 1 with that one line on stderr and no stack trace.
 */
class BadInputTest {
    @TempDir
    Path dir;

    /** Opens the path, checks the message holds every piece, and that `inspect` prints exactly that one line. */
    private void rejects(Path path, String... pieces) {
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> Safetensors.open(path).close());
        String msg = e.getMessage();
        assertFalse(msg.contains("\n"), msg);
        assertTrue(msg.startsWith(path.toString()), msg);
        for (String p : pieces) {
            assertTrue(msg.contains(p), "missing '" + p + "' in: " + msg);
        }
        CliRun run = CliRun.of("inspect", path.toString());
        assertEquals(1, run.exit());
        assertEquals("", run.out());
        assertEquals("flux-erase: " + msg + System.lineSeparator(), run.err());
    }

    private static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + ","
                + end + "]}";
    }

    @Test
    void truncatedData() throws IOException {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("a", Tensor.of(new float[]{1, 2, 3}, 3));
        t.put("b", Tensor.of(new float[]{4, 5, 6}, 3));
        Path f = dir.resolve("cut.safetensors");
        SafetensorsWriter.write(f, t, Map.of());
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(raf.length() - 5);
        }
        rejects(f, "cut.safetensors: tensor 'b': data_offsets [12, 24] past the end of the data area (truncated file?)",
                "expected end <= 19", "got 24");
    }

    @Test
    void headerLengthBeyondTheFile() {
        Path f = RawFiles.write(dir.resolve("len.safetensors"), 1000, "{}", 6);
        rejects(f, "len.safetensors: header: length 1000 runs past the end of the file", "expected at most 8",
                "got 1000");
    }

    @Test
    void headerLengthWithTheTopBitSet() {
        Path f = RawFiles.write(dir.resolve("neg.safetensors"), -1, "{}", 0);
        rejects(f, "header: length 18446744073709551615 runs past the end of the file", "expected at most 2");
    }

    @Test
    void headerOverTheHundredMegabyteLimit() throws IOException {
        Path f = dir.resolve("huge.safetensors");
        long n = SafetensorsFile.MAX_HEADER_BYTES + 1;
        RawFiles.write(f, n, "{", 0);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(8 + n); // sparse: nothing is written
        }
        rejects(f, "header: length too large, expected at most 100000000, got 100000001");
    }

    @Test
    void headerThatIsAJsonArray() {
        rejects(RawFiles.write(dir.resolve("arr.safetensors"), "[1, 2]", 0),
                "arr.safetensors: header: not a JSON object, expected an object, got array");
    }

    @Test
    void headerThatIsNotJson() {
        rejects(RawFiles.write(dir.resolve("bad.safetensors"), "{\"a\": {\"dtype\": ", 0),
                "bad.safetensors: header: invalid JSON");
    }

    @Test
    void headerWithJunkAfterTheObject() {
        rejects(RawFiles.write(dir.resolve("junk.safetensors"), "{} {}", 0), "junk.safetensors: header: invalid JSON");
    }

    @Test
    void emptyHeader() {
        rejects(RawFiles.write(dir.resolve("blank.safetensors"), "        ", 0),
                "blank.safetensors: header: empty, expected a JSON object");
    }

    /** A header length two short, where the header ends in padding spaces: the JSON still parses. */
    @Test
    void headerLengthShortOfItsPadding() {
        String h = "{" + entry("w", "F32", "[2]", 0, 8) + "}  ";
        rejects(RawFiles.write(dir.resolve("short.safetensors"), h.length() - 2, h, 8),
                "short.safetensors: header: the tensors cover 8 bytes of the 10-byte data area", "expected 10, got 8");
    }

    @Test
    void bytesAfterTheLastTensor() {
        rejects(RawFiles.write(dir.resolve("tail.safetensors"), "{" + entry("w", "F32", "[2]", 0, 8) + "}", 9),
                "tail.safetensors: header: the tensors cover 8 bytes of the 9-byte data area");
    }

    @Test
    void aGapBetweenTensors() {
        String h = "{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 8, 12) + "}";
        rejects(RawFiles.write(dir.resolve("gap.safetensors"), h, 12),
                "gap.safetensors: tensor 'b': data_offsets [8, 12] leave bytes 4..8 of the data area to no tensor",
                "expected begin 4", "got 8");
    }

    @Test
    void headersThatAreNotStrictUtf8StartingWithABrace() {
        String h = "{" + entry("w", "F32", "[1]", 0, 4) + "}";
        byte[] utf8 = h.getBytes(StandardCharsets.UTF_8);
        byte[] bom = new byte[utf8.length + 3];
        bom[0] = (byte) 0xef;
        bom[1] = (byte) 0xbb;
        bom[2] = (byte) 0xbf;
        System.arraycopy(utf8, 0, bom, 3, utf8.length);
        rejects(RawFiles.write(dir.resolve("bom.safetensors"), bom.length, bom, 4),
                "header: starts with byte 0xef (a byte-order mark?)");
        byte[] utf16 = h.getBytes(StandardCharsets.UTF_16LE);
        rejects(RawFiles.write(dir.resolve("u16.safetensors"), utf16.length, utf16, 4),
                "header: contains NUL bytes (UTF-16 or UTF-32?)");
        byte[][] bad = {{(byte) 0xc0, (byte) 0xaf}, {(byte) 0xed, (byte) 0xa0, (byte) 0x80},
                {(byte) 0xf4, (byte) 0x90, (byte) 0x80, (byte) 0x80}};
        for (byte[] seq : bad) {
            // inside a metadata value, where any valid character would be accepted
            byte[] a = "{\"__metadata__\":{\"k\":\"".getBytes(StandardCharsets.UTF_8);
            byte[] z = ("\"}," + entry("w", "F32", "[1]", 0, 4) + "}").getBytes(StandardCharsets.UTF_8);
            byte[] all = new byte[a.length + seq.length + z.length];
            System.arraycopy(a, 0, all, 0, a.length);
            System.arraycopy(seq, 0, all, a.length, seq.length);
            System.arraycopy(z, 0, all, a.length + seq.length, z.length);
            rejects(RawFiles.write(dir.resolve("utf.safetensors"), all.length, all, 4), "header: is not valid UTF-8");
        }
        rejects(RawFiles.write(dir.resolve("lead.safetensors"), " " + h, 4),
                "header: has whitespace before its '{'");
    }

    @Test
    void duplicateTensorNames() {
        rejects(RawFiles.write(dir.resolve("dup.safetensors"), "{" + entry("w", "U8", "[1]", 0, 1) + ","
                + entry("w", "U8", "[1]", 1, 2) + "}", 2), "dup.safetensors: header: invalid JSON", "'w'");
    }

    @Test
    void offsetsBeginAfterEnd() {
        rejects(RawFiles.write(dir.resolve("rev.safetensors"), "{" + entry("w", "U8", "[4]", 8, 4) + "}", 16),
                "rev.safetensors: tensor 'w': data_offsets begin after end", "expected begin <= end", "got [8, 4]");
    }

    @Test
    void offsetsPastTheDataArea() {
        rejects(RawFiles.write(dir.resolve("far.safetensors"), "{" + entry("w", "U8", "[4]", 100, 104) + "}", 16),
                "far.safetensors: tensor 'w': data_offsets [100, 104] past the end of the data area",
                "expected end <= 16", "got 104");
    }

    @Test
    void negativeOffset() {
        rejects(RawFiles.write(dir.resolve("negoff.safetensors"), "{" + entry("w", "U8", "[4]", -4, 0) + "}", 16),
                "negoff.safetensors: tensor 'w': data_offsets is malformed",
                "expected an array of 2 non-negative integers", "got [-4,0]");
    }

    @Test
    void overlappingOffsets() {
        rejects(RawFiles.write(dir.resolve("lap.safetensors"), "{" + entry("a", "F32", "[2]", 0, 8) + ","
                        + entry("b", "F32", "[2]", 4, 12) + "}", 12),
                "lap.safetensors: tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]", "expected begin >= 8",
                "got 4");
    }

    @Test
    void unknownDtypeF8E5M2() {
        rejects(RawFiles.write(dir.resolve("e5.safetensors"), "{" + entry("w", "F8_E5M2", "[4]", 0, 4) + "}", 4),
                "e5.safetensors: tensor 'w': unknown dtype", "expected one of [F64, F32, F16, BF16, F8_E4M3, I64, I32, U8]",
                "got F8_E5M2");
    }

    @Test
    void unknownDtypeQ4() {
        rejects(RawFiles.write(dir.resolve("q4.safetensors"), "{" + entry("w", "Q4", "[4]", 0, 4) + "}", 4),
                "q4.safetensors: tensor 'w': unknown dtype", "got Q4");
    }

    @Test
    void sizeThatDoesNotMatchTheShape() {
        rejects(RawFiles.write(dir.resolve("size.safetensors"), "{" + entry("w", "F32", "[2, 3]", 0, 20) + "}", 20),
                "size.safetensors: tensor 'w': byte size does not match shape [2, 3] of F32", "expected 24 bytes",
                "got 20 bytes");
    }

    @Test
    void shapeWithAFraction() {
        rejects(RawFiles.write(dir.resolve("frac.safetensors"), "{" + entry("w", "F32", "[2.5]", 0, 8) + "}", 8),
                "frac.safetensors: tensor 'w': shape is malformed", "expected an array of non-negative integers",
                "got [2.5]");
    }

    @Test
    void dtypeThatIsNotAString() {
        rejects(RawFiles.write(dir.resolve("dt.safetensors"),
                        "{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
                "dt.safetensors: tensor 'w': dtype is not a string", "expected a string", "got number");
    }

    @Test
    void entryThatIsNotAnObject() {
        rejects(RawFiles.write(dir.resolve("ent.safetensors"), "{\"w\":[1,2]}", 0),
                "ent.safetensors: tensor 'w': entry is not an object", "got array");
    }

    @Test
    void metadataWithANumber() {
        rejects(RawFiles.write(dir.resolve("meta.safetensors"), "{\"__metadata__\":{\"steps\":5}}", 0),
                "meta.safetensors: header: __metadata__ value of 'steps' is not a string", "expected a string",
                "got number");
    }

    @Test
    void missingShard() throws IOException {
        SafetensorsWriter.write(dir.resolve("model-00001-of-00002.safetensors"),
                Map.of("a", Tensor.of(new float[]{1}, 1)), Map.of());
        Path index = dir.resolve("model.safetensors.index.json");
        Files.writeString(index, "{\"metadata\":{},\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                + "\"b\":\"model-00002-of-00002.safetensors\"}}");
        rejects(index, "model.safetensors.index.json: shard 'model-00002-of-00002.safetensors' is missing",
                "expected file " + dir.resolve("model-00002-of-00002.safetensors").toAbsolutePath(), "'b'");
    }

    @Test
    void tensorMissingFromItsShard() throws IOException {
        SafetensorsWriter.write(dir.resolve("s1.safetensors"), Map.of("a", Tensor.of(new float[]{1}, 1)), Map.of());
        Path index = dir.resolve("x.safetensors.index.json");
        Files.writeString(index, "{\"weight_map\":{\"a\":\"s1.safetensors\",\"ghost\":\"s1.safetensors\"}}");
        rejects(index, "x.safetensors.index.json: tensor 'ghost': listed in weight_map for shard 's1.safetensors'",
                "does not contain it");
    }

    @Test
    void emptyFile() throws IOException {
        Path f = Files.write(dir.resolve("empty.safetensors"), new byte[0]);
        rejects(f, "empty.safetensors: header: file too short", "expected at least 8 bytes, got 0");
    }

    @Test
    void fiveByteFile() throws IOException {
        Path f = Files.write(dir.resolve("short.safetensors"), new byte[]{1, 2, 3, 4, 5});
        rejects(f, "short.safetensors: header: file too short", "expected at least 8 bytes, got 5");
    }

    @Test
    void nonexistentPath() {
        rejects(dir.resolve("nope.safetensors"), "nope.safetensors: no such file or folder");
    }

    @Test
    void folderWithTwoCandidates() {
        SafetensorsWriter.write(dir.resolve("a.safetensors"), Map.of("a", Tensor.of(new float[]{1}, 1)), Map.of());
        SafetensorsWriter.write(dir.resolve("b.safetensors"), Map.of("b", Tensor.of(new float[]{1}, 1)), Map.of());
        rejects(dir, "expected one *.safetensors.index.json or exactly one *.safetensors file",
                "found a.safetensors, b.safetensors");
    }

    @Test
    void emptyFolderPointsAtTheTransformerSubfolder() throws IOException {
        Files.createDirectory(dir.resolve("transformer"));
        rejects(dir, "found none", "pass its transformer/ subfolder");
    }

    @Test
    void usageErrorsAreOneLineToo() {
        CliRun run = CliRun.of("inspect", "--limit", "-3", "x.safetensors");
        assertEquals(1, run.exit());
        assertEquals("flux-erase: --limit must be zero or more, got -3" + System.lineSeparator(), run.err());
    }
}
