package dev.fluxerase.pipeline;

import java.nio.file.Path;

/** Test helper process: locks the folder given as its argument, says "locked", and holds it until stdin closes. */
public final class LockHolder {
    private LockHolder() {
    }

    public static void main(String[] args) throws Exception {
        try (FolderLock lock = FolderLock.acquire(Path.of(args[0]), h -> new IllegalStateException("busy: " + h))) {
            System.out.println("locked");
            System.out.flush();
            while (System.in.read() >= 0) {
                Thread.onSpinWait();
            }
        }
    }
}
