package dev.fluxerase.toy;

import dev.fluxerase.image.RgbImage;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;

/**
 * The toy world's data set: 32×32 images of one upright filled shape on a plain background, with a caption. Procedural
 * and seeded, so any sample can be regenerated from (seed, index) alone and nothing is stored on disk.
 */
public final class ShapeWorld {
    public static final int SIZE = 32;

    /** Fraction of captions whose shape word is replaced by one of its synonyms. */
    private static final double SYNONYM_RATE = 0.3;
    /**
     * Fraction of captions that name no particular shape but the generic noun {@link #GENERIC}: "a red shape". It gives
     * the erasure's anchor prompt ("a shape", the instance prompt without the concept, as FLUX.1-dev knows "A girl with
     * beautiful hair") a learned meaning: any of the six shapes.
     */
    private static final double GENERIC_RATE = 0.1;
    public static final String GENERIC = "shape";

    private static final List<String> TEMPLATES = List.of(
            "a {S}",
            "a {C} {S}",
            "a {Z} {S}",
            "a {Z} {C} {S}",
            "a {C} {S} on a {B} background",
            "a {Z} {C} {S} on a {B} background",
            "a {S} on a {B} background",
            "a picture of a {C} {S}");
    private static final Map<String, int[]> COLOURS = Map.of(
            "red", new int[] {215, 45, 45},
            "green", new int[] {45, 165, 65},
            "blue", new int[] {45, 85, 215},
            "yellow", new int[] {230, 195, 35});
    private static final Map<String, int[]> BACKGROUNDS = Map.of(
            "white", new int[] {240, 240, 240},
            "black", new int[] {25, 25, 25},
            "gray", new int[] {125, 125, 125});
    // a sample's draws index these lists, so their order is part of the data set (a Map.of has none)
    private static final List<String> COLOUR_NAMES = List.of("red", "green", "blue", "yellow");
    private static final List<String> BACKGROUND_NAMES = List.of("white", "black", "gray");
    private static final List<String> SIZE_NAMES = List.of("small", "large");
    private static final double[][] RADII = {{8, 10}, {10.5, 13}};
    private static final int COLOUR_JITTER = 12;
    private static final double CENTRE_JITTER = 2;
    // keeps one pixel of pure background all round, which the classifier reads the background from
    private static final double MARGIN = 1;
    private static final int SUBSAMPLES = 4;

    private static final double SQUARE_HALF_SIDE = 0.82;
    private static final double TRIANGLE_CIRCUMRADIUS = 1.1;
    private static final double STAR_OUTER = 1.08;
    private static final double STAR_INNER = 0.42;
    private static final double CROSS_HALF_WIDTH = 0.3;
    private static final double RING_INNER = 0.55;
    // unit circumradius, apex up, image y pointing down
    private static final double[][] TRIANGLE = unitPolygon(3, 1);
    private static final double[][] STAR = unitPolygon(5, STAR_INNER);

    private ShapeWorld() {
    }

    /**
     * One sample. {@code image} is the rendered picture; {@code (cx, cy)} and {@code r} are in pixels, with the image
     * spanning [0, 32] on both axes (pixel (x, y) covers [x, x+1] × [y, y+1]); {@code colour} names the fill before
     * its per-image jitter.
     */
    public record Sample(Shape shape, String colour, String background, String size, double cx, double cy, double r,
                         String caption, RgbImage image) {
    }

    /**
     * Sample {@code index} of the data set {@code seed}, the same whatever else was sampled before. Its
     * {@link Random} is seeded with output {@code index} of a SplitMix64 stream started at {@code seed}, and draws, in
     * this order: shape, colour, background, size (each uniform over its list), r (uniform in the size's range), the
     * centre's x and y jitter (uniform in [−2, 2]), the fill's red, green and blue jitter (uniform integers in
     * [−12, 12]), the caption template (uniform), one uniform u that makes the shape word a synonym (u < 0.3; which
     * synonym is then drawn uniformly) or the generic "shape" (0.3 ≤ u < 0.4). The jittered centre is then moved as little as needed to keep the shape's bounding
     * box one pixel inside the image (only large triangles and stars need it).
     */
    public static Sample sample(long seed, long index) {
        Random rnd = new Random(RandomStreams.mix(seed, RandomStreams.DATA, index));
        Shape shape = Shape.values()[rnd.nextInt(Shape.values().length)];
        String colour = COLOUR_NAMES.get(rnd.nextInt(COLOUR_NAMES.size()));
        String background = BACKGROUND_NAMES.get(rnd.nextInt(BACKGROUND_NAMES.size()));
        int size = rnd.nextInt(SIZE_NAMES.size());
        double r = RADII[size][0] + rnd.nextDouble() * (RADII[size][1] - RADII[size][0]);
        double cx = SIZE / 2.0 + (2 * rnd.nextDouble() - 1) * CENTRE_JITTER;
        double cy = SIZE / 2.0 + (2 * rnd.nextDouble() - 1) * CENTRE_JITTER;
        int[] fill = COLOURS.get(colour).clone();
        for (int c = 0; c < 3; c++) {
            fill[c] += rnd.nextInt(2 * COLOUR_JITTER + 1) - COLOUR_JITTER;
        }
        String template = TEMPLATES.get(rnd.nextInt(TEMPLATES.size()));
        double u = rnd.nextDouble();
        String noun = u < SYNONYM_RATE ? shape.synonyms().get(rnd.nextInt(shape.synonyms().size()))
                : u < SYNONYM_RATE + GENERIC_RATE ? GENERIC : shape.word();
        double[] box = bounds(shape, r);
        cx = Math.clamp(cx, MARGIN - box[0], SIZE - MARGIN - box[2]);
        cy = Math.clamp(cy, MARGIN - box[1], SIZE - MARGIN - box[3]);
        String caption = caption(template, noun, colour, SIZE_NAMES.get(size), background);
        return new Sample(shape, colour, background, SIZE_NAMES.get(size), cx, cy, r, caption,
                draw(shape, cx, cy, r, fill, BACKGROUNDS.get(background)));
    }

    /**
     * A sample drawn as given, in the colour's unjittered fill. Nothing is checked against the size word or kept
     * inside the image, so tests can draw shapes that {@link #sample} never would.
     */
    public static Sample render(Shape shape, String colour, String background, String size, double cx, double cy,
                                double r, String caption) {
        int[] fill = COLOURS.get(colour);
        int[] bg = BACKGROUNDS.get(background);
        if (fill == null || bg == null || !SIZE_NAMES.contains(size)) {
            throw new IllegalArgumentException("colour " + COLOUR_NAMES + ", background " + BACKGROUND_NAMES
                    + " and size " + SIZE_NAMES + " expected, got " + colour + ", " + background + ", " + size);
        }
        return new Sample(shape, colour, background, size, cx, cy, r, caption, draw(shape, cx, cy, r, fill, bg));
    }

    public static List<String> colours() {
        return COLOUR_NAMES;
    }

    public static List<String> backgrounds() {
        return BACKGROUND_NAMES;
    }

    public static List<String> sizes() {
        return SIZE_NAMES;
    }

    /** Every caption {@link #sample} can produce, sorted and distinct (what the text-embedding cache precomputes). */
    public static List<String> trainingCaptions() {
        TreeSet<String> out = new TreeSet<>();
        for (Shape shape : Shape.values()) {
            List<String> nouns = new ArrayList<>(shape.synonyms());
            nouns.add(shape.word());
            nouns.add(GENERIC);
            for (String noun : nouns) {
                for (String template : TEMPLATES) {
                    for (String colour : COLOUR_NAMES) {
                        for (String size : SIZE_NAMES) {
                            for (String background : BACKGROUND_NAMES) {
                                out.add(caption(template, noun, colour, size, background));
                            }
                        }
                    }
                }
            }
        }
        return List.copyOf(out);
    }

    /** Every word of a training caption, synonym or paraphrase, sorted and distinct (the tokenizer's vocabulary). */
    public static List<String> lexicon() {
        TreeSet<String> words = new TreeSet<>();
        for (String caption : trainingCaptions()) {
            words.addAll(List.of(caption.split(" ")));
        }
        for (Shape shape : Shape.values()) {
            words.addAll(shape.synonyms());
            for (String paraphrase : shape.paraphrases()) {
                words.addAll(List.of(paraphrase.split(" ")));
            }
        }
        return List.copyOf(words);
    }

    /**
     * The shape's bounding box relative to its centre, {left, top, right, bottom} (left and top negative), in the
     * same pixel units as {@code r}.
     */
    static double[] bounds(Shape shape, double r) {
        return switch (shape) {
            case CIRCLE, CROSS, RING -> new double[] {-r, -r, r, r};
            case SQUARE -> {
                double h = SQUARE_HALF_SIDE * r;
                yield new double[] {-h, -h, h, h};
            }
            case TRIANGLE -> polygonBounds(TRIANGLE, TRIANGLE_CIRCUMRADIUS * r);
            case STAR -> polygonBounds(STAR, STAR_OUTER * r);
        };
    }

    /** Whether the point (dx, dy) from the centre lies inside the shape of size r. */
    private static boolean inside(Shape shape, double dx, double dy, double r) {
        return switch (shape) {
            case CIRCLE -> dx * dx + dy * dy <= r * r;
            case SQUARE -> Math.max(Math.abs(dx), Math.abs(dy)) <= SQUARE_HALF_SIDE * r;
            case TRIANGLE -> {
                double scale = TRIANGLE_CIRCUMRADIUS * r;
                yield insidePolygon(TRIANGLE, dx / scale, dy / scale);
            }
            case STAR -> {
                double scale = STAR_OUTER * r;
                yield insidePolygon(STAR, dx / scale, dy / scale);
            }
            case CROSS -> {
                double ax = Math.abs(dx);
                double ay = Math.abs(dy);
                double w = CROSS_HALF_WIDTH * r;
                yield ax <= r && ay <= w || ax <= w && ay <= r;
            }
            case RING -> {
                double rho2 = dx * dx + dy * dy;
                yield rho2 <= r * r && rho2 >= RING_INNER * RING_INNER * r * r;
            }
        };
    }

    private static RgbImage draw(Shape shape, double cx, double cy, double r, int[] fill, int[] background) {
        byte[] rgb = new byte[SIZE * SIZE * 3];
        for (int y = 0; y < SIZE; y++) {
            for (int x = 0; x < SIZE; x++) {
                int hits = 0;
                for (int j = 0; j < SUBSAMPLES; j++) {
                    for (int i = 0; i < SUBSAMPLES; i++) {
                        double dx = x + (i + 0.5) / SUBSAMPLES - cx;
                        double dy = y + (j + 0.5) / SUBSAMPLES - cy;
                        if (inside(shape, dx, dy, r)) {
                            hits++;
                        }
                    }
                }
                double coverage = hits / (double) (SUBSAMPLES * SUBSAMPLES);
                for (int c = 0; c < 3; c++) {
                    double v = background[c] + coverage * (fill[c] - background[c]);
                    rgb[(y * SIZE + x) * 3 + c] = (byte) Math.round(v);
                }
            }
        }
        return new RgbImage(SIZE, SIZE, rgb);
    }

    private static String caption(String template, String noun, String colour, String size, String background) {
        return template.replace("{S}", noun).replace("{C}", colour).replace("{Z}", size).replace("{B}", background);
    }

    /** Unit circumradius, first vertex straight up; with {@code inner} below 1, a star with inner vertices there. */
    private static double[][] unitPolygon(int points, double inner) {
        int step = inner < 1 ? 2 : 1;
        double[][] v = new double[points * step][];
        for (int k = 0; k < v.length; k++) {
            double angle = -Math.PI / 2 + 2 * Math.PI * k / v.length;
            double rho = step == 2 && k % 2 == 1 ? inner : 1;
            v[k] = new double[] {rho * Math.cos(angle), rho * Math.sin(angle)};
        }
        return v;
    }

    private static double[] polygonBounds(double[][] unit, double scale) {
        double[] box = {Double.MAX_VALUE, Double.MAX_VALUE, -Double.MAX_VALUE, -Double.MAX_VALUE};
        for (double[] p : unit) {
            box[0] = Math.min(box[0], p[0] * scale);
            box[1] = Math.min(box[1], p[1] * scale);
            box[2] = Math.max(box[2], p[0] * scale);
            box[3] = Math.max(box[3], p[1] * scale);
        }
        return box;
    }

    // even-odd crossing test; the star is not convex
    private static boolean insidePolygon(double[][] v, double x, double y) {
        boolean in = false;
        for (int i = 0, j = v.length - 1; i < v.length; j = i++) {
            if ((v[i][1] > y) != (v[j][1] > y)
                    && x < v[j][0] + (y - v[j][1]) * (v[i][0] - v[j][0]) / (v[i][1] - v[j][1])) {
                in = !in;
            }
        }
        return in;
    }
}
