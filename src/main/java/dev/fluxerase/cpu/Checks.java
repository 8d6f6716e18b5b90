package dev.fluxerase.cpu;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Tensor;

/** Argument checks shared by the CPU backends; every failure is one line naming the op, the argument and what was expected. */
final class Checks {
    private Checks() {
    }

    /** A CPU F32 tensor (activations, gradients, optimizer state). */
    static void f32(String op, String what, Tensor t) {
        if (t == null) {
            throw new IllegalArgumentException(op + ": " + what + " is null");
        }
        if (t.device() != Device.CPU || t.dtype() != DType.F32) {
            throw new IllegalArgumentException(op + ": " + what + " must be F32 on CPU, got " + t);
        }
    }

    /** A CPU tensor of F32, BF16 or F16 (weights read in place). */
    static void weight(String op, String what, Tensor t) {
        if (t == null) {
            throw new IllegalArgumentException(op + ": " + what + " is null");
        }
        DType d = t.dtype();
        if (t.device() != Device.CPU || (d != DType.F32 && d != DType.BF16 && d != DType.F16)) {
            throw new IllegalArgumentException(op + ": " + what + " must be F32, BF16 or F16 on CPU, got " + t);
        }
    }

    /** A CPU tensor of any float dtype. */
    static void hostFloat(String op, String what, Tensor t) {
        if (t == null) {
            throw new IllegalArgumentException(op + ": " + what + " is null");
        }
        if (t.device() != Device.CPU || !t.dtype().isFloat()) {
            throw new IllegalArgumentException(op + ": " + what + " must be a float tensor on CPU, got " + t);
        }
    }

    static void numel(String op, String what, Tensor t, long expected) {
        if (t.numel() != expected) {
            throw new IllegalArgumentException(op + ": " + what + " must have " + expected + " elements, got " + t);
        }
    }

    static void sameNumel(String op, String whatA, Tensor a, String whatB, Tensor b) {
        if (a.numel() != b.numel()) {
            throw new IllegalArgumentException(op + ": " + whatA + " " + a + " and " + whatB + " " + b
                    + " differ in element count");
        }
    }

    static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    /** Element count of a tensor that has to fit in one Java array (scratch and heap tensors). */
    static int intSize(String op, long n) {
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(op + ": " + n + " elements do not fit in one array");
        }
        return (int) n;
    }
}
