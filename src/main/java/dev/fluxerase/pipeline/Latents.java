package dev.fluxerase.pipeline;

import java.util.Random;

/**
 * The latent geometry of one image and the packing between the codec's latent {@code [C, h, w]} and the transformer's token
 * sequence {@code [L, 4C]} (FLUX.md §2.1): 2×2 patches, token {@code n = r·(w/2) + c} row-major, channel inside the
 * token {@code ch·4 + py·2 + px}. Batch size 1 throughout.
 *
 * @param width         image width in pixels
 * @param height        image height in pixels
 * @param vaeScale      the latent codec's downsampling factor (8 for FLUX's VAE, 2 for the tiny test VAE and the pixel
 *                      codec)
 * @param channels      the codec's latent channels (16 for FLUX's VAE, 12 for the pixel codec on RGB)
 */
public record Latents(int width, int height, int vaeScale, int channels) {

    public Latents {
        int step = 2 * vaeScale;
        if (width <= 0 || height <= 0 || width % step != 0 || height % step != 0) {
            throw new PipelineException("image size " + width + "x" + height + ": width and height must be positive"
                    + " multiples of " + step + " (the VAE's factor " + vaeScale + " times the 2x2 packing)");
        }
    }

    /** Latent height h = H / vaeScale. */
    public int latentHeight() {
        return height / vaeScale;
    }

    public int latentWidth() {
        return width / vaeScale;
    }

    /** Packed token rows (h/2). */
    public int rows() {
        return latentHeight() / 2;
    }

    /** Packed token columns (w/2). */
    public int cols() {
        return latentWidth() / 2;
    }

    /** L, the packed image token count: what the dynamic schedule shift is computed from. */
    public int tokens() {
        return rows() * cols();
    }

    /** Width of one packed token: 4·C (64 for FLUX). */
    public int tokenWidth() {
        return 4 * channels;
    }

    /** [C, h, w] → [L, 4C]. */
    public float[] pack(float[] latent) {
        int h = latentHeight();
        int w = latentWidth();
        check(latent.length, channels * h * w, "unpacked latent [" + channels + ", " + h + ", " + w + "]");
        float[] out = new float[latent.length];
        int tw = tokenWidth();
        for (int ch = 0; ch < channels; ch++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int token = (y / 2) * cols() + x / 2;
                    out[token * tw + ch * 4 + (y % 2) * 2 + x % 2] = latent[(ch * h + y) * w + x];
                }
            }
        }
        return out;
    }

    /** [L, 4C] → [C, h, w], the exact inverse of {@link #pack}. */
    public float[] unpack(float[] packed) {
        int h = latentHeight();
        int w = latentWidth();
        check(packed.length, tokens() * tokenWidth(), "packed latents [" + tokens() + ", " + tokenWidth() + "]");
        float[] out = new float[packed.length];
        int tw = tokenWidth();
        for (int ch = 0; ch < channels; ch++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int token = (y / 2) * cols() + x / 2;
                    out[(ch * h + y) * w + x] = packed[token * tw + ch * 4 + (y % 2) * 2 + x % 2];
                }
            }
        }
        return out;
    }

    /** img_ids [L, 3] row-major: (0, r, c) per packed token, in packed-token units (FLUX.md §2.2). */
    public double[] imageIds() {
        double[] ids = new double[tokens() * 3];
        for (int r = 0; r < rows(); r++) {
            for (int c = 0; c < cols(); c++) {
                int t = r * cols() + c;
                ids[t * 3 + 1] = r;
                ids[t * 3 + 2] = c;
            }
        }
        return ids;
    }

    /** txt_ids [n, 3]: all zeros. */
    public static double[] textIds(int n) {
        return new double[n * 3];
    }

    /**
     * Initial noise for a seed, packed [L, 4C]: standard normal values from {@link Random#nextGaussian} (whose
     * algorithm the Java specification fixes, so a seed gives the same noise on every JVM), drawn in the unpacked
     * [C, h, w] order as diffusers draws its {@code randn}, then packed. This is not torch's generator: the same seed
     * does not give diffusers' noise, which is why generation also accepts explicit initial latents.
     */
    public float[] noise(long seed) {
        Random rng = new Random(seed);
        float[] z = new float[channels * latentHeight() * latentWidth()];
        for (int i = 0; i < z.length; i++) {
            z[i] = (float) rng.nextGaussian();
        }
        return pack(z);
    }

    private static void check(int actual, int expected, String what) {
        if (actual != expected) {
            throw new PipelineException(what + ": expected " + expected + " values, got " + actual);
        }
    }
}
