package dev.fluxerase.toy;

import dev.fluxerase.image.RgbImage;

import java.util.Arrays;
import java.util.Locale;

/**
 * Says which toy-world shape an image shows, or that it shows none, from the geometry of its foreground alone (nothing
 * trained), so it can score a diffusion model's samples: soft edges, mild noise and colour drift pass, while an empty
 * picture, noise, a blurred blob, two objects or a smear are "no shape".
 *
 * <p>The background is the per-channel median of the border pixels; the fill is the per-channel median of the farther
 * half of the pixels that Otsu's threshold on the colour distance to the background puts in the upper class (the flat
 * inside of a shape rather than its rim; a blurred blob has no flat inside, and then it is its peak). Each pixel's
 * coverage α is its colour's projection onto the background → fill axis (0 background, 1 fill), which undoes the
 * anti-aliasing blend; α ≥ ½ is the mask. The largest 8-connected component of the mask is measured, the rules below
 * are tried in order, and the shape whose ideal features are nearest wins.
 */
public final class ShapeClassifier {
    /** Below this distance between fill and background colours (0–441) the image is taken as empty. */
    private static final double MIN_CONTRAST = 40;
    /** Smallest mask, in pixels; the smallest toy shape covers about 90. */
    private static final int MIN_AREA = 24;
    /** Largest fraction of the border that may be non-background (a shape drawn inside the frame leaves it all). */
    private static final double MAX_BORDER = 0.08;
    /** Largest non-background area apart from the main component, as a fraction of it (a second object, noise). */
    private static final double MAX_STRAY = 0.15;
    /**
     * Softest edge, as a Gaussian blur's σ in pixels: sharp anti-aliased edges read at most 1.26, σ = 1 at most 1.45
     * with noise σ = 8/255 (a thin star arm), σ = 2.5 at least 1.78 (a thin ring, whose fill never reaches its colour).
     */
    private static final double MAX_EDGE_BLUR = 1.6;
    /** Largest RMS of the inner pixels' colour off the background → fill axis (noise σ = 8/255 gives 11–14). */
    private static final double MAX_COLOUR_SPREAD = 30;
    /**
     * Largest {@link Features#elongation()}: the six shapes read at most 0.06 with noise, a stroke 0.5 or more. Drawn
     * by a model, shapes come out stretched: of the generated samples that a person labelled as clearly one shape
     * (src/test/resources/toy/labelled-samples.txt), stars, crosses, triangles, squares and rings reach 0.21-0.37.
     */
    private static final double MAX_ELONGATION = 0.45;
    /** A circle is round: beyond this elongation a blob that is nearest the circle is an oval, not a circle. */
    private static final double MAX_CIRCLE_ELONGATION = 0.2;
    /** Largest scaled feature distance to the nearest shape (a star blurred by σ = 1 reaches 4.6). */
    private static final double MAX_DISTANCE = 5;

    private static final int MOMENT_REACH = 2;
    private static final int HARMONICS = 5;
    /** Partial coverage up to this is noise: σ = 8/255 moves α by 0.09 at the palette's lowest contrast (88). */
    private static final double COVERAGE_FLOOR = 0.2;
    /** ∫ max(0, min(Φ(u), 1 − Φ(u)) − 0.2) du: the partial-coverage mass per unit length of a σ = 1 Gaussian edge. */
    private static final double GAUSSIAN_EDGE_MASS = 0.23796;

    private ShapeClassifier() {
    }

    /**
     * What was measured. {@code contrast}: the fill's colour distance to the background; {@code area}: the main
     * component's pixels; {@code borderFraction}: the share of border pixels that are not background; {@code
     * strayFraction}: non-background pixels neither in nor touching the main component, over its area (non-background
     * meaning at least half the contrast from the background in any direction, so that an object of another colour
     * counts); {@code edgeBlur}: the edge's softness as the σ in pixels of a Gaussian blur that would soften a straight
     * edge as much; {@code colourSpread}: the RMS colour of the inner pixels off the background → fill axis;
     * {@code extent}: area over bounding box; {@code solidity}: area over the pixel centres inside its convex hull;
     * {@code holeFraction}: enclosed background over area plus it; {@code compactness}: A²/(2π·polar moment), 1 for a
     * disc. {@code elongation}, {@code threeFold}, {@code fourFold} and {@code fiveFold} are the rotation-invariant
     * harmonics |Σ α·zᵐ| / Σ α·|z|ᵐ, m = 2…5, of the α mass about its centroid (z = x + iy): a shape with k-fold
     * symmetry has only multiples of k, so the triangle shows in m = 3, the square and cross in 4, the star in 5, and
     * none of the six is elongated (m = 2).
     */
    public record Features(double contrast, int area, double borderFraction, double strayFraction, double edgeBlur,
                           double colourSpread, double extent, double solidity, double holeFraction, double compactness,
                           double elongation, double threeFold, double fourFold, double fiveFold) {

        double[] vector() {
            return new double[] {extent, solidity, holeFraction, compactness, threeFold, fourFold, fiveFold};
        }
    }

    /** {@code shape} null when the image shows no recognisable shape, {@code features} when nothing was measured. */
    public record Result(Shape shape, String reason, Features features) {
    }

    private static final String[] FEATURE_NAMES = {"extent", "solidity", "hole fraction", "compactness",
            "three-fold harmonic", "four-fold harmonic", "five-fold harmonic"};
    /**
     * One unit of distance per feature. Set by how far the features of the data set's own images stray from the
     * prototypes, chiefly with a 1-px blur, which rounds corners, fills the star's notches and weakens the harmonics;
     * extent and solidity also carry the mask's pixel steps.
     */
    private static final double[] SCALE = {0.1, 0.15, 0.05, 0.08, 0.1, 0.1, 0.1};
    /**
     * Each shape's features, in {@link Shape} order, for its continuous outline as {@link ShapeWorld} draws it (none
     * depends on r; the harmonics and compactness integrated numerically, the rest exact). Measured on pixels, the star
     * and cross lose their thin tips to the mask and read more solid (star 0.58–0.73) and less extended.
     */
    private static final double[][] PROTOTYPES = {
            {0.785, 1, 0, 1, 0, 0, 0},
            {1, 1, 0, 0.955, 0, 0.429, 0},
            {0.5, 1, 0, 0.827, 0.659, 0, 0},
            {0.360, 0.519, 0, 0.777, 0, 0, 0.853},
            {0.510, 0.675, 0, 0.778, 0, 0.644, 0},
            {0.549, 0.698, 0.3025, 0.536, 0, 0, 0}};

    public static Result classify(RgbImage image) {
        int w = image.width();
        int h = image.height();
        int n = w * h;
        int[] bg = borderMedian(image);
        double[] dist = new double[n];
        for (int p = 0; p < n; p++) {
            dist[p] = colourDistance(image, p, bg);
        }
        double threshold = otsu(dist);
        int[] fg = fillColour(image, bg, dist, threshold);
        double[] axis = new double[3];
        for (int c = 0; c < 3; c++) {
            axis[c] = fg[c] - bg[c];
        }
        double contrast = Math.sqrt(axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]);
        if (contrast < MIN_CONTRAST) {
            return reject(String.format(Locale.ROOT, "no foreground: contrast %.0f < %.0f", contrast, MIN_CONTRAST),
                    null);
        }
        double[] alpha = new double[n];
        boolean[] mask = new boolean[n];
        int total = 0;
        for (int p = 0; p < n; p++) {
            double dot = 0;
            for (int c = 0; c < 3; c++) {
                dot += (image.rgb()[p * 3 + c] & 0xff) * axis[c] - bg[c] * axis[c];
            }
            alpha[p] = dot / (contrast * contrast);
            mask[p] = alpha[p] >= 0.5;
            total += mask[p] ? 1 : 0;
        }
        if (total < MIN_AREA) {
            return reject("too little foreground: " + total + " px < " + MIN_AREA, null);
        }
        boolean[] main = largestComponent(mask, w, h);
        Features f = measure(image, bg, axis, contrast, dist, alpha, mask, main);
        if (f.borderFraction() > MAX_BORDER) {
            return reject(String.format(Locale.ROOT, "touches the border: %.0f%% of it > %.0f%%",
                    100 * f.borderFraction(), 100 * MAX_BORDER), f);
        }
        if (f.strayFraction() > MAX_STRAY) {
            return reject(String.format(Locale.ROOT, "more than one object: %.2f of the main area lies apart > %.2f",
                    f.strayFraction(), MAX_STRAY), f);
        }
        if (f.edgeBlur() > MAX_EDGE_BLUR) {
            return reject(String.format(Locale.ROOT, "soft edge: blur σ %.2f px > %.2f", f.edgeBlur(), MAX_EDGE_BLUR),
                    f);
        }
        if (f.colourSpread() > MAX_COLOUR_SPREAD) {
            return reject(String.format(Locale.ROOT, "uneven colour: spread %.0f > %.0f", f.colourSpread(),
                    MAX_COLOUR_SPREAD), f);
        }
        if (f.elongation() > MAX_ELONGATION) {
            return reject(String.format(Locale.ROOT, "elongated: %.2f > %.2f", f.elongation(), MAX_ELONGATION), f);
        }
        return nearest(f);
    }

    private static Result reject(String reason, Features f) {
        return new Result(null, reason, f);
    }

    private static Result nearest(Features f) {
        double[] v = f.vector();
        double[] d = new double[PROTOTYPES.length];
        int best = -1;
        int second = -1;
        for (int k = 0; k < PROTOTYPES.length; k++) {
            double sum = 0;
            for (int i = 0; i < v.length; i++) {
                double z = (v[i] - PROTOTYPES[k][i]) / SCALE[i];
                sum += z * z;
            }
            d[k] = Math.sqrt(sum);
            if (best < 0 || d[k] < d[best]) {
                second = best;
                best = k;
            } else if (second < 0 || d[k] < d[second]) {
                second = k;
            }
        }
        Shape shape = Shape.values()[best];
        if (shape == Shape.CIRCLE && f.elongation() > MAX_CIRCLE_ELONGATION) {
            return reject(String.format(Locale.ROOT, "oval, not a circle: elongation %.2f > %.2f", f.elongation(),
                    MAX_CIRCLE_ELONGATION), f);
        }
        if (d[best] > MAX_DISTANCE) {
            double[] p = PROTOTYPES[best];
            int worst = 0;
            for (int i = 1; i < v.length; i++) {
                if (Math.abs(v[i] - p[i]) / SCALE[i] > Math.abs(v[worst] - p[worst]) / SCALE[worst]) {
                    worst = i;
                }
            }
            return reject(String.format(Locale.ROOT, "unlike any shape: nearest %s at %.1f > %.1f (%s %.2f, not %.2f)",
                    shape.word(), d[best], MAX_DISTANCE, FEATURE_NAMES[worst], v[worst], p[worst]), f);
        }
        return new Result(shape, String.format(Locale.ROOT, "%s at %.1f, next %s at %.1f", shape.word(), d[best],
                Shape.values()[second].word(), d[second]), f);
    }

    /** Stray pixels may touch the main component: noise can lift its rim over the bar where α stays below ½. */
    private static Features measure(RgbImage image, int[] bg, double[] axis, double contrast, double[] dist,
                                    double[] alpha, boolean[] mask, boolean[] main) {
        int w = image.width();
        int h = image.height();
        int area = 0;
        int x0 = w;
        int y0 = h;
        int x1 = -1;
        int y1 = -1;
        int borderHits = 0;
        int stray = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int p = y * w + x;
                if (main[p]) {
                    area++;
                    x0 = Math.min(x0, x);
                    y0 = Math.min(y0, y);
                    x1 = Math.max(x1, x);
                    y1 = Math.max(y1, y);
                }
                if (dist[p] < contrast / 2) {
                    continue;
                }
                if (x == 0 || y == 0 || x == w - 1 || y == h - 1) {
                    borderHits++;
                }
                boolean touching = false;
                for (int yy = Math.max(0, y - 1); yy <= Math.min(h - 1, y + 1) && !touching; yy++) {
                    for (int xx = Math.max(0, x - 1); xx <= Math.min(w - 1, x + 1) && !touching; xx++) {
                        touching = main[yy * w + xx];
                    }
                }
                stray += touching ? 0 : 1;
            }
        }
        int borderPixels = 2 * (w + h) - 4;
        int holes = enclosedBackground(mask, w, h);
        double[] m = moments(alpha, main, w, h);
        return new Features(contrast, area, borderHits / (double) borderPixels, stray / (double) area,
                edgeBlur(alpha, w, h), colourSpread(image, bg, axis, contrast, mask, main),
                area / (double) ((x1 - x0 + 1) * (y1 - y0 + 1)), area / (double) hullLatticePoints(main, w, h),
                holes / (double) (area + holes), m[0] * m[0] / (2 * Math.PI * m[1]), m[2], m[3], m[4], m[5]);
    }

    private static int[] borderMedian(RgbImage image) {
        int w = image.width();
        int h = image.height();
        int[][] values = new int[3][2 * (w + h) - 4];
        int k = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                if (x == 0 || y == 0 || x == w - 1 || y == h - 1) {
                    for (int c = 0; c < 3; c++) {
                        values[c][k] = image.get(x, y, c);
                    }
                    k++;
                }
            }
        }
        int[] median = new int[3];
        for (int c = 0; c < 3; c++) {
            Arrays.sort(values[c]);
            median[c] = values[c][values[c].length / 2];
        }
        return median;
    }

    private static double colourDistance(RgbImage image, int p, int[] ref) {
        double sum = 0;
        for (int c = 0; c < 3; c++) {
            double d = (image.rgb()[p * 3 + c] & 0xff) - ref[c];
            sum += d * d;
        }
        return Math.sqrt(sum);
    }

    /** Otsu's threshold: the value that splits the sorted distances with the largest between-class variance. */
    private static double otsu(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        double sum = 0;
        for (double x : v) {
            sum += x;
        }
        double best = -1;
        double threshold = Double.POSITIVE_INFINITY;
        double lower = 0;
        for (int k = 1; k < v.length; k++) {
            lower += v[k - 1];
            if (v[k] == v[k - 1]) {
                continue;
            }
            double w0 = k / (double) v.length;
            double gap = lower / k - (sum - lower) / (v.length - k);
            double between = w0 * (1 - w0) * gap * gap;
            if (between > best) {
                best = between;
                threshold = v[k - 1];
            }
        }
        return threshold;
    }

    /**
     * Per-channel median of the farther half, by distance, of the pixels farther than {@code threshold}; the
     * background itself when there are none.
     */
    private static int[] fillColour(RgbImage image, int[] bg, double[] dist, double threshold) {
        int count = 0;
        for (double d : dist) {
            count += d > threshold ? 1 : 0;
        }
        if (count == 0) {
            return bg;
        }
        double[] above = new double[count];
        int k = 0;
        for (double d : dist) {
            if (d > threshold) {
                above[k++] = d;
            }
        }
        Arrays.sort(above);
        double cut = above[count / 2];
        int kept = 0;
        for (double d : dist) {
            kept += d >= cut ? 1 : 0;
        }
        int[] values = new int[kept];
        int[] median = new int[3];
        for (int c = 0; c < 3; c++) {
            k = 0;
            for (int p = 0; p < dist.length; p++) {
                if (dist[p] >= cut) {
                    values[k++] = image.rgb()[p * 3 + c] & 0xff;
                }
            }
            Arrays.sort(values);
            median[c] = values[kept / 2];
        }
        return median;
    }

    private static boolean[] largestComponent(boolean[] mask, int w, int h) {
        int[] label = new int[mask.length];
        int[] queue = new int[mask.length];
        int bestLabel = 0;
        int bestSize = 0;
        int next = 0;
        for (int start = 0; start < mask.length; start++) {
            if (!mask[start] || label[start] != 0) {
                continue;
            }
            next++;
            int size = fill(mask, true, w, h, start, label, next, queue);
            if (size > bestSize) {
                bestSize = size;
                bestLabel = next;
            }
        }
        boolean[] main = new boolean[mask.length];
        for (int p = 0; p < mask.length; p++) {
            main[p] = label[p] == bestLabel;
        }
        return main;
    }

    /**
     * Labels the region of pixels whose mask equals {@code value} connected to {@code start} (8-connected for the
     * foreground, 4-connected for the background, so neither leaks through the other's diagonal) and returns its size.
     */
    private static int fill(boolean[] mask, boolean value, int w, int h, int start, int[] label, int id, int[] queue) {
        int head = 0;
        int tail = 0;
        queue[tail++] = start;
        label[start] = id;
        while (head < tail) {
            int p = queue[head++];
            int px = p % w;
            int py = p / w;
            for (int dy = -1; dy <= 1; dy++) {
                for (int dx = -1; dx <= 1; dx++) {
                    int x = px + dx;
                    int y = py + dy;
                    if (dx == 0 && dy == 0 || !value && dx != 0 && dy != 0 || x < 0 || y < 0 || x >= w || y >= h) {
                        continue;
                    }
                    int q = y * w + x;
                    if (mask[q] == value && label[q] == 0) {
                        label[q] = id;
                        queue[tail++] = q;
                    }
                }
            }
        }
        return tail;
    }

    /** Background pixels that no 4-connected background path joins to the border: the holes. */
    private static int enclosedBackground(boolean[] mask, int w, int h) {
        int[] label = new int[mask.length];
        int[] queue = new int[mask.length];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int p = y * w + x;
                if ((x == 0 || y == 0 || x == w - 1 || y == h - 1) && !mask[p] && label[p] == 0) {
                    fill(mask, false, w, h, p, label, 1, queue);
                }
            }
        }
        int holes = 0;
        for (int p = 0; p < mask.length; p++) {
            holes += !mask[p] && label[p] == 0 ? 1 : 0;
        }
        return holes;
    }

    /**
     * α-weighted moments of the main component and the pixels within two of it, which hold its anti-aliased or blurred
     * rim: {mass, polar moment about the centroid (each pixel a uniform unit square), then the harmonics m = 2…5 that
     * {@link Features} describes}. α is not clamped, so noise on the rim averages out instead of adding mass.
     */
    private static double[] moments(double[] alpha, boolean[] main, int w, int h) {
        boolean[] near = new boolean[main.length];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                if (!main[y * w + x]) {
                    continue;
                }
                for (int yy = Math.max(0, y - MOMENT_REACH); yy <= Math.min(h - 1, y + MOMENT_REACH); yy++) {
                    for (int xx = Math.max(0, x - MOMENT_REACH); xx <= Math.min(w - 1, x + MOMENT_REACH); xx++) {
                        near[yy * w + xx] = true;
                    }
                }
            }
        }
        double a = 0;
        double sx = 0;
        double sy = 0;
        for (int p = 0; p < near.length; p++) {
            if (near[p]) {
                a += alpha[p];
                sx += alpha[p] * (p % w);
                sy += alpha[p] * (p / w);
            }
        }
        double cx = sx / a;
        double cy = sy / a;
        double polar = a / 6;
        double[] re = new double[HARMONICS + 1];
        double[] im = new double[HARMONICS + 1];
        double[] norm = new double[HARMONICS + 1];
        for (int p = 0; p < near.length; p++) {
            if (!near[p]) {
                continue;
            }
            double dx = p % w - cx;
            double dy = p / w - cy;
            polar += alpha[p] * (dx * dx + dy * dy);
            double rho = Math.hypot(dx, dy);
            double zr = 1;
            double zi = 0;
            double rhoM = 1;
            for (int k = 1; k <= HARMONICS; k++) {
                double t = zr * dx - zi * dy;
                zi = zr * dy + zi * dx;
                zr = t;
                rhoM *= rho;
                re[k] += alpha[p] * zr;
                im[k] += alpha[p] * zi;
                norm[k] += alpha[p] * rhoM;
            }
        }
        double[] out = new double[HARMONICS + 1];
        out[0] = a;
        out[1] = polar;
        for (int k = 2; k <= HARMONICS; k++) {
            out[k] = Math.hypot(re[k], im[k]) / norm[k];
        }
        return out;
    }

    /**
     * Edge softness as the σ, in pixels, of a Gaussian blur that would spread a straight edge as much: the partial
     * coverage Σ max(0, min(α, 1 − α) − 0.2) per pixel of contour, over that mass for σ = 1. The floor keeps noise in
     * the background from adding up; the contour is the α = ½ level line (marching squares) of α smoothed by a 3×3
     * binomial filter, so that noise does not make it wiggle longer. A sharp anti-aliased edge reads 0.2–1.26 (the most
     * when it runs along the middle of a pixel row).
     */
    private static double edgeBlur(double[] alpha, int w, int h) {
        double partial = 0;
        for (double a : alpha) {
            double c = Math.clamp(a, 0, 1);
            partial += Math.max(0, Math.min(c, 1 - c) - COVERAGE_FLOOR);
        }
        double[] smooth = new double[alpha.length];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                double sum = 0;
                for (int dy = -1; dy <= 1; dy++) {
                    for (int dx = -1; dx <= 1; dx++) {
                        int q = Math.clamp(y + dy, 0, h - 1) * w + Math.clamp(x + dx, 0, w - 1);
                        sum += (2 - Math.abs(dx)) * (2 - Math.abs(dy)) * alpha[q];
                    }
                }
                smooth[y * w + x] = sum / 16;
            }
        }
        double length = halfLevelLength(smooth, w, h);
        // scattered specks can vanish in the smoothing: no edge to measure is no sharp edge
        return length > 0 ? partial / (GAUSSIAN_EDGE_MASS * length) : Double.POSITIVE_INFINITY;
    }

    /**
     * Length of the v = ½ level line through the grid of pixel centres, each cell's crossings joined in pairs
     * (marching squares; which pairs in a saddle cell barely changes the length).
     */
    private static double halfLevelLength(double[] v, int w, int h) {
        double length = 0;
        double[] cornerX = {0, 1, 1, 0};
        double[] cornerY = {0, 0, 1, 1};
        double[] px = new double[4];
        double[] py = new double[4];
        for (int y = 0; y + 1 < h; y++) {
            for (int x = 0; x + 1 < w; x++) {
                double[] corner = {v[y * w + x], v[y * w + x + 1], v[(y + 1) * w + x + 1], v[(y + 1) * w + x]};
                int k = 0;
                for (int e = 0; e < 4; e++) {
                    int f = (e + 1) % 4;
                    double a = corner[e] - 0.5;
                    double b = corner[f] - 0.5;
                    if ((a >= 0) != (b >= 0)) {
                        double t = a / (a - b);
                        px[k] = cornerX[e] + t * (cornerX[f] - cornerX[e]);
                        py[k++] = cornerY[e] + t * (cornerY[f] - cornerY[e]);
                    }
                }
                for (int i = 0; i + 1 < k; i += 2) {
                    length += Math.hypot(px[i + 1] - px[i], py[i + 1] - py[i]);
                }
            }
        }
        return length;
    }

    /**
     * RMS colour distance, off the background → fill axis, of the main component's inner pixels (all eight
     * neighbours in the mask; the whole component when none is). Mixing with the background moves a colour along the
     * axis only, so soft edges do not count, but a second hue or noise does.
     */
    private static double colourSpread(RgbImage image, int[] bg, double[] axis, double contrast, boolean[] mask,
                                       boolean[] main) {
        int w = image.width();
        int h = image.height();
        boolean[] inner = new boolean[main.length];
        int count = 0;
        for (int y = 1; y < h - 1; y++) {
            for (int x = 1; x < w - 1; x++) {
                int p = y * w + x;
                boolean all = main[p];
                for (int dy = -1; dy <= 1 && all; dy++) {
                    for (int dx = -1; dx <= 1 && all; dx++) {
                        all = mask[p + dy * w + dx];
                    }
                }
                inner[p] = all;
                count += all ? 1 : 0;
            }
        }
        boolean[] used = count > 0 ? inner : main;
        double sum = 0;
        int k = 0;
        for (int p = 0; p < used.length; p++) {
            if (!used[p]) {
                continue;
            }
            double along = 0;
            double norm2 = 0;
            for (int c = 0; c < 3; c++) {
                double d = (image.rgb()[p * 3 + c] & 0xff) - bg[c];
                along += d * axis[c] / contrast;
                norm2 += d * d;
            }
            sum += norm2 - along * along;
            k++;
        }
        return Math.sqrt(Math.max(0, sum / k));
    }

    /** Pixel centres inside or on the convex hull of the component's pixel centres (Andrew's monotone chain). */
    private static int hullLatticePoints(boolean[] main, int w, int h) {
        int count = 0;
        for (boolean b : main) {
            count += b ? 1 : 0;
        }
        // column by column, top to bottom: the (x, y) order the chain needs
        int[] xs = new int[count];
        int[] ys = new int[count];
        int k = 0;
        for (int x = 0; x < w; x++) {
            for (int y = 0; y < h; y++) {
                if (main[y * w + x]) {
                    xs[k] = x;
                    ys[k++] = y;
                }
            }
        }
        int[] hull = new int[2 * count];
        int size = 0;
        for (int i = 0; i < count; i++) {
            while (size >= 2 && cross(xs, ys, hull[size - 2], hull[size - 1], xs[i], ys[i]) <= 0) {
                size--;
            }
            hull[size++] = i;
        }
        for (int i = count - 2, lower = size + 1; i >= 0; i--) {
            while (size >= lower && cross(xs, ys, hull[size - 2], hull[size - 1], xs[i], ys[i]) <= 0) {
                size--;
            }
            hull[size++] = i;
        }
        size--;
        if (size < 3) {
            return count;
        }
        int inside = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                boolean in = true;
                for (int i = 0; i < size && in; i++) {
                    in = cross(xs, ys, hull[i], hull[i + 1], x, y) >= 0;
                }
                inside += in ? 1 : 0;
            }
        }
        return inside;
    }

    private static long cross(int[] xs, int[] ys, int o, int a, int bx, int by) {
        return (long) (xs[a] - xs[o]) * (by - ys[o]) - (long) (ys[a] - ys[o]) * (bx - xs[o]);
    }
}
