package dev.fluxerase.cuda;

/** No usable CUDA GPU here: no driver library, no device, or a driver too old; the message says which. */
public final class CudaUnavailableException extends CudaException {
    public CudaUnavailableException(String message) {
        super(message);
    }
}
