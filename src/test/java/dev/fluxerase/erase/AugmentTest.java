package dev.fluxerase.erase;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Word shuffle and synonym swap with their probabilities; the draws replay from the same generator. */
class AugmentTest {
    private static final String P = "a nude girl with beautiful hair and a nude back";

    @Test
    void noAugmentationAtProbabilityZero() {
        Augment a = Augment.draw(P, "nude", List.of("naked"), 0, 0, new Random(1));
        assertEquals(P, a.prompt());
        assertEquals(P, a.shuffled());
        assertFalse(a.wasShuffled() || a.swapped());
        assertEquals("naked", a.synonym());
        assertEquals("nude", a.conceptInPrompt("nude"));
    }

    @Test
    void shuffleKeepsTheWordsAndSwapReplacesEveryOccurrence() {
        Augment a = Augment.draw(P, "nude", List.of("naked", "bare"), 1, 1, new Random(7));
        assertTrue(a.wasShuffled() && a.swapped());
        String[] before = P.split(" ");
        String[] after = a.shuffled().split(" ");
        Arrays.sort(before);
        Arrays.sort(after);
        assertTrue(Arrays.equals(before, after));
        assertNotEquals(P, a.shuffled());
        assertEquals(a.shuffled().replace("nude", a.synonym()), a.prompt());
        assertFalse(a.prompt().contains("nude"));
        assertEquals(a.synonym(), a.conceptInPrompt("nude"));
        assertEquals(a, Augment.draw(P, "nude", List.of("naked", "bare"), 1, 1, new Random(7)));
    }

    @Test
    void aSplitMultiWordKeyWordIsNotSwapped() {
        // shuffling can separate the words of a multi-word key word; str.replace then finds nothing
        for (int seed = 0; seed < 20; seed++) {
            Augment a = Augment.draw("an art in the style of Frida Kahlo", "Frida Kahlo", List.of("Kahlo"), 1, 1,
                    new Random(seed));
            assertEquals(a.shuffled().contains("Frida Kahlo"), a.swapped(), a.toString());
        }
    }

    @Test
    void probabilitiesAreRespected() {
        Random rng = new Random(3);
        int shuffled = 0;
        int swapped = 0;
        for (int i = 0; i < 2000; i++) {
            Augment a = Augment.draw("one nude two", "nude", List.of("naked"), 0.9, 0.5, rng);
            shuffled += a.wasShuffled() ? 1 : 0;
            swapped += a.swapped() ? 1 : 0;
        }
        assertEquals(0.9, shuffled / 2000.0, 0.03);
        assertEquals(0.5, swapped / 2000.0, 0.04);
    }
}
