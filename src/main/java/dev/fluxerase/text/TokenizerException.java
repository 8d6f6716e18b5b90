package dev.fluxerase.text;

import java.io.Serial;

/** A tokenizer file is missing, unreadable or uses a feature this port does not implement. The message is one line. */
public final class TokenizerException extends RuntimeException {
    @Serial
    private static final long serialVersionUID = 1L;

    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
