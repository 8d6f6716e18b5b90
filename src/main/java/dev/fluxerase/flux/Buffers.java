package dev.fluxerase.flux;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Buffers (F32 but for BF16 MLP activations) sized for one shape (a batch, a token count) and given back together
 * when the shape changes: a device backend holds what it allocated until it is freed, so a model that only dropped its
 * references would keep every earlier shape's activations on the GPU. On the host backends {@link Backend#free} does nothing and this is only a list.
 */
final class Buffers {
    private final Backend be;
    private final List<Tensor> owned = new ArrayList<>();

    Buffers(Backend be) {
        this.be = be;
    }

    /** A zeroed F32 tensor that {@link #free} gives back. */
    Tensor f32(long... shape) {
        return of(DType.F32, shape);
    }

    /** A zeroed tensor of {@code dtype} (the MLP activations' F32 or BF16) that {@link #free} gives back. */
    Tensor of(DType dtype, long... shape) {
        Tensor t = be.allocate(dtype, shape);
        owned.add(t);
        return t;
    }

    /** A copy on the backend's device of a host tensor of any float dtype, as F32, that {@link #free} gives back. */
    Tensor upload(Tensor host) {
        Tensor t = be.upload(Floats.toF32(host), host.shape());
        owned.add(t);
        return t;
    }

    /** Gives back every tensor made here; none of them may be used afterwards. */
    void free() {
        for (Tensor t : owned) {
            be.free(t);
        }
        owned.clear();
    }
}
