package dev.fluxerase.cli;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Under an older JDK both the launcher and the build say that JDK 25 is needed and where they looked, instead of
 * "Unrecognized option" or javac's "invalid flag". Needs a JDK 17 in the system's JVM folder (skipped otherwise).
 */
class JdkRequirementTest {
    private static Path jdk17() throws IOException {
        Path jvms = Path.of("/usr/lib/jvm");
        if (!Files.isDirectory(jvms)) {
            return null;
        }
        try (Stream<Path> s = Files.list(jvms)) {
            return s.filter(p -> p.getFileName().toString().matches("(java-17|jdk-17|temurin-17).*"))
                    .filter(p -> Files.isExecutable(p.resolve("bin/java"))).sorted().findFirst().orElse(null);
        }
    }

    private static String run(Path javaHome, List<String> cmd) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("JAVA_HOME", javaHome.toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "timed out: " + cmd);
        assertEquals(1, p.exitValue(), out);
        return out;
    }

    @Test
    void theLauncherNamesTheJdkItFoundAndWhereItLooked() throws Exception {
        Path old = jdk17();
        assumeTrue(old != null, "no JDK 17 under /usr/lib/jvm");
        String out = run(old, List.of("bash", "tools/flux-erase", "--help"));
        assertEquals("flux-erase: JDK 25 or newer is required; JAVA_HOME=" + old + " gives " + old.resolve("bin/java")
                + ", which is Java 17; set JAVA_HOME to a JDK 25 (looked in /usr/lib/jvm/temurin-25-jdk-amd64 "
                + "/usr/lib/jvm/temurin-25-jdk /usr/lib/jvm/jdk-25*)", out.strip());
    }

    @Test
    void theBuildStopsAtOnceWithTheReason() throws Exception {
        Path old = jdk17();
        assumeTrue(old != null, "no JDK 17 under /usr/lib/jvm");
        String out = run(old, List.of("mvn", "-o", "-q", "-B", "validate"));
        assertTrue(out.contains("flux-erase needs JDK 25 or newer to build") && out.contains("Maven runs on " + old),
                out);
    }
}
