package dev.fluxerase.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One in-process run of the CLI through {@link Main#run}: exit code, and stdout and stderr as captured text. A command
 * whose --backend defaults to auto runs on the CPU unless the test names a backend, so that a test means the same on a
 * machine with a GPU and its stderr holds no backend report.
 */
public record CliRun(int exit, String out, String err) {
    private static final List<String> AUTO_BACKEND = List.of("generate", "evaluate", "forward");

    /** Synchronized because System.out and System.err are swapped for the run. */
    public static synchronized CliRun of(String... given) {
        List<String> a = new ArrayList<>(List.of(given));
        if (!a.isEmpty() && AUTO_BACKEND.contains(a.getFirst()) && !a.contains("--backend") && !a.contains("--help")) {
            a.addAll(List.of("--backend", "cpu"));
        }
        String[] args = a.toArray(String[]::new);
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int exit = Main.run(args);
            System.out.flush();
            System.err.flush();
            return new CliRun(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    /**
     * The command line that runs the CLI with {@code args} in a JVM of its own (this JVM's java and class path, the
     * flags the launcher passes, then {@code jvmFlags}), for tests that need a real process: a heap limit, kill -9.
     */
    public static List<String> inOwnJvm(List<String> jvmFlags, List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"));
        cmd.addAll(jvmFlags);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(args);
        return cmd;
    }
}
