package dev.fluxerase.erase;

/** A problem with an erasure run's inputs or files; the message is one line naming the setting or file. */
public final class EraseException extends RuntimeException {
    public EraseException(String message) {
        super(message);
    }

    public EraseException(String message, Throwable cause) {
        super(message, cause);
    }
}
