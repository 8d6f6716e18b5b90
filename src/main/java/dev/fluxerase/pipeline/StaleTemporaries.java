package dev.fluxerase.pipeline;

import dev.fluxerase.io.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;

/**
 * Temporary files that our atomic writers ({@link AtomicFiles}: {@code NAME.tmp-HEX}, renamed over NAME when complete)
 * leave behind when the process is killed mid-write. Nothing else ever renames them, so once no writer can
 * still be at work on one they are garbage.
 */
public final class StaleTemporaries {
    private StaleTemporaries() {
    }

    /**
     * Deletes the files of {@code dir} (not below it) named as our writers name temporaries and last modified more than
     * {@code age} ago; zero when the caller holds the folder's lock, so no writer of ours can be at work there. Returns
     * how many went; a file that cannot be deleted is left for next time.
     */
    public static int remove(Path dir, Duration age) {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        Instant before = Instant.now().minus(age);
        List<Path> stale;
        try (Stream<Path> s = Files.list(dir)) {
            stale = s.filter(p -> AtomicFiles.TEMPORARY.matcher(p.getFileName().toString()).matches()).filter(Files::isRegularFile)
                    .filter(p -> modified(p).isBefore(before) || age.isZero()).toList();
        } catch (IOException e) {
            return 0;
        }
        int n = 0;
        for (Path p : stale) {
            try {
                n += Files.deleteIfExists(p) ? 1 : 0;
            } catch (IOException e) {
                // another process may hold it open on some systems; the next start tries again
            }
        }
        return n;
    }

    private static Instant modified(Path p) {
        try {
            return Files.getLastModifiedTime(p).toInstant();
        } catch (IOException e) {
            return Instant.MAX;
        }
    }
}
