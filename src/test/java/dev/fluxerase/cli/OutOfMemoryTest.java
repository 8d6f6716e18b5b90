package dev.fluxerase.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A size the heap cannot hold ends in one line naming the limit, not in an OutOfMemoryError's stack trace. */
class OutOfMemoryTest {
    @TempDir
    Path tmp;

    @Test
    void theLineNamesTheLimitInUnitsThatRead() {
        assertTrue(Main.outOfMemory(6L << 30).contains("the Java heap's 6.0 GiB;"));
        assertTrue(Main.outOfMemory(48L << 20).contains("the Java heap's 48 MiB;"));
    }

    /** The estimate refuses a size before any model loads, naming what it needs and the limit. */
    @Test
    void aTooLargeImageIsRefusedUpFrontWithTheEstimate() throws Exception {
        List<String> lines = runOn48MiB("generate", "--model", "weights/toy", "--prompt", "a red star", "--width", "2048",
                "--height", "2048", "--steps", "1", "--no-cache", "--backend", "cpu", "--out", tmp.resolve("x.png").toString());
        assertTrue(lines.getFirst().matches("flux-erase: a 2048x2048 image needs about 5.6 GiB of Java heap \\(transformer "
                + "5.5 GiB, decoder 96 MiB\\), more than the Java heap's 4[0-8] MiB; use a smaller size or batch, or raise "
                + "the limit \\(FLUX_ERASE_JAVA_OPTS=-Xmx<size> for tools/flux-erase, at most the machine's memory\\)"),
                lines.getFirst());
        assertFalse(Files.exists(tmp.resolve("x.png")));
    }

    /** Work that no estimate covers (here a training batch of 200,000 images) still ends in one line. */
    @Test
    void anExhaustedHeapIsOneLine() throws Exception {
        List<String> lines = runOn48MiB("toy-train", "--batch", "200000", "--steps", "1", "--work",
                tmp.resolve("work").toString(), "--out", tmp.resolve("out").toString());
        assertTrue(lines.getFirst().matches("flux-erase: out of memory: the work needed more than the Java heap's "
                + "4[0-8] MiB; use a smaller size or batch, or raise the limit \\(FLUX_ERASE_JAVA_OPTS=-Xmx<size> for "
                + "tools/flux-erase, at most the machine's memory\\)"), lines.getFirst());
    }

    /** Runs the CLI in a JVM with a 48 MiB heap; expects exit 1 and one line besides the JDK's incubator warning. */
    private static List<String> runOn48MiB(String... args) throws Exception {
        Process p = new ProcessBuilder(CliRun.inOwnJvm(List.of("-Xmx48m"), List.of(args))).redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "timed out");
        assertEquals(1, p.exitValue(), out);
        List<String> lines = out.lines().filter(l -> !l.startsWith("WARNING") && !l.contains("incubator")).toList();
        // the heap a -Xmx48m JVM reports depends a little on the collector
        assertEquals(1, lines.size(), out);
        return lines;
    }
}
