package dev.fluxerase.tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Tensors made on one backend that are given back together: a model's weights copied to a device (for as long as the
 * model is open), or one call's buffers (for as long as the call runs). A device backend holds what it allocated until
 * it is freed ({@link Backend#free}), so a text encoder that encodes prompt after prompt, or a VAE that decodes image
 * after image, must free every call's buffers; on the host backends freeing does nothing and the garbage collector
 * takes them.
 */
public final class Allocations implements AutoCloseable {
    private final Backend backend;
    private final List<Tensor> made = new ArrayList<>();

    public Allocations(Backend backend) {
        this.backend = backend;
    }

    /**
     * What {@code make} builds with fresh allocations on {@code backend} (a model placing its parameters), the
     * allocations freed again when building fails.
     */
    public static <T> T building(Backend backend, Function<Allocations, T> make) {
        Allocations a = new Allocations(backend);
        try {
            return make.apply(a);
        } catch (RuntimeException e) {
            a.close();
            throw e;
        }
    }

    public Backend backend() {
        return backend;
    }

    /** {@link Backend#allocate}, freed by {@link #close}. */
    public Tensor allocate(DType dtype, long... shape) {
        return keep(backend.allocate(dtype, shape));
    }

    /** {@link Backend#upload}, freed by {@link #close}. */
    public Tensor upload(float[] values, long... shape) {
        return keep(backend.upload(values, shape));
    }

    /**
     * {@link Backend#toDevice}: the host tensor itself on a host backend (a mapped weight is read in place there), else
     * a copy in its own dtype, freed by {@link #close}.
     */
    public Tensor toDevice(Tensor host) {
        Tensor t = backend.toDevice(host);
        return t == host ? t : keep(t);
    }

    private Tensor keep(Tensor t) {
        made.add(t);
        return t;
    }

    /** Frees everything made here, newest first; the tensors must not be used afterwards. */
    @Override
    public void close() {
        for (int i = made.size() - 1; i >= 0; i--) {
            backend.free(made.get(i));
        }
        made.clear();
    }
}
