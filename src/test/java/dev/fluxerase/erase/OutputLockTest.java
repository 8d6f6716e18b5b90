package dev.fluxerase.erase;

import dev.fluxerase.cli.CliRun;
import dev.fluxerase.pipeline.FolderLock;
import dev.fluxerase.pipeline.LockHolder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One erase run per output folder, with the lock held by a real second process and released by kill -9. */
class OutputLockTest {
    @TempDir
    Path tmp;

    @Test
    void aSecondWriterIsRefusedWithTheHoldersPidAndKill9LeavesNoStaleLock() throws Exception {
        Path out = tmp.resolve("run");
        Process holder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), LockHolder.class.getName(), out.toString())
                .redirectErrorStream(true).start();
        try {
            BufferedReader r = new BufferedReader(new InputStreamReader(holder.getInputStream(),
                    StandardCharsets.UTF_8));
            assertEquals("locked", r.readLine());
            List<String> args = TinyRun.args(tmp, out, "--steps", "2");
            CliRun first = CliRun.of(args.toArray(String[]::new));
            assertEquals(1, first.exit(), first.err());
            assertEquals("flux-erase: output (--output) " + out + " is in use by another erase run (pid "
                    + holder.pid() + "); wait for it to end, or choose another folder" + System.lineSeparator(),
                    first.err());
            CliRun resume = CliRun.of("erase", "--output", out.toString(), "--resume");
            assertEquals(1, resume.exit());
            assertFalse(Files.exists(out.resolve(Trainer.LORA_FILE)));
        } finally {
            holder.destroyForcibly();
            assertTrue(holder.waitFor(30, TimeUnit.SECONDS));
        }
        // the OS released the killed holder's lock; the file it left behind does not block
        assertTrue(Files.exists(out.resolve(FolderLock.FILE)));
        try (FolderLock lock = FolderLock.acquire(out, h -> new IllegalStateException("still locked by " + h))) {
            assertEquals(ProcessHandle.current().pid() + "\n", Files.readString(out.resolve(FolderLock.FILE)));
        }
    }

    @Test
    void anOutputThatIsAFileIsRefusedInOneLine() throws Exception {
        Path file = Files.writeString(tmp.resolve("taken"), "x");
        CliRun r = CliRun.of(TinyRun.args(tmp, file, "--steps", "2").toArray(String[]::new));
        assertEquals(1, r.exit());
        assertEquals("flux-erase: output (--output) " + file + " is a file; the output is a folder (for the LoRA, "
                + "run.json and the checkpoint)" + System.lineSeparator(), r.err());
    }
}
