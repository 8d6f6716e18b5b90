package dev.fluxerase.toy;

import dev.fluxerase.image.Png;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.testing.Resources;
import dev.fluxerase.toy.ShapeClassifier.Result;
import dev.fluxerase.toy.ShapeWorld.Sample;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShapeClassifierTest {
    /** Held out: no other test samples this data set. */
    private static final long HELD_OUT = 0x5EED_C1A55L;
    private static final int N = 3000;
    private static final int SIZE = ShapeWorld.SIZE;

    @Test
    void recognisesHeldOutSamples() {
        assertAccuracy("clean", N, image -> image, 0.98);
    }

    /**
     * Agreement with a person on images the toy model drew (labelled-samples.txt says how they were labelled): the
     * images a person calls clearly one shape are that shape (34 of 37; with the first rule set, which rejected every
     * elongation above 0.2, 25), and of the images a person calls clearly none of the six, at most 8 of 27 count as the
     * shape their prompt asked for (4 of them round blobs in the circle row: the known weakness of a moment-based
     * classifier, which reads a lumpy round blob as a circle).
     */
    @Test
    void agreesWithAPersonOnGeneratedSamples() throws Exception {
        RgbImage sheet = Png.read(Resources.path("toy/labelled-samples.png"));
        List<String> rows = Files.readAllLines(Resources.path("toy/labelled-samples.txt")).stream()
                .filter(l -> !l.startsWith("#")).toList();
        assertEquals(Shape.values().length, rows.size());
        int clear = 0;
        int clearAgree = 0;
        int none = 0;
        int noneAsPrompt = 0;
        StringBuilder misses = new StringBuilder();
        for (int r = 0; r < rows.size(); r++) {
            String[] parts = rows.get(r).split(":\\s*");
            Shape prompt = Demo.shape(parts[0]);
            assertEquals(r, prompt.ordinal());
            String[] labels = parts[1].split(" ");
            assertEquals(sheet.width() / SIZE, labels.length);
            for (int j = 0; j < labels.length; j++) {
                byte[] cell = new byte[SIZE * SIZE * 3];
                for (int y = 0; y < SIZE; y++) {
                    System.arraycopy(sheet.rgb(), ((r * SIZE + y) * sheet.width() + j * SIZE) * 3, cell, y * SIZE * 3,
                            SIZE * 3);
                }
                Result res = ShapeClassifier.classify(new RgbImage(SIZE, SIZE, cell));
                if (labels[j].equals("none")) {
                    none++;
                    noneAsPrompt += res.shape() == prompt ? 1 : 0;
                } else if (!labels[j].equals("?")) {
                    clear++;
                    if (res.shape() == Demo.shape(labels[j])) {
                        clearAgree++;
                    } else {
                        misses.append(' ').append(r).append(',').append(j).append(": ").append(res.reason());
                    }
                }
            }
        }
        assertEquals(37, clear);
        assertEquals(27, none);
        assertTrue(clearAgree >= 34, clearAgree + " of " + clear + " clear shapes recognised;" + misses);
        assertTrue(noneAsPrompt <= 8, noneAsPrompt + " of " + none + " non-shapes counted as their prompt's shape");
    }

    @Test
    void toleratesNoise() {
        Random rnd = new Random(1);
        assertAccuracy("noise σ = 8/255", N, image -> noisy(image, 8, rnd), 0.95);
    }

    @Test
    void toleratesAOnePixelBlurWithNoise() {
        Random rnd = new Random(2);
        assertAccuracy("blur σ = 1 px, noise σ = 8/255", 1000, image -> noisy(blurred(image, 1), 8, rnd), 0.95);
    }

    @Test
    void emptyImagesShowNoShape() {
        byte[] gray = new byte[SIZE * SIZE * 3];
        Arrays.fill(gray, (byte) 125);
        RgbImage empty = new RgbImage(SIZE, SIZE, gray);
        assertRejected(empty, "no foreground");
        assertRejected(noisy(empty, 8, new Random(3)), "no foreground");
    }

    @Test
    void uniformNoiseShowsNoShape() {
        byte[] rgb = new byte[SIZE * SIZE * 3];
        new Random(4).nextBytes(rgb);
        assertRejected(new RgbImage(SIZE, SIZE, rgb), "touches the border");
    }

    @Test
    void heavilyBlurredShapesShowNoShape() {
        Random rnd = new Random(5);
        for (Shape shape : Shape.values()) {
            for (double sigma : new double[] {2.5, 3}) {
                RgbImage small = ShapeWorld.render(shape, "yellow", "white", "small", 16, 16, 8, "").image();
                RgbImage large = ShapeWorld.render(shape, "green", "gray", "large", 16, 16, 12.9, "").image();
                assertRejected(blurred(small, sigma), "soft edge");
                assertRejected(blurred(large, sigma), "soft edge");
                assertRejected(noisy(blurred(large, sigma), 8, rnd), "soft edge");
            }
        }
    }

    @Test
    void twoShapesSideBySideShowNoShape() {
        RgbImage left = ShapeWorld.render(Shape.CIRCLE, "red", "white", "small", 9, 16, 6, "").image();
        RgbImage right = ShapeWorld.render(Shape.CIRCLE, "red", "white", "small", 23, 16, 6, "").image();
        assertRejected(overlay(left, right), "more than one object");
        // a second colour that the first fill's axis barely sees
        RgbImage square = ShapeWorld.render(Shape.SQUARE, "red", "gray", "small", 9, 16, 6, "").image();
        RgbImage triangle = ShapeWorld.render(Shape.TRIANGLE, "blue", "gray", "small", 23, 16, 6, "").image();
        assertRejected(overlay(square, triangle), "more than one object");
    }

    @Test
    void smearsShowNoShape() {
        assertRejected(smear(true, true), "soft edge");
        assertRejected(smear(false, true), "uneven colour");
        assertRejected(smear(false, false), "elongated");
    }

    @Test
    void aShapeCutByTheFrameShowsNoShape() {
        assertRejected(ShapeWorld.render(Shape.CIRCLE, "blue", "white", "small", 3, 16, 9, "").image(),
                "touches the border");
    }

    private static void assertAccuracy(String condition, int n, UnaryOperator<RgbImage> corrupt, double minimum) {
        int shapes = Shape.values().length;
        int[][] confusion = new int[shapes][shapes + 1];
        for (int i = 0; i < n; i++) {
            Sample s = ShapeWorld.sample(HELD_OUT, i);
            Result r = ShapeClassifier.classify(corrupt.apply(s.image()));
            confusion[s.shape().ordinal()][r.shape() == null ? shapes : r.shape().ordinal()]++;
        }
        StringBuilder table = new StringBuilder(condition + ", " + n + " held-out samples (rows: drawn, columns: "
                + "classified)\n          ");
        for (Shape shape : Shape.values()) {
            table.append(String.format("%9s", shape.word()));
        }
        table.append(String.format("%9s%10s%n", "none", "accuracy"));
        double worst = 1;
        for (Shape shape : Shape.values()) {
            int[] row = confusion[shape.ordinal()];
            table.append(String.format("%-10s", shape.word()));
            for (int count : row) {
                table.append(String.format("%9d", count));
            }
            double accuracy = row[shape.ordinal()] / (double) Arrays.stream(row).sum();
            worst = Math.min(worst, accuracy);
            table.append(String.format("%9.1f%%%n", 100 * accuracy));
        }
        System.out.print(table);
        assertTrue(worst >= minimum, "worst per-shape accuracy " + worst + " < " + minimum + "\n" + table);
    }

    private static void assertRejected(RgbImage image, String rule) {
        Result r = ShapeClassifier.classify(image);
        assertNull(r.shape(), r.reason());
        assertTrue(r.reason().startsWith(rule), "expected \"" + rule + "\", got " + r.reason());
    }

    private static RgbImage noisy(RgbImage image, double sigma, Random rnd) {
        byte[] rgb = image.rgb().clone();
        for (int i = 0; i < rgb.length; i++) {
            rgb[i] = (byte) Math.clamp(Math.round((rgb[i] & 0xff) + sigma * rnd.nextGaussian()), 0, 255);
        }
        return new RgbImage(image.width(), image.height(), rgb);
    }

    /** Separable Gaussian blur, edges clamped. */
    private static RgbImage blurred(RgbImage image, double sigma) {
        int radius = (int) Math.ceil(3 * sigma);
        double[] kernel = new double[2 * radius + 1];
        double sum = 0;
        for (int i = -radius; i <= radius; i++) {
            kernel[i + radius] = Math.exp(-i * i / (2 * sigma * sigma));
            sum += kernel[i + radius];
        }
        for (int i = 0; i < kernel.length; i++) {
            kernel[i] /= sum;
        }
        int w = image.width();
        int h = image.height();
        double[] rows = new double[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                for (int c = 0; c < 3; c++) {
                    double v = 0;
                    for (int i = -radius; i <= radius; i++) {
                        v += kernel[i + radius] * image.get(Math.clamp(x + i, 0, w - 1), y, c);
                    }
                    rows[(y * w + x) * 3 + c] = v;
                }
            }
        }
        byte[] rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                for (int c = 0; c < 3; c++) {
                    double v = 0;
                    for (int i = -radius; i <= radius; i++) {
                        v += kernel[i + radius] * rows[(Math.clamp(y + i, 0, h - 1) * w + x) * 3 + c];
                    }
                    rgb[(y * w + x) * 3 + c] = (byte) Math.round(v);
                }
            }
        }
        return new RgbImage(w, h, rgb);
    }

    /** Two renders on the same background, each pixel from the one that differs more from its corner. */
    private static RgbImage overlay(RgbImage a, RgbImage b) {
        byte[] rgb = new byte[a.rgb().length];
        for (int p = 0; p < rgb.length / 3; p++) {
            int da = 0;
            int db = 0;
            for (int c = 0; c < 3; c++) {
                da += Math.abs((a.rgb()[p * 3 + c] & 0xff) - a.get(0, 0, c));
                db += Math.abs((b.rgb()[p * 3 + c] & 0xff) - b.get(0, 0, c));
            }
            System.arraycopy((da >= db ? a : b).rgb(), p * 3, rgb, p * 3, 3);
        }
        return new RgbImage(a.width(), a.height(), rgb);
    }

    /**
     * A diagonal brush stroke on white, 7 px wide: with a Gaussian (σ = 3 px) falloff or an anti-aliased edge, and
     * either one blue or a red → orange gradient along it.
     */
    private static RgbImage smear(boolean soft, boolean gradient) {
        double x0 = 5;
        double y0 = 9;
        double vx = 22;
        double vy = 14;
        byte[] rgb = new byte[SIZE * SIZE * 3];
        for (int y = 0; y < SIZE; y++) {
            for (int x = 0; x < SIZE; x++) {
                double px = x + 0.5 - x0;
                double py = y + 0.5 - y0;
                double t = Math.clamp((px * vx + py * vy) / (vx * vx + vy * vy), 0, 1);
                double d = Math.hypot(px - t * vx, py - t * vy);
                double cover = soft ? Math.exp(-d * d / 18) : Math.clamp(4 - d, 0, 1);
                int[] fill = gradient ? new int[] {215, (int) (45 + 150 * t), 45} : new int[] {45, 85, 215};
                for (int c = 0; c < 3; c++) {
                    rgb[(y * SIZE + x) * 3 + c] = (byte) Math.round(240 + cover * (fill[c] - 240));
                }
            }
        }
        return new RgbImage(SIZE, SIZE, rgb);
    }
}
