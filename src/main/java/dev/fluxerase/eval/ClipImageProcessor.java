package dev.fluxerase.eval;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.json.ConfigJson;
import dev.fluxerase.tensor.Tensor;

import java.nio.file.Path;
import java.util.List;

/**
 * transformers' {@code CLIPImageProcessor} with its PIL/NumPy backend (transformers 4.x, {@code CLIPImageProcessorPil}
 * in 5.x), bit for bit: shortest-edge resize with Pillow's bicubic filter, centre crop, rescale, normalise, read from a
 * {@code preprocessor_config.json}. The torchvision backend resamples differently (up to 2 levels on a few pixels) and
 * is not what this reproduces.
 */
public final class ClipImageProcessor {
    /** Pillow's {@code Image.BICUBIC}, the only {@code resample} implemented (CLIP's). */
    static final int BICUBIC = 3;
    /** Pillow's fixed-point weights: 32 bits less 8 for the pixel and 2 of headroom. */
    private static final int PRECISION_BITS = 22;
    private static final double[] OPENAI_MEAN = {0.48145466, 0.4578275, 0.40821073};
    private static final double[] OPENAI_STD = {0.26862954, 0.26130258, 0.27577711};

    /**
     * The processor's settings. {@code shortestEdge} > 0 resizes so the short side has that length; otherwise the image
     * is resized to exactly {@code resizeWidth} × {@code resizeHeight}.
     */
    public record Config(boolean doResize, int shortestEdge, int resizeWidth, int resizeHeight, boolean doCenterCrop,
                         int cropWidth, int cropHeight, boolean doRescale, double rescaleFactor, boolean doNormalize,
                         double[] mean, double[] std) {
    }

    private final Config config;

    public ClipImageProcessor(Config config) {
        this.config = config;
    }

    /**
     * Reads a {@code preprocessor_config.json}; absent keys take CLIPImageProcessor's defaults (shortest edge 224, crop
     * 224, rescale 1/255, openai's mean and std). A {@code size} given as a number is the shortest edge, as CLIP's
     * legacy configs mean it.
     */
    public static ClipImageProcessor read(Path file) {
        JsonNode n = ConfigJson.read(file);
        try {
            return of(n);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** The processor a JSON object describes, with the keys and defaults of {@link #read}. */
    public static ClipImageProcessor of(JsonNode n) {
        if (n.has("resample") && ConfigJson.integer(n, "resample") != BICUBIC) {
            throw new IllegalArgumentException("config \"resample\" " + n.get("resample") + " is not supported:"
                    + " only 3 (bicubic, CLIP's) is implemented");
        }
        int shortest = 224;
        int rw = 0;
        int rh = 0;
        JsonNode size = n.get("size");
        if (size != null && size.isObject() && size.has("shortest_edge")) {
            shortest = ConfigJson.integer(size, "shortest_edge");
        } else if (size != null && size.isObject()) {
            shortest = 0;
            rw = ConfigJson.integer(size, "width");
            rh = ConfigJson.integer(size, "height");
        } else if (size != null) {
            shortest = ConfigJson.integer(n, "size");
        }
        int cw = 224;
        int ch = 224;
        JsonNode crop = n.get("crop_size");
        if (crop != null && crop.isObject()) {
            cw = ConfigJson.integer(crop, "width");
            ch = ConfigJson.integer(crop, "height");
        } else if (crop != null) {
            cw = ch = ConfigJson.integer(n, "crop_size");
        }
        for (int v : new int[]{Math.max(shortest, rw), Math.max(shortest, rh), cw, ch}) {
            ConfigJson.positive("size and crop_size", v);
        }
        return new ClipImageProcessor(new Config(flag(n, "do_resize"), shortest, rw, rh, flag(n, "do_center_crop"),
                cw, ch, flag(n, "do_rescale"), n.has("rescale_factor") ? ConfigJson.number(n, "rescale_factor")
                : 1 / 255.0, flag(n, "do_normalize"), triple(n, "image_mean", OPENAI_MEAN),
                triple(n, "image_std", OPENAI_STD)));
    }

    private static boolean flag(JsonNode n, String key) {
        return !n.has(key) || ConfigJson.bool(n, key);
    }

    private static double[] triple(JsonNode n, String key, double[] fallback) {
        JsonNode v = n.get(key);
        if (v == null) {
            return fallback;
        }
        if (!v.isArray() || v.size() != 3 || !v.get(0).isNumber() || !v.get(1).isNumber() || !v.get(2).isNumber()) {
            throw new IllegalArgumentException("config \"" + key + "\" must be three numbers (R, G, B), got " + v);
        }
        return new double[]{v.get(0).asDouble(), v.get(1).asDouble(), v.get(2).asDouble()};
    }

    public Config config() {
        return config;
    }

    /** Steps 1–3: the resized and centre-cropped 8-bit image, before any float arithmetic. */
    public RgbImage resizeAndCrop(RgbImage image) {
        RgbImage img = image;
        if (config.doResize()) {
            int[] wh = config.shortestEdge() > 0 ? shortestEdgeSize(img.width(), img.height(), config.shortestEdge())
                    : new int[]{config.resizeWidth(), config.resizeHeight()};
            img = resizeBicubic(img, wh[0], wh[1]);
        }
        return config.doCenterCrop() ? centerCrop(img, config.cropWidth(), config.cropHeight()) : img;
    }

    /** pixel_values [B, 3, H, W] F32 for a batch; every image must come out at one size (crop on, as CLIP's is). */
    public Tensor pixelValues(List<RgbImage> images) {
        if (images.isEmpty()) {
            throw new IllegalArgumentException("CLIP image processor: no images");
        }
        RgbImage first = resizeAndCrop(images.getFirst());
        int plane = 3 * first.width() * first.height();
        float[] all = new float[images.size() * plane];
        for (int i = 0; i < images.size(); i++) {
            RgbImage img = i == 0 ? first : resizeAndCrop(images.get(i));
            if (img.width() != first.width() || img.height() != first.height()) {
                throw new IllegalArgumentException("CLIP image processor: image " + i + " comes out " + img.width()
                        + "×" + img.height() + ", image 0 " + first.width() + "×" + first.height()
                        + " (turn do_center_crop on)");
            }
            System.arraycopy(normalize(img), 0, all, i * plane, plane);
        }
        return Tensor.of(all, images.size(), 3, first.height(), first.width());
    }

    /**
     * Steps 4–5 on an 8-bit image, channel-planar: {@code float32(u8 · rescale_factor)} with the product in double
     * (numpy multiplies the float64 copy), then {@code (x − float32(mean)) / float32(std)} in float32.
     */
    public float[] normalize(RgbImage img) {
        int plane = img.width() * img.height();
        float[] out = new float[3 * plane];
        for (int c = 0; c < 3; c++) {
            float mean = (float) config.mean()[c];
            float std = (float) config.std()[c];
            for (int p = 0; p < plane; p++) {
                int u8 = img.rgb()[p * 3 + c] & 0xff;
                float x = config.doRescale() ? (float) (u8 * config.rescaleFactor()) : u8;
                out[c * plane + p] = config.doNormalize() ? (x - mean) / std : x;
            }
        }
        return out;
    }

    /** The short side becomes {@code edge}, the long one {@code int(edge · long / short)} (truncated, in double). */
    static int[] shortestEdgeSize(int width, int height, int edge) {
        int shortSide = Math.min(width, height);
        int longSide = Math.max(width, height);
        int newLong = (int) (edge * (double) longSide / shortSide);
        return width <= height ? new int[]{edge, newLong} : new int[]{newLong, edge};
    }

    /** The centred window, offsets floored; an image smaller than the window is refused (transformers would pad). */
    static RgbImage centerCrop(RgbImage img, int width, int height) {
        if (img.width() < width || img.height() < height) {
            throw new IllegalArgumentException("CLIP image processor: a " + img.width() + "×" + img.height()
                    + " image is smaller than the " + width + "×" + height + " crop (turn do_resize on)");
        }
        int top = (img.height() - height) / 2;
        int left = (img.width() - width) / 2;
        byte[] rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++) {
            System.arraycopy(img.rgb(), ((top + y) * img.width() + left) * 3, rgb, y * width * 3, width * 3);
        }
        return new RgbImage(width, height, rgb);
    }

    /**
     * Pillow's {@code Image.resize(size, BICUBIC)} on an RGB image ({@code ImagingResample}, 8 bits per channel):
     * separable, the horizontal pass first into an 8-bit intermediate, a pass skipped when its side does not change,
     * the kernel widened by the scale when shrinking (antialiasing), weights in 22-bit fixed point.
     */
    static RgbImage resizeBicubic(RgbImage img, int width, int height) {
        RgbImage out = img;
        if (width != img.width()) {
            Coefficients cx = Coefficients.of(img.width(), width);
            byte[] rgb = new byte[width * img.height() * 3];
            for (int y = 0; y < img.height(); y++) {
                int row = y * img.width();
                for (int x = 0; x < width; x++) {
                    for (int c = 0; c < 3; c++) {
                        rgb[((y * width) + x) * 3 + c] = cx.apply(x, img.rgb(), (row + cx.first[x]) * 3 + c, 3);
                    }
                }
            }
            out = new RgbImage(width, img.height(), rgb);
        }
        if (height != img.height()) {
            Coefficients cy = Coefficients.of(img.height(), height);
            int stride = width * 3;
            byte[] rgb = new byte[height * stride];
            for (int y = 0; y < height; y++) {
                for (int i = 0; i < stride; i++) {
                    rgb[y * stride + i] = cy.apply(y, out.rgb(), cy.first[y] * stride + i, stride);
                }
            }
            out = new RgbImage(width, height, rgb);
        }
        return out;
    }

    /** Per output index: the first input index and the fixed-point weights (Pillow's precompute_coeffs). */
    private record Coefficients(int[] first, int[][] weights) {
        static Coefficients of(int in, int out) {
            double scale = (double) in / out;
            double filterScale = Math.max(scale, 1.0);
            double support = 2.0 * filterScale;
            double ss = 1.0 / filterScale;
            int[] first = new int[out];
            int[][] weights = new int[out][];
            for (int i = 0; i < out; i++) {
                double center = (i + 0.5) * scale;
                int xmin = Math.max((int) (center - support + 0.5), 0);
                int xmax = Math.min((int) (center + support + 0.5), in) - xmin;
                double[] k = new double[xmax];
                double sum = 0;
                for (int j = 0; j < xmax; j++) {
                    k[j] = cubic((j + xmin - center + 0.5) * ss);
                    sum += k[j];
                }
                int[] fixed = new int[xmax];
                for (int j = 0; j < xmax; j++) {
                    double w = sum != 0 ? k[j] / sum : k[j];
                    fixed[j] = w < 0 ? (int) (-0.5 + w * (1 << PRECISION_BITS))
                            : (int) (0.5 + w * (1 << PRECISION_BITS));
                }
                first[i] = xmin;
                weights[i] = fixed;
            }
            return new Coefficients(first, weights);
        }

        /** Output i from the inputs at {@code from}, {@code from + step}, …: rounded, clamped to 0..255 as clip8. */
        byte apply(int i, byte[] src, int from, int step) {
            int acc = 1 << (PRECISION_BITS - 1);
            int[] w = weights[i];
            for (int j = 0; j < w.length; j++) {
                acc += (src[from + j * step] & 0xff) * w[j];
            }
            return (byte) (acc >= 1 << (PRECISION_BITS + 8) ? 255 : acc <= 0 ? 0 : acc >>> PRECISION_BITS);
        }

        /** Keys' cubic with a = −0.5, written as Pillow's bicubic_filter so the doubles round the same way. */
        private static double cubic(double x) {
            double a = -0.5;
            double t = Math.abs(x);
            if (t < 1.0) {
                return ((a + 2.0) * t - (a + 3.0)) * t * t + 1;
            }
            if (t < 2.0) {
                return (((t - 5) * t + 8) * t - 4) * a;
            }
            return 0.0;
        }
    }
}
