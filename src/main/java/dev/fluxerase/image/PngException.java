package dev.fluxerase.image;

/** A PNG that cannot be read or written; the message is one line naming the file. */
public final class PngException extends RuntimeException {
    public PngException(String message) {
        super(message);
    }
}
