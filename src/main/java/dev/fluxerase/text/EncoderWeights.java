package dev.fluxerase.text;

import dev.fluxerase.safetensors.SafetensorsException;
import dev.fluxerase.safetensors.TensorInfo;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.util.Arrays;

/**
 * Looks up an encoder's weights by name and checks each against the shape the config implies, so that a wrong file fails
 * at load with one line (file, tensor, expected vs actual) rather than deep inside a GEMM. The tensors returned are views
 * of the mapped file: nothing is copied.
 */
final class EncoderWeights {
    private final TensorSource source;

    EncoderWeights(TensorSource source) {
        this.source = source;
    }

    Tensor get(String name, long... shape) {
        if (!source.contains(name)) {
            throw new SafetensorsException(source.describe() + ": tensor '" + name + "': missing (expected shape "
                    + Arrays.toString(shape) + ")");
        }
        return checked(name, shape);
    }

    /** The first of several names that the file holds (tied or renamed copies of one tensor). */
    Tensor getAny(String[] names, long... shape) {
        for (String name : names) {
            if (source.contains(name)) {
                return checked(name, shape);
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
}
