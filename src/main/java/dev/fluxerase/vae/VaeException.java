package dev.fluxerase.vae;

/** Bad VAE input (config, checkpoint or tensor); the message is one line naming the file or tensor. */
public final class VaeException extends RuntimeException {
    public VaeException(String message) {
        super(message);
    }
}
