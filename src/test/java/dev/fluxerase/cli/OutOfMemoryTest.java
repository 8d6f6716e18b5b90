package dev.fluxerase.cli;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A size the heap cannot hold ends in one line naming the limit, not in an OutOfMemoryError's stack trace. */
class OutOfMemoryTest {
    @Test
    void theLineNamesTheLimitInUnitsThatRead() {
        assertTrue(Main.outOfMemory(6L << 30).contains("the Java heap's 6.0 GiB;"));
        assertTrue(Main.outOfMemory(48L << 20).contains("the Java heap's 48 MiB;"));
    }

    @Test
    void aTooLargeImageOnASmallHeapIsOneLine() throws Exception {
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx48m", "-cp",
                System.getProperty("java.class.path"), Main.class.getName(), "generate", "--model", "weights/toy",
                "--prompt", "a red star", "--width", "2048", "--height", "2048", "--steps", "1", "--no-cache",
                "--out", Path.of(System.getProperty("java.io.tmpdir"), "flux-erase-oom.png").toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "timed out");
        assertEquals(1, p.exitValue(), out);
        List<String> lines = out.lines().filter(l -> !l.startsWith("WARNING") && !l.contains("incubator")).toList();
        // the heap a -Xmx48m JVM reports depends a little on the collector
        assertEquals(1, lines.size(), out);
        assertTrue(lines.getFirst().matches("flux-erase: out of memory: the work needed more than the Java heap's "
                + "4[0-8] MiB; use a smaller size or batch, or raise the limit \\(FLUX_ERASE_JAVA_OPTS=-Xmx<size> for "
                + "tools/flux-erase, at most the machine's memory\\)"), lines.getFirst());
    }
}
