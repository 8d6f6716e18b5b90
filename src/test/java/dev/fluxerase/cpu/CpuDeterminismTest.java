package dev.fluxerase.cpu;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * CpuBackend gives the same bits in every JIT tier: {@link DeterminismProbe} runs each op thousands of times in a fresh
 * JVM (interpreted first, then C1, then C2; this surefire JVM may have compiled the kernels already, so the probe gets its
 * own) until the JIT has settled, and an interpreter-only JVM (-Xint) and a C1-only JVM must give the same bits as well.
 */
class CpuDeterminismTest {

    /** op name → "hash firstChangedIteration", from a probe JVM started with the given extra flags. */
    private static Map<String, String> probe(int min, int max, String... flags) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--add-modules");
        cmd.add("jdk.incubator.vector");
        cmd.add("-Xmx512m");
        cmd.addAll(List.of(flags));
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(DeterminismProbe.class.getName());
        cmd.add(Integer.toString(min));
        cmd.add(Integer.toString(max));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "probe timed out");
        assertEquals(0, p.exitValue(), out);
        Map<String, String> r = new LinkedHashMap<>();
        for (String line : out.lines().toList()) {
            if (line.startsWith("WARNING") || line.startsWith("iterations ")) {
                continue;
            }
            String[] f = line.split(" ");
            assertEquals(3, f.length, out);
            r.put(f[0], f[1] + " " + f[2]);
        }
        assertEquals(DeterminismProbe.ops().keySet(), r.keySet(), out);
        return r;
    }

    @Test
    void sameBitsInEveryJitTier() throws Exception {
        // compile thresholds lowered tenfold, so C2 has compiled every kernel after some hundreds of iterations (checked
        // with -XX:+PrintCompilation); before the fix, ops changed between iterations 2 and 3000 at the default thresholds
        Map<String, String> tiered = probe(1500, 6000, "-XX:CompileThresholdScaling=0.1");
        for (var e : tiered.entrySet()) {
            assertTrue(e.getValue().endsWith(" -1"), e.getKey() + " changed at iteration " + e.getValue().split(" ")[1]);
        }
        Map<String, String> interpreted = probe(1, 1, "-Xint");
        Map<String, String> c1 = probe(300, 300, "-XX:TieredStopAtLevel=1");
        for (var e : tiered.entrySet()) {
            String hash = e.getValue().split(" ")[0];
            assertEquals(hash + " -1", interpreted.get(e.getKey()), e.getKey() + ": interpreter");
            assertEquals(hash + " -1", c1.get(e.getKey()), e.getKey() + ": C1");
        }
    }
}
