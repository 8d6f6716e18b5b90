package dev.fluxerase.cuda;

/** A failed CUDA driver, cuBLASLt or kernel call; the message names the call and the library's error name. */
public class CudaException extends RuntimeException {
    public CudaException(String message) {
        super(message);
    }

    public CudaException(String message, Throwable cause) {
        super(message, cause);
    }
}
