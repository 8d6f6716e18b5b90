package dev.fluxerase.toy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.cli.CliRun;
import dev.fluxerase.image.Png;
import dev.fluxerase.image.RgbImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A reduced demo on the committed toy model (8 samples instead of 32): erasing the ring must take its rate far below the
 * rate before, and the other shapes must keep at least 70% of theirs on average (measured with 32 samples, seed 0, on
 * the 36,000-step model: ring 0.97 → 0.06, the other shapes' mean 0.96 → 0.83; with 8 samples on AVX-512 and at
 * -XX:MaxVectorSize=32 alike: ring 0.88 → 0.00, others 0.93 → 0.80). The ring, because it has the widest
 * margins of the six (the triangle, the first model's test concept, ends at 0.34 on this model). Margins, not exact
 * numbers, because another vector width changes the last bits and may flip a classification; the full results are in
 * weights/toy/README.md.
 */
class DemoTest {
    @Test
    void erasingRingRemovesRingsAndKeepsTheRest(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("demo");
        CliRun r = CliRun.of("demo", "--concept", "ring", "--samples", "8", "--out",
                out.toString());
        assertEquals(0, r.exit(), r.err());
        JsonNode report = new ObjectMapper().readTree(out.resolve("report.json").toFile());
        assertEquals("ring", report.get("concept").asText());
        assertEquals("paper", report.get("mode").asText());
        JsonNode rows = report.get("rows");
        assertEquals(10, rows.size(), rows.toString());
        JsonNode erased = rows.get(0);
        assertEquals("a ring", erased.get("prompt").asText());
        assertEquals("erased", erased.get("kind").asText());
        double before = erased.get("before").asDouble();
        double after = erased.get("after").asDouble();
        assertTrue(before >= 0.6, "ring before erasure " + before);
        assertTrue(after <= before - 0.5, "ring " + before + " -> " + after);
        double keptBefore = 0;
        double keptAfter = 0;
        for (JsonNode row : rows) {
            if (row.get("kind").asText().equals("other")) {
                keptBefore += row.get("before").asDouble();
                keptAfter += row.get("after").asDouble();
            }
        }
        assertTrue(keptAfter >= 0.7 * keptBefore, "other shapes " + keptBefore / 5 + " -> " + keptAfter / 5);
        RgbImage grid = Png.read(out.resolve("grid.png"));
        assertEquals(10 * 34, grid.height());
        assertTrue(Files.isRegularFile(out.resolve("erase").resolve("pytorch_lora_weights.safetensors")));
        assertTrue(r.out().contains("a ring") && r.out().contains("before"), r.out());
    }

    @Test
    void unknownShapeIsOneLine() {
        CliRun r = CliRun.of("demo", "--concept", "hexagon");
        assertEquals(1, r.exit());
        assertEquals("flux-erase: --concept hexagon: not a shape of the toy world (one of [circle, square, triangle,"
                + " star, cross, ring])", r.err().strip());
    }

    @Test
    void refusesAFolderThatIsNotAnEarlierDemo(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("notes.txt"), "mine");
        CliRun r = CliRun.of("demo", "--out", dir.toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("is not empty and holds no report.json"), r.err());
        assertTrue(Files.isRegularFile(dir.resolve("notes.txt")));
    }
}
