package dev.fluxerase.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * One in-process run of the CLI through {@link Main#run}: exit code, and stdout and stderr as captured text. A command
 * whose --backend defaults to auto runs on the CPU unless the test names a backend, so that a test means the same on a
 * machine with a GPU and its stderr holds no backend report.
 */
public record CliRun(int exit, String out, String err) {
    private static final List<String> AUTO_BACKEND = List.of("generate", "forward");

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
}
