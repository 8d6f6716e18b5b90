package dev.fluxerase.erase;

import dev.fluxerase.image.Png;
import dev.fluxerase.image.RgbImage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.IntUnaryOperator;
import java.util.stream.Stream;

/**
 * The concept's training images: every {@code .png} of a folder, in file-name order, each resized so that its shorter
 * side is the training resolution (bilinear, antialiased when shrinking, as PIL's and torchvision's resize) and cropped
 * to a square: centred, or at random as the released code's dataset does (torchvision's {@code RandomCrop}, drawn once
 * per image when the dataset is built, not per step), so each image is VAE-encoded once per run either way.
 */
final class ConceptImages {
    /** One image ready for the VAE. */
    record Image(String name, RgbImage pixels) {
        /** SHA-256 of the prepared pixels (hex): what a resumed run checks the folder against. */
        String digest() {
            try {
                return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(pixels.rgb()));
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("SHA-256 is missing from this JVM", e);
            }
        }
    }

    private ConceptImages() {
    }

    /**
     * Reads and prepares every PNG of {@code folder}, a random crop drawn from (seed, the image's place in name order);
     * one line naming the folder or file when something is wrong.
     */
    static List<Image> load(Path folder, int resolution, RunConfig.Crop crop, long seed) {
        String what = RunConfig.describe("instance_images") + " " + folder;
        if (!Files.isDirectory(folder)) {
            throw new EraseException(what + ": not a folder");
        }
        List<Path> files;
        try (Stream<Path> s = Files.list(folder)) {
            files = new ArrayList<>(s.filter(p -> p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".png"))
                    .filter(Files::isRegularFile).sorted().toList());
        } catch (IOException e) {
            throw new EraseException(what + ": cannot list: " + e.getMessage(), e);
        }
        if (files.isEmpty()) {
            throw new EraseException(what + ": no .png files (other formats are not read; convert the 3-5 concept"
                    + " images to PNG)");
        }
        List<Image> out = new ArrayList<>();
        for (int i = 0; i < files.size(); i++) {
            RgbImage img = Png.read(files.get(i));
            out.add(new Image(files.get(i).getFileName().toString(), crop == RunConfig.Crop.RANDOM
                    ? randomCrop(img, resolution, RunRandom.crop(seed, i)) : squareCrop(img, resolution)));
        }
        return out;
    }

    /** Shorter side to {@code size} (the longer keeps the aspect ratio, rounded), then the centered size × size. */
    static RgbImage squareCrop(RgbImage img, int size) {
        return crop(img, size, spare -> (int) Math.rint(spare / 2.0));
    }

    /**
     * The same resize, then the size × size square at a random place: the top row, then the left column, each uniform
     * over every place where the square fits, in the order of torchvision's {@code RandomCrop.get_params}.
     */
    static RgbImage randomCrop(RgbImage img, int size, Random rng) {
        return crop(img, size, spare -> rng.nextInt(spare + 1));
    }

    /** {@code offset} gives the first row, then the first column, from the pixels the square leaves spare. */
    private static RgbImage crop(RgbImage img, int size, IntUnaryOperator offset) {
        int w = img.width();
        int h = img.height();
        int nw = w <= h ? size : Math.max(size, (int) Math.round((double) w * size / h));
        int nh = h <= w ? size : Math.max(size, (int) Math.round((double) h * size / w));
        float[] resized = resize(img, nw, nh);
        int top = offset.applyAsInt(nh - size);
        int left = offset.applyAsInt(nw - size);
        byte[] rgb = new byte[size * size * 3];
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                for (int c = 0; c < 3; c++) {
                    float v = resized[((top + y) * nw + left + x) * 3 + c];
                    rgb[(y * size + x) * 3 + c] = (byte) Math.clamp(Math.round(v), 0, 255);
                }
            }
        }
        return new RgbImage(size, size, rgb);
    }

    /**
     * Separable bilinear resampling, PIL's {@code ImagingResample} with the triangle filter: output pixel i samples
     * around input coordinate (i + 0.5)·scale with a triangle of half-width max(scale, 1), weights normalised. Equal to
     * plain bilinear interpolation when enlarging, an area-like average when shrinking. Returns interleaved RGB floats.
     */
    static float[] resize(RgbImage img, int nw, int nh) {
        int w = img.width();
        int h = img.height();
        float[] src = new float[w * h * 3];
        for (int i = 0; i < src.length; i++) {
            src[i] = img.rgb()[i] & 0xff;
        }
        float[] horizontal = new float[nw * h * 3];
        Taps tx = Taps.of(w, nw);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < nw; x++) {
                for (int c = 0; c < 3; c++) {
                    double s = 0;
                    for (int k = 0; k < tx.count[x]; k++) {
                        s += tx.weights[x][k] * src[(y * w + tx.first[x] + k) * 3 + c];
                    }
                    horizontal[(y * nw + x) * 3 + c] = (float) s;
                }
            }
        }
        float[] out = new float[nw * nh * 3];
        Taps ty = Taps.of(h, nh);
        for (int y = 0; y < nh; y++) {
            for (int x = 0; x < nw; x++) {
                for (int c = 0; c < 3; c++) {
                    double s = 0;
                    for (int k = 0; k < ty.count[y]; k++) {
                        s += ty.weights[y][k] * horizontal[((ty.first[y] + k) * nw + x) * 3 + c];
                    }
                    out[(y * nw + x) * 3 + c] = (float) s;
                }
            }
        }
        return out;
    }

    /** Per output position: the first input index, the tap count and the normalised triangle weights. */
    private record Taps(int[] first, int[] count, double[][] weights) {
        static Taps of(int in, int out) {
            double scale = (double) in / out;
            double filterScale = Math.max(scale, 1.0);
            double support = filterScale;
            int[] first = new int[out];
            int[] count = new int[out];
            double[][] weights = new double[out][];
            for (int i = 0; i < out; i++) {
                double center = (i + 0.5) * scale;
                int lo = Math.max(0, (int) (center - support + 0.5));
                int hi = Math.min(in, (int) (center + support + 0.5));
                double[] wts = new double[Math.max(0, hi - lo)];
                double total = 0;
                for (int k = 0; k < wts.length; k++) {
                    double d = Math.abs((k + lo - center + 0.5) / filterScale);
                    wts[k] = d < 1 ? 1 - d : 0;
                    total += wts[k];
                }
                for (int k = 0; k < wts.length; k++) {
                    wts[k] /= total;
                }
                first[i] = lo;
                count[i] = wts.length;
                weights[i] = wts;
            }
            return new Taps(first, count, weights);
        }
    }
}
