package dev.fluxerase.pipeline;

/** A problem with the user's model folder, prompt file or generation settings; the message is one line. */
public final class PipelineException extends RuntimeException {
    public PipelineException(String message) {
        super(message);
    }

    public PipelineException(String message, Throwable cause) {
        super(message, cause);
    }
}
