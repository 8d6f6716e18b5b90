package dev.fluxerase.lora;

/** A LoRA file or LoRA set that cannot be used. The message is one line naming the file and the tensor. */
public final class LoraException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public LoraException(String message) {
        super(message);
    }
}
