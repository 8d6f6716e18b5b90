package dev.fluxerase.safetensors;

/** A malformed or unreadable checkpoint. The message is one line naming the file (and the tensor, when there is one). */
public final class SafetensorsException extends RuntimeException {

    public SafetensorsException(String message) {
        super(message);
    }

    public SafetensorsException(String message, Throwable cause) {
        super(message, cause);
    }

    /** {@code <file>: tensor '<name>': <what>, expected <x>, got <y>}. */
    static SafetensorsException tensor(Object file, String name, String what, Object expected, Object got) {
        return new SafetensorsException(file + ": tensor '" + name + "': " + what + ", expected " + expected + ", got " + got);
    }

    /** {@code <file>: header: <what>}. */
    static SafetensorsException header(Object file, String what) {
        return new SafetensorsException(file + ": header: " + what);
    }
}
