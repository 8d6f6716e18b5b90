package dev.fluxerase.vae;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.util.Arrays;
import java.util.function.BiConsumer;

/**
 * Between the codec's NCHW images and latents [B, C, H, W] and the models' channels-last maps [1, H, W, C], one image
 * at a time: a pixel's channels are contiguous in a map, so a conv reads a pixel's inputs as one run and the attention's
 * tokens are its rows. The transposes are {@link Backend#copyStrided} on the model's backend.
 */
final class Layout {
    private Layout() {
    }

    /** The f32 values of a CPU [B, channels, H, W] tensor of any float dtype; a one-line error naming {@code what}. */
    static float[] nchw(Tensor t, String what, int channels) {
        if (t.device() != Device.CPU || !t.dtype().isFloat() || t.rank() != 4 || t.dim(1) != channels || t.dim(0) < 1
                || t.dim(2) < 1 || t.dim(3) < 1) {
            throw new VaeException(what + ": expected a CPU float tensor [B, " + channels + ", H, W], found "
                    + Arrays.toString(t.shape()) + " " + t.dtype() + " on " + t.device());
        }
        return Floats.toF32(t);
    }

    /** Image {@code b} of an NCHW F32 tensor [B, C, H, W] on {@code be} as a new map [1, H, W, C]. */
    static Tensor toMap(Backend be, Tensor nchw, int b) {
        long c = nchw.dim(1);
        long h = nchw.dim(2);
        long w = nchw.dim(3);
        Tensor map = be.allocate(DType.F32, 1, h, w, c);
        be.copyStrided(nchw, b * c * h * w, new long[]{0, h * w, w, 1}, map, 0, new long[]{0, 1, w * c, c},
                new long[]{1, c, h, w}, false);
        return map;
    }

    /** A map [1, H, W, C] written as image {@code b} of an NCHW F32 tensor [B, C, H, W] on the same backend. */
    static void toNchw(Backend be, Tensor map, Tensor nchw, int b) {
        long h = map.dim(1);
        long w = map.dim(2);
        long c = map.dim(3);
        be.copyStrided(map, 0, new long[]{0, 1, w * c, c}, nchw, b * c * h * w, new long[]{0, h * w, w, 1},
                new long[]{1, c, h, w}, false);
    }

    /** Hands {@code probe}, when there is one, a host [1, C, H, W] copy of a map, named {@code name}. */
    static void report(Backend be, BiConsumer<String, Tensor> probe, String name, Tensor map) {
        if (probe != null) {
            Tensor nchw = be.allocate(DType.F32, 1, map.dim(3), map.dim(1), map.dim(2));
            toNchw(be, map, nchw, 0);
            probe.accept(name, be.moveToHost(nchw));
        }
    }
}
