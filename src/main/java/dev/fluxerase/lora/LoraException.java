package dev.fluxerase.lora;

/** A LoRA file or LoRA set that cannot be used. The message is one line naming the file and the tensor. */
public final class LoraException extends RuntimeException {

    public LoraException(String message) {
        super(message);
    }

    public LoraException(String message, Throwable cause) {
        super(message, cause);
    }
}
