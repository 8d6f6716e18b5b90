package dev.fluxerase.erase;

import dev.fluxerase.cli.CliRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 at a random moment of a real erase process, twice, then --resume: the LoRA, the snapshots and the steps in
 * log.jsonl are those of the run that was never interrupted. The moments are drawn from a seed that the failure message
 * names, so a failing moment can be replayed.
 */
class KillResumeTest {
    private static final int STEPS = 12;

    @TempDir
    Path tmp;

    @Test
    void aRunKilledTwiceAtRandomMomentsEndsAsAnUninterruptedOne() throws Exception {
        String[] settings = {"--steps", Integer.toString(STEPS), "--checkpoint-every", "2", "--save-every", "3"};
        Path whole = tmp.resolve("whole");
        CliRun ref = CliRun.of(TinyRun.args(tmp, whole, settings).toArray(String[]::new));
        assertEquals(0, ref.exit(), ref.err());

        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        Path parts = tmp.resolve("parts");
        List<String> kills = new ArrayList<>();
        killAfter(TinyRun.args(tmp, parts, settings), parts, rnd, kills);
        killAfter(List.of("erase", "--output", parts.toString(), "--resume", "--cache-dir",
                tmp.resolve("cache").toString()), parts, rnd, kills);
        String where = "kill seed " + seed + ", killed " + kills;
        CliRun resumed = CliRun.of("erase", "--output", parts.toString(), "--resume", "--cache-dir",
                tmp.resolve("cache").toString());
        assertEquals(0, resumed.exit(), where + ": " + resumed.err());

        assertArrayEquals(Files.readAllBytes(whole.resolve(Trainer.LORA_FILE)),
                Files.readAllBytes(parts.resolve(Trainer.LORA_FILE)), where);
        assertEquals(files(whole.resolve(Trainer.SNAPSHOTS)), files(parts.resolve(Trainer.SNAPSHOTS)), where);
        for (String s : files(whole.resolve(Trainer.SNAPSHOTS))) {
            assertArrayEquals(Files.readAllBytes(whole.resolve(Trainer.SNAPSHOTS).resolve(s)),
                    Files.readAllBytes(parts.resolve(Trainer.SNAPSHOTS).resolve(s)), where + ": " + s);
        }
        assertEquals(steps(whole), steps(parts), where);
    }

    /**
     * A run killed after its first logged step, long before its first periodic checkpoint, resumes from the checkpoint
     * of its start and ends as the uninterrupted run (before, --resume found nothing and refused).
     */
    @Test
    void aRunKilledBeforeItsFirstPeriodicCheckpointResumesFromItsStart() throws Exception {
        String[] settings = {"--steps", "3", "--checkpoint-every", "100"};
        Path whole = tmp.resolve("whole");
        CliRun ref = CliRun.of(TinyRun.args(tmp, whole, settings).toArray(String[]::new));
        assertEquals(0, ref.exit(), ref.err());

        Path parts = tmp.resolve("parts");
        kill(TinyRun.args(tmp, parts, "--steps", "400", "--checkpoint-every", "100"), parts, 1, 0,
                parts.resolveSibling("parts.log"));
        int killedAt = logged(parts);
        assertTrue(killedAt >= 1 && killedAt < 100, "killed after " + killedAt + " logged steps");

        CliRun resumed = CliRun.of("erase", "--output", parts.toString(), "--resume", "--steps", "3", "--cache-dir",
                tmp.resolve("cache").toString());
        assertEquals(0, resumed.exit(), resumed.err());
        assertArrayEquals(Files.readAllBytes(whole.resolve(Trainer.LORA_FILE)),
                Files.readAllBytes(parts.resolve(Trainer.LORA_FILE)));
        assertEquals(steps(whole), steps(parts));
    }

    /**
     * Starts the CLI with {@code args} in its own JVM and kills it (SIGKILL) once the log holds a random number of
     * steps, after a random further delay; the run may also finish first, which is one of the moments too.
     */
    private static void killAfter(List<String> args, Path out, Random rnd, List<String> kills) throws Exception {
        int after = 1 + rnd.nextInt(STEPS);
        int delayMs = rnd.nextInt(300);
        boolean alive = kill(args, out, after, delayMs,
                out.resolveSibling(out.getFileName() + "-" + kills.size() + ".log"));
        kills.add(alive ? "at " + logged(out) + " logged steps (" + after + " + " + delayMs + " ms)" : "none (it ended)");
    }

    /**
     * Starts the CLI with {@code args} in its own JVM (output into {@code log}) and kills it (SIGKILL) once {@code out}'s
     * log holds {@code after} steps and {@code delayMs} more have passed; returns whether it was still running then.
     */
    private static boolean kill(List<String> args, Path out, int after, int delayMs, Path log) throws Exception {
        Process p = new ProcessBuilder(CliRun.inOwnJvm(List.of(), args)).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (p.isAlive() && logged(out) < after && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        Thread.sleep(delayMs);
        boolean alive = p.isAlive();
        p.destroyForcibly();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        return alive;
    }

    private static int logged(Path out) {
        try {
            Path log = out.resolve(Trainer.LOG_FILE);
            return Files.isRegularFile(log) ? (int) Files.readString(log).lines().count() : 0;
        } catch (java.io.IOException e) {
            return 0;
        }
    }

    private static List<String> files(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** The log's steps without their wall-clock seconds, which differ between any two runs. */
    private static List<String> steps(Path out) throws Exception {
        return Files.readAllLines(out.resolve(Trainer.LOG_FILE)).stream()
                .map(l -> l.replaceAll("\"seconds\":[0-9.eE+-]+", "")).toList();
    }
}
