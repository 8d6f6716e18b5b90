package dev.fluxerase.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

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
}
