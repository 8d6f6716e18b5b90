package dev.fluxerase.toy;

import java.util.Arrays;
import java.util.List;

/**
 * The six shapes of the toy world and the words for them. {@link #synonyms()} occur in training captions;
 * {@link #paraphrases()} never do, so an erasure can be checked on prompts the model was not trained on: the first uses
 * a word for the shape that training never shows, the second an unseen template around the seen word.
 */
public enum Shape {
    CIRCLE("circle", List.of("disc", "dot"), "an orb"),
    SQUARE("square", List.of("box", "tile"), "a quadrilateral"),
    TRIANGLE("triangle", List.of("wedge", "pyramid"), "a trigon"),
    STAR("star", List.of("pentagram", "sparkle"), "a pentacle"),
    CROSS("cross", List.of("plus", "crosshair"), "a crucifix"),
    RING("ring", List.of("donut", "hoop"), "an annulus");

    private final String word;
    private final List<String> synonyms;
    private final List<String> paraphrases;

    Shape(String word, List<String> synonyms, String unseenNoun) {
        this.word = word;
        this.synonyms = synonyms;
        this.paraphrases = List.of(unseenNoun, "an image showing one " + word);
    }

    /** The shape whose word (not a synonym) is {@code word}, in any case; null when none is. */
    public static Shape named(String word) {
        for (Shape s : values()) {
            if (s.word.equalsIgnoreCase(word)) {
                return s;
            }
        }
        return null;
    }

    /** Every shape's word, in order. */
    public static List<String> words() {
        return Arrays.stream(values()).map(Shape::word).toList();
    }

    public String word() {
        return word;
    }

    public List<String> synonyms() {
        return synonyms;
    }

    public List<String> paraphrases() {
        return paraphrases;
    }
}
