package dev.fluxerase.text;

/** A tokenizer file is missing, unreadable or uses a feature this port does not implement. The message is one line. */
public final class TokenizerException extends RuntimeException {
    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
