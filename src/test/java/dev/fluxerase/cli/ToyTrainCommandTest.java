package dev.fluxerase.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ToyTrainCommandTest {
    @Test
    void trainsResumesAndWritesAFolderTheOtherCommandsLoad(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("toy");
        Path work = dir.resolve("work");
        String[] args = {"toy-train", "--out", out.toString(), "--work", work.toString(), "--steps", "2", "--batch",
                "2", "--eval-every", "0", "--eval-samples", "1"};
        CliRun r = CliRun.of(args);
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.err().contains("2/2 loss"), r.err());
        assertTrue(r.err().contains("eval at step 2: circle"), r.err());
        assertTrue(Files.isRegularFile(work.resolve("checkpoint.safetensors")));
        String log = Files.readString(work.resolve("train-log.jsonl"));
        assertTrue(log.startsWith("{\"step\":2,\"loss\":") && log.contains("\"eval\":{\"circle\":"), log);
        assertEquals(0, CliRun.of("doctor", "--model", out.toString()).exit());

        CliRun again = CliRun.of(args);
        assertEquals(1, again.exit());
        assertTrue(again.err().contains("exists: pass --resume"), again.err());

        CliRun back = CliRun.of("toy-train", "--out", out.toString(), "--work", work.toString(), "--steps", "1",
                "--batch", "2", "--resume");
        assertEquals(1, back.exit());
        assertTrue(back.err().contains("--steps 1 is below the checkpoint's 2 steps"), back.err());

        CliRun more = CliRun.of("toy-train", "--out", out.toString(), "--work", work.toString(), "--steps", "3",
                "--batch", "2", "--resume", "--eval-samples", "1");
        assertEquals(0, more.exit(), more.err());
        assertTrue(more.err().contains("resuming at step 2/3") && more.err().contains("3/3 loss"), more.err());
    }

    /**
     * A run killed before its first periodic checkpoint resumes from the checkpoint it wrote before its first step
     * (checkpoints every 250 steps, so the kill lands well before the first one).
     */
    @Test
    void aRunKilledBeforeItsFirstPeriodicCheckpointResumes(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("toy");
        Path work = dir.resolve("work");
        Path checkpoint = work.resolve("checkpoint.safetensors");
        Process p = new ProcessBuilder(CliRun.inOwnJvm(List.of(), List.of("toy-train", "--out", out.toString(),
                "--work", work.toString(), "--steps", "240", "--batch", "2", "--eval-every", "0")))
                .redirectErrorStream(true).redirectOutput(dir.resolve("killed.log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (p.isAlive() && !Files.exists(checkpoint) && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        boolean killedEarly = p.isAlive();
        p.destroyForcibly();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertTrue(killedEarly && Files.isRegularFile(checkpoint), Files.readString(dir.resolve("killed.log")));

        CliRun resumed = CliRun.of("toy-train", "--out", out.toString(), "--work", work.toString(), "--steps", "2",
                "--batch", "2", "--resume", "--eval-samples", "1");
        assertEquals(0, resumed.exit(), resumed.err());
        assertTrue(resumed.err().contains("2/2 loss"), resumed.err());
    }
}
