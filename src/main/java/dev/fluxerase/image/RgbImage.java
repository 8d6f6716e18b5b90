package dev.fluxerase.image;

import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.util.Arrays;

/**
 * An 8-bit RGB image, row-major with interleaved channels: {@code rgb[(y·width + x)·3 + c]}. Converts to and from the
 * VAE's [1, 3, H, W] float tensors in [−1, 1] the way diffusers' {@code VaeImageProcessor} does, in float32.
 */
public record RgbImage(int width, int height, byte[] rgb) {

    public RgbImage {
        if (width <= 0 || height <= 0 || (long) width * height * 3 != rgb.length) {
            throw new IllegalArgumentException("RGB image " + width + "×" + height + " needs " + (long) width * height * 3
                    + " bytes, got " + rgb.length);
        }
    }

    /** Red, green or blue (c = 0, 1, 2) of pixel (x, y), 0..255. */
    public int get(int x, int y, int c) {
        return rgb[(y * width + x) * 3 + c] & 0xff;
    }

    /**
     * Image {@code index} of a CPU float tensor [B, 3, H, W] in [−1, 1] (a VAE output): postprocess
     * clamp(x/2 + 0.5, 0, 1), then numpy_to_pil's round(v·255), half to even, all in float32.
     */
    public static RgbImage fromTensor(Tensor t, int index) {
        if (t.device() != Device.CPU || !t.dtype().isFloat() || t.rank() != 4 || t.dim(1) != 3 || index < 0
                || index >= t.dim(0)) {
            throw new IllegalArgumentException("image " + index + " of a CPU float tensor [B, 3, H, W] expected, found "
                    + Arrays.toString(t.shape()) + " " + t.dtype() + " on " + t.device());
        }
        int h = (int) t.dim(2);
        int w = (int) t.dim(3);
        int plane = h * w;
        float[] v = new float[3 * plane];
        Floats.toF32(t.data(), t.dtype(), (long) index * 3 * plane, v, 0, v.length);
        byte[] rgb = new byte[3 * plane];
        for (int c = 0; c < 3; c++) {
            for (int p = 0; p < plane; p++) {
                float u = Math.clamp(v[c * plane + p] * 0.5f + 0.5f, 0f, 1f);
                rgb[p * 3 + c] = (byte) Math.rint(u * 255f);
            }
        }
        return new RgbImage(w, h, rgb);
    }

    /** A [1, 3, H, W] F32 tensor in [−1, 1]: (v/255)·2 − 1 in float32 (pil_to_numpy, then normalize). */
    public Tensor toTensor() {
        int plane = width * height;
        float[] out = new float[3 * plane];
        for (int c = 0; c < 3; c++) {
            for (int p = 0; p < plane; p++) {
                out[c * plane + p] = 2f * ((rgb[p * 3 + c] & 0xff) / 255f) - 1f;
            }
        }
        return Tensor.of(out, 1, 3, height, width);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RgbImage i && i.width == width && i.height == height && Arrays.equals(i.rgb, rgb);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(rgb) * 31 + width;
    }

    @Override
    public String toString() {
        return "RgbImage[" + width + "×" + height + "]";
    }
}
