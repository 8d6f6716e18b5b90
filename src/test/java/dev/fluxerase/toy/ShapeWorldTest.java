package dev.fluxerase.toy;

import dev.fluxerase.image.RgbImage;
import dev.fluxerase.toy.ShapeWorld.Sample;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShapeWorldTest {
    private static final long SEED = 20250101L;
    private static final int N = 3000;
    private static final List<Sample> SAMPLES = samples();

    private static List<Sample> samples() {
        List<Sample> out = new ArrayList<>(N);
        for (int i = 0; i < N; i++) {
            out.add(ShapeWorld.sample(SEED, i));
        }
        return out;
    }

    @Test
    void sameSeedAndIndexGiveTheSameSampleInAnyOrder() {
        List<Sample> forward = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            forward.add(ShapeWorld.sample(SEED, i));
        }
        for (int i = 49; i >= 0; i--) {
            ShapeWorld.sample(SEED + 1, 1000 - i);
            assertEquals(forward.get(i), ShapeWorld.sample(SEED, i), "sample " + i);
        }
        assertNotEquals(ShapeWorld.sample(SEED, 0), ShapeWorld.sample(SEED + 1, 0));
    }

    @Test
    void captionsAreTrainingCaptionsMadeOfLexiconWords() {
        Set<String> training = new HashSet<>(ShapeWorld.trainingCaptions());
        Set<String> lexicon = new HashSet<>(ShapeWorld.lexicon());
        for (Sample s : SAMPLES) {
            assertTrue(s.caption().matches("a( [a-z]+)+"), s.caption());
            assertTrue(training.contains(s.caption()), s.caption());
            for (String word : s.caption().split(" ")) {
                assertTrue(lexicon.contains(word), word);
            }
            boolean named = false;
            for (String word : s.caption().split(" ")) {
                named |= word.equals(s.shape().word()) || s.shape().synonyms().contains(word)
                        || word.equals(ShapeWorld.GENERIC);
            }
            assertTrue(named, s.caption() + " names no " + s.shape() + " and no shape at all");
        }
    }

    @Test
    void trainingCaptionsAndLexiconAreSortedAndComplete() {
        List<String> captions = ShapeWorld.trainingCaptions();
        // (6 shapes × 3 nouns + the generic "shape") × (1 + 4 + 2 + 8 + 12 + 24 + 3 + 4) template fillings
        assertEquals((6 * 3 + 1) * 58, captions.size());
        assertEquals(List.copyOf(new TreeSet<>(captions)), captions);
        List<String> lexicon = ShapeWorld.lexicon();
        assertEquals(List.copyOf(new TreeSet<>(lexicon)), lexicon);
        for (String word : List.of("a", "picture", "of", "on", "background", "small", "large", "red", "gray", "disc",
                "crosshair", "orb", "annulus", "an", "image", "showing", "one")) {
            assertTrue(lexicon.contains(word), word);
        }
    }

    @Test
    void aboutThirtyPercentOfCaptionsUseASynonymAndTenPercentTheGenericNoun() {
        int synonyms = 0;
        int generic = 0;
        for (Sample s : SAMPLES) {
            List<String> words = List.of(s.caption().split(" "));
            synonyms += s.shape().synonyms().stream().anyMatch(words::contains) ? 1 : 0;
            generic += words.contains(ShapeWorld.GENERIC) ? 1 : 0;
        }
        double rate = synonyms / (double) N;
        assertTrue(rate >= 0.25 && rate <= 0.35, "synonym rate " + rate);
        double genericRate = generic / (double) N;
        assertTrue(genericRate >= 0.06 && genericRate <= 0.14, "generic rate " + genericRate);
    }

    @Test
    void paraphrasesAreHeldOut() {
        Set<String> trainingWords = new HashSet<>();
        for (String caption : ShapeWorld.trainingCaptions()) {
            trainingWords.addAll(List.of(caption.split(" ")));
        }
        Set<String> training = new HashSet<>(ShapeWorld.trainingCaptions());
        for (Shape shape : Shape.values()) {
            assertEquals(2, shape.paraphrases().size());
            for (String paraphrase : shape.paraphrases()) {
                assertFalse(training.contains(paraphrase), paraphrase);
                for (String word : paraphrase.split(" ")) {
                    // the training article and the shape's own word are the only seen words allowed
                    assertTrue(word.equals("a") || word.equals(shape.word()) || !trainingWords.contains(word),
                            word + " of \"" + paraphrase + "\" occurs in training captions");
                }
            }
            assertFalse(shape.paraphrases().getFirst().contains(shape.word()), "first paraphrase uses an unseen noun");
            assertTrue(shape.paraphrases().get(1).endsWith(" " + shape.word()), "second keeps the seen noun");
            for (String synonym : shape.synonyms()) {
                assertTrue(trainingWords.contains(synonym), synonym);
            }
        }
    }

    @Test
    void everyShapeFitsInsideTheImage() {
        for (Sample s : SAMPLES) {
            double[] box = ShapeWorld.bounds(s.shape(), s.r());
            assertTrue(s.cx() + box[0] >= 1 && s.cy() + box[1] >= 1 && s.cx() + box[2] <= 31 && s.cy() + box[3] <= 31,
                    s.toString());
            RgbImage img = s.image();
            for (int i = 0; i < ShapeWorld.SIZE; i++) {
                for (int c = 0; c < 3; c++) {
                    assertEquals(img.get(0, 0, c), img.get(i, 0, c));
                    assertEquals(img.get(0, 0, c), img.get(i, 31, c));
                    assertEquals(img.get(0, 0, c), img.get(0, i, c));
                    assertEquals(img.get(0, 0, c), img.get(31, i, c));
                }
            }
        }
    }

    @Test
    void samplesCoverEveryShapeColourBackgroundAndSize() {
        Set<Shape> shapes = EnumSet.noneOf(Shape.class);
        Set<String> colours = new HashSet<>();
        Set<String> backgrounds = new HashSet<>();
        Set<String> sizes = new HashSet<>();
        Set<String> captions = new HashSet<>();
        for (Sample s : SAMPLES) {
            shapes.add(s.shape());
            colours.add(s.colour());
            backgrounds.add(s.background());
            sizes.add(s.size());
            captions.add(s.caption());
            double[] range = s.size().equals("small") ? new double[] {8, 10} : new double[] {10.5, 13};
            assertTrue(s.r() >= range[0] && s.r() < range[1], s.toString());
            RgbImage img = s.image();
            int[] bg = backgroundRgb(s.background());
            for (int c = 0; c < 3; c++) {
                assertEquals(bg[c], img.get(0, 0, c), s.background());
            }
            if (s.shape() != Shape.RING) {
                // the centre pixel is fully covered, so it shows the jittered fill
                int[] fill = fillRgb(s.colour());
                for (int c = 0; c < 3; c++) {
                    assertEquals(fill[c], img.get((int) s.cx(), (int) s.cy(), c), 12, s.toString());
                }
            }
        }
        assertEquals(EnumSet.allOf(Shape.class), shapes);
        assertEquals(Set.copyOf(ShapeWorld.colours()), colours);
        assertEquals(Set.copyOf(ShapeWorld.backgrounds()), backgrounds);
        assertEquals(Set.copyOf(ShapeWorld.sizes()), sizes);
        assertTrue(captions.size() > 500, captions.size() + " distinct captions");
    }

    @Test
    void renderedAreasMatchTheGeometry() {
        double r = 10;
        double star = 1.08 * r;
        double[] areas = {
                Math.PI * r * r,
                Math.pow(2 * 0.82 * r, 2),
                3 * Math.sqrt(3) / 4 * Math.pow(1.1 * r, 2),
                5 * star * 0.42 * star * Math.sin(Math.toRadians(36)),
                2 * (2 * r) * (0.6 * r) - 0.6 * r * 0.6 * r,
                Math.PI * r * r * (1 - 0.55 * 0.55)};
        for (Shape shape : Shape.values()) {
            RgbImage img = ShapeWorld.render(shape, "red", "white", "large", 16.3, 15.8, r, "a " + shape.word())
                    .image();
            double coverage = 0;
            for (int y = 0; y < ShapeWorld.SIZE; y++) {
                for (int x = 0; x < ShapeWorld.SIZE; x++) {
                    // green: white 240, red 45
                    coverage += (240 - img.get(x, y, 1)) / 195.0;
                }
            }
            assertEquals(areas[shape.ordinal()], coverage, 0.02 * areas[shape.ordinal()], shape.toString());
        }
    }

    private static int[] backgroundRgb(String name) {
        return switch (name) {
            case "white" -> new int[] {240, 240, 240};
            case "black" -> new int[] {25, 25, 25};
            default -> new int[] {125, 125, 125};
        };
    }

    private static int[] fillRgb(String name) {
        return switch (name) {
            case "red" -> new int[] {215, 45, 45};
            case "green" -> new int[] {45, 165, 65};
            case "blue" -> new int[] {45, 85, 215};
            default -> new int[] {230, 195, 35};
        };
    }
}
