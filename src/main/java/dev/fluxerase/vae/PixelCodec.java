package dev.fluxerase.vae;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.json.ConfigJson;
import dev.fluxerase.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A codec without weights: the latent is the image's pixel-unshuffle by p, {@code z = (pixel_unshuffle_p(x) − shift)·scale},
 * latent channel {@code c·p² + dy·p + dx} holding pixel (p·y + dy, p·x + dx) of image channel c, exactly as
 * {@code torch.nn.functional.pixel_unshuffle}; decoding is its exact inverse. With p = 2 on RGB, FLUX's 2×2 packing makes
 * each token a 4×4 pixel patch (48 values). It stands in for a trained VAE where none can be trained (the toy pipeline).
 * On disk it is a vae/config.json with {@code "_class_name": "PixelUnshuffleCodec"} and no weights.
 */
public final class PixelCodec implements LatentCodec {
    public static final String CLASS_NAME = "PixelUnshuffleCodec";

    private final int patchSize;
    private final int imageChannels;
    private final LatentScaling scaling;

    public PixelCodec(int patchSize, int imageChannels, LatentScaling scaling) {
        if (patchSize < 1 || imageChannels < 1) {
            throw new IllegalArgumentException("patch_size " + patchSize + " and in_channels " + imageChannels
                    + " must be positive");
        }
        this.patchSize = patchSize;
        this.imageChannels = imageChannels;
        this.scaling = scaling;
    }

    /** Whether {@code configFile} is a readable JSON object whose {@code _class_name} is PixelUnshuffleCodec. */
    public static boolean describedBy(Path configFile) {
        if (!Files.isRegularFile(configFile)) {
            return false;
        }
        try {
            JsonNode root = new ObjectMapper().readTree(Files.readAllBytes(configFile));
            return root != null && CLASS_NAME.equals(root.path("_class_name").asText(null));
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Reads a vae/config.json: {@code patch_size} and {@code in_channels} (positive integers), {@code scaling_factor}
     * (positive, default 1) and {@code shift_factor} (default 0); other keys are ignored. One line naming the file and the
     * key when something is wrong.
     */
    public static PixelCodec read(Path configFile) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readAllBytes(configFile));
        } catch (IOException e) {
            throw new VaeException(configFile + ": cannot read codec config: "
                    + e.getMessage().lines().findFirst().orElse(""));
        }
        if (root == null || !root.isObject()) {
            throw new VaeException(configFile + ": codec config is not a JSON object");
        }
        String cls = root.path("_class_name").asText("");
        if (!cls.equals(CLASS_NAME)) {
            throw new VaeException(configFile + ": _class_name is \"" + ConfigJson.printable(cls) + "\", expected " + CLASS_NAME);
        }
        int patch = positiveInt(configFile, root, "patch_size");
        int channels = positiveInt(configFile, root, "in_channels");
        double scale = number(configFile, root, "scaling_factor", 1.0);
        if (!(scale > 0) || !Double.isFinite(scale)) {
            throw new VaeException(configFile + ": scaling_factor must be a positive number, found " + scale);
        }
        return new PixelCodec(patch, channels, new LatentScaling(scale, number(configFile, root, "shift_factor", 0.0)));
    }

    private static int positiveInt(Path file, JsonNode root, String key) {
        JsonNode v = root.get(key);
        if (v == null || !v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < 1) {
            throw new VaeException(file + ": " + key + " must be a positive integer, found "
                    + (v == null ? "nothing" : v.toString()));
        }
        return v.intValue();
    }

    private static double number(Path file, JsonNode root, String key, double fallback) {
        JsonNode v = root.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isNumber() || !Double.isFinite(v.doubleValue())) {
            throw new VaeException(file + ": " + key + " must be a finite number, found " + v);
        }
        return v.doubleValue();
    }

    public int patchSize() {
        return patchSize;
    }

    /** Image channels (3 for RGB). */
    public int imageChannels() {
        return imageChannels;
    }

    @Override
    public String kind() {
        return CLASS_NAME;
    }

    @Override
    public int downsampleFactor() {
        return patchSize;
    }

    @Override
    public int latentChannels() {
        return imageChannels * patchSize * patchSize;
    }

    @Override
    public LatentScaling scaling() {
        return scaling;
    }

    /** The unshuffled pixels, before scaling; no logvar, since the rearrangement is exact. */
    @Override
    public Moments moments(Tensor image) {
        float[] x = Layout.nchw(image, "image", imageChannels);
        int h = (int) image.dim(2);
        int w = (int) image.dim(3);
        if (h % patchSize != 0 || w % patchSize != 0) {
            throw new VaeException("image: height " + h + " and width " + w + " must be multiples of the codec's patch"
                    + " size " + patchSize + ", found " + Arrays.toString(image.shape()));
        }
        float[] z = new float[x.length];
        rearrange(x, z, (int) image.dim(0), h, w, true);
        return new Moments(Tensor.of(z, image.dim(0), latentChannels(), h / patchSize, w / patchSize), null);
    }

    @Override
    public Tensor decode(Tensor latents) {
        float[] z = Layout.nchw(latents, "latents", latentChannels());
        scaling.fromFlux(z);
        int h = (int) latents.dim(2) * patchSize;
        int w = (int) latents.dim(3) * patchSize;
        float[] x = new float[z.length];
        rearrange(x, z, (int) latents.dim(0), h, w, false);
        return Tensor.of(x, latents.dim(0), imageChannels, h, w);
    }

    /** The latents' copy and the image, the same count of floats. */
    @Override
    public Footprint decodeFootprint(int batch, int h, int w) {
        long n = (long) batch * latentChannels() * h * w;
        return new Footprint(2 * 4 * n, n);
    }

    /** Copies image [B, C, h, w] into latent [B, C·p², h/p, w/p] (unshuffle) or back (shuffle). */
    private void rearrange(float[] image, float[] latent, int batch, int h, int w, boolean unshuffle) {
        int p = patchSize;
        int lc = latentChannels();
        int lh = h / p;
        int lw = w / p;
        for (int b = 0; b < batch; b++) {
            for (int c = 0; c < imageChannels; c++) {
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        int ch = (c * p + y % p) * p + x % p;
                        int li = ((b * lc + ch) * lh + y / p) * lw + x / p;
                        int ii = ((b * imageChannels + c) * h + y) * w + x;
                        if (unshuffle) {
                            latent[li] = image[ii];
                        } else {
                            image[ii] = latent[li];
                        }
                    }
                }
            }
        }
    }
}
