package dev.fluxerase.text;

import dev.fluxerase.safetensors.SafetensorsException;
import dev.fluxerase.safetensors.TensorInfo;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Allocations;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.util.Arrays;

/**
 * Looks up an encoder's weights by name and checks each against the shape the config implies, so that a wrong file fails
 * at load with one line (file, tensor, expected vs actual) rather than deep inside a GEMM, and places them on the
 * model's backend: on a host backend the tensors are views of the mapped file (nothing is copied), on a device copies
 * in their stored dtype, which {@link #close} frees with the model.
 */
final class EncoderWeights implements AutoCloseable {
    private final TensorSource source;
    private final Allocations placed;

    EncoderWeights(TensorSource source, Backend backend) {
        this.source = source;
        this.placed = new Allocations(backend);
    }

    Backend backend() {
        return placed.backend();
    }

    /**
     * The tensor on the backend, marked frozen (an encoder never writes its weights), so the CPU GEMM packs each once
     * instead of at every encode.
     */
    Tensor get(String name, long... shape) {
        return placed.toDevice(host(name, shape)).frozen();
    }

    /** The tensor as the mapped file holds it, for what is read on the host (a table turned into a bias, a scalar). */
    Tensor host(String name, long... shape) {
        if (!source.contains(name)) {
            throw new SafetensorsException(source.describe() + ": tensor '" + name + "': missing (expected shape "
                    + Arrays.toString(shape) + ")");
        }
        return checked(name, shape);
    }

    /**
     * A norm scale as an F32 [1, C] row on the backend: {@link Backend#gateAdd} takes its per-channel factor in F32, so
     * BF16 and F16 scales are widened (exactly) on the host and only the row is placed.
     */
    Tensor scaleRow(String name, long c) {
        return placed.upload(Floats.toF32(host(name, c)), 1, c);
    }

    /** The first of several names that the file holds (tied or renamed copies of one tensor), on the backend, frozen. */
    Tensor getAny(String[] names, long... shape) {
        for (String name : names) {
            if (source.contains(name)) {
                return placed.toDevice(checked(name, shape)).frozen();
            }
        }
        throw new SafetensorsException(source.describe() + ": tensor '" + names[0] + "': missing (expected shape "
                + Arrays.toString(shape) + "; also looked for " + String.join(", ", Arrays.asList(names).subList(1,
                names.length)) + ")");
    }

    /** A one-element tensor, stored 0-d (as PyTorch saves a scalar parameter) or as [1]. */
    float scalar(String name) {
        if (!source.contains(name)) {
            throw new SafetensorsException(source.describe() + ": tensor '" + name + "': missing (expected shape [] or"
                    + " [1])");
        }
        long[] shape = source.info(name).shape();
        return Floats.toF32(checked(name, shape.length == 0 ? shape : new long[]{1}))[0];
    }

    private Tensor checked(String name, long[] shape) {
        TensorInfo info = source.info(name);
        DType d = info.dtype();
        if (d != DType.F32 && d != DType.BF16 && d != DType.F16) {
            throw new SafetensorsException(source.describe() + ": tensor '" + name + "': dtype " + d
                    + ", expected F32, BF16 or F16");
        }
        if (!Arrays.equals(info.shape(), shape)) {
            throw new SafetensorsException(source.describe() + ": tensor '" + name + "': expected shape "
                    + Arrays.toString(shape) + ", got " + Arrays.toString(info.shape()));
        }
        Tensor t = source.tensor(name);
        String problem = Floats.nonFinite(t);
        if (problem != null) {
            throw new SafetensorsException(source.describe() + ": tensor '" + name + "': " + problem
                    + "; the file is damaged (a bad download or conversion)");
        }
        return t;
    }

    /** Frees the device copies (nothing on a host backend); the mapped file is its owner's to close. */
    @Override
    public void close() {
        placed.close();
    }
}
