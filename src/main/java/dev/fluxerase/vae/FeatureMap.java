package dev.fluxerase.vae;

import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.util.Arrays;

/**
 * One image's activations in channels-last order, {@code data[(y·w + x)·c + ch]}: a pixel's channels are contiguous, so
 * a conv is a GEMM over pixel rows and the attention tokens are the rows themselves.
 */
final class FeatureMap {
    final int h;
    final int w;
    final int c;
    final float[] data;

    FeatureMap(int h, int w, int c) {
        this(h, w, c, new float[Math.multiplyExact(Math.multiplyExact(h, w), c)]);
    }

    FeatureMap(int h, int w, int c, float[] data) {
        if (data.length != (long) h * w * c) {
            throw new IllegalArgumentException("feature map " + h + "x" + w + "x" + c + " needs " + (long) h * w * c
                    + " floats, got " + data.length);
        }
        this.h = h;
        this.w = w;
        this.c = c;
        this.data = data;
    }

    int pixels() {
        return h * w;
    }

    /** Image {@code b} of an NCHW f32 array [B, c, h, w]. */
    static FeatureMap fromNchw(float[] src, int b, int c, int h, int w) {
        FeatureMap m = new FeatureMap(h, w, c);
        int plane = h * w;
        int base = b * c * plane;
        Par.range(c, plane, (lo, hi) -> {
            for (int ch = lo; ch < hi; ch++) {
                int s = base + ch * plane;
                for (int p = 0; p < plane; p++) {
                    m.data[p * c + ch] = src[s + p];
                }
            }
        });
        return m;
    }

    /** Writes this map as image {@code b} of an NCHW array [B, c, h, w]. */
    void toNchw(float[] dst, int b) {
        int plane = h * w;
        int base = b * c * plane;
        Par.range(c, plane, (lo, hi) -> {
            for (int ch = lo; ch < hi; ch++) {
                int d = base + ch * plane;
                for (int p = 0; p < plane; p++) {
                    dst[d + p] = data[p * c + ch];
                }
            }
        });
    }

    /** A [1, c, h, w] tensor copy (for probes). */
    Tensor toTensor() {
        float[] out = new float[data.length];
        toNchw(out, 0);
        return Tensor.of(out, 1, c, h, w);
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
}
