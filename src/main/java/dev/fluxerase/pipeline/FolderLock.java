package dev.fluxerase.pipeline;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.function.Function;

/**
 * One writer per output folder: an OS file lock on {@value #FILE} inside it, held until {@link #close()}. The operating
 * system drops the lock when the process ends in any way (kill -9 included), so a crashed run never leaves a stale lock;
 * the file stays behind and only records the last holder's pid for the message a second writer gets. Holding the lock,
 * no writer of ours can be at work in the folder, so every temporary file a killed one left there is removed.
 */
public final class FolderLock implements AutoCloseable {
    public static final String FILE = ".flux-erase.lock";

    private final FileChannel channel;
    private final FileLock lock;

    private FolderLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Locks {@code folder} (created if missing) for this process, or throws the exception {@code busy} makes from a
     * description of the holder ("pid 1234") when another writer holds it.
     */
    public static FolderLock acquire(Path folder, Function<String, RuntimeException> busy) {
        Path file = folder.resolve(FILE);
        FileChannel ch = null;
        try {
            Files.createDirectories(folder);
            ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            FileLock l;
            try {
                l = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                l = null; // held by this very process, through another channel
            }
            if (l == null) {
                String holder = holder(ch);
                ch.close();
                throw busy.apply(holder);
            }
            ch.truncate(0);
            ch.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8)), 0);
            ch.force(false);
            StaleTemporaries.remove(folder, Duration.ZERO);
            return new FolderLock(ch, l);
        } catch (IOException e) {
            if (ch != null) {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // the first error is the one worth reporting
                }
            }
            throw new UncheckedIOException(file + ": cannot lock: " + e.getMessage(), e);
        }
    }

    /** "pid N" from the lock file, or "another process" when it names none. */
    private static String holder(FileChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(32);
        int n = ch.read(b, 0);
        String pid = n <= 0 ? "" : new String(b.array(), 0, n, StandardCharsets.UTF_8).strip();
        return pid.matches("[0-9]+") ? "pid " + pid : "another process";
    }

    @Override
    public void close() {
        try {
            lock.release();
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot release the folder lock: " + e.getMessage(), e);
        }
    }
}
