package dev.fluxerase.cpu;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reductions give the same bits whatever the core count: their chunking depends only on the size, so a JVM that sees one
 * core and one that sees three add the same partial sums in the same order.
 */
class ReductionChunkingTest {

    private static List<String> probe(int cores) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "-Xmx512m", "-XX:ActiveProcessorCount=" + cores,
                "-cp", System.getProperty("java.class.path"), ReductionProbe.class.getName()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "probe timed out");
        assertEquals(0, p.exitValue(), out);
        return out.lines().filter(l -> !l.startsWith("WARNING")).toList();
    }

    @Test
    void theProbeSizesAreCutIntoSeveralChunks() {
        assertTrue(Parallel.reductionChunks(ReductionProbe.ROWS, ReductionProbe.COLS) > 1);
        assertTrue(Parallel.reductionChunks((long) ReductionProbe.ROWS * ReductionProbe.COLS, 1) > 1);
    }

    @Test
    void sameBitsOnOneCoreAndOnThree() throws Exception {
        List<String> one = probe(1);
        List<String> three = probe(3);
        assertEquals(5, one.size(), String.join("\n", one));
        assertEquals(one, three);
    }
}
