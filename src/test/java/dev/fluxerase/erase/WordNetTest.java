package dev.fluxerase.erase;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Synonyms as NLTK's wordnet.synsets gives them, and the offline choice of irrelevant concepts. */
class WordNetTest {
    private static WordNet wn;

    @BeforeAll
    static void load() {
        wn = WordNet.load();
    }

    @Test
    void synonymsOfNudeAreEveryLemmaOfEverySynset() {
        // METHOD.md §5 (checked there against WordNet 3.0): the noun senses, then the adjective satellite
        assertEquals(List.of("nude", "nude_painting", "nude_person", "nude_sculpture", "nude_statue", "bare",
                "au_naturel", "naked"), wn.synonyms("nude"));
        assertEquals(wn.synonyms("nude"), wn.synonyms("Nude"));
    }

    @Test
    void morphyFindsBaseForms() {
        // "nudes" is a plural noun only: the adjective sense is not reached
        assertEquals(List.of("nude", "nude_painting", "nude_person", "nude_sculpture", "nude_statue"),
                wn.synonyms("nudes"));
        assertEquals(List.of("child"), wn.morphy("children", 0));
        assertEquals(List.of("hug"), wn.morphy("hugged", 1));
        assertTrue(wn.synonyms("hug").containsAll(List.of("hug", "clinch", "squeeze", "embrace", "bosom")));
        // NLTK does not turn spaces into underscores: a multi-word name has no synsets
        assertEquals(List.of(), wn.synonyms("Frida Kahlo"));
        assertEquals(List.of(), wn.synonyms("explosive VFX"));
    }

    @Test
    void irrelevantConceptsAreThreeCommonNounsAtFallingDistances() {
        List<String> syn = wn.synonyms("nude");
        List<WordNet.Choice> c = wn.irrelevant("nude", syn, RunRandom.words(0));
        assertEquals(3, c.size());
        assertEquals(List.of("unrelated", "far", "mid"), c.stream().map(WordNet.Choice::kind).toList());
        assertTrue(c.get(0).distance() >= c.get(1).distance() && c.get(1).distance() >= c.get(2).distance(),
                c.toString());
        assertTrue(c.get(2).distance() > 2, c.toString());
        assertEquals(3, new HashSet<>(c.stream().map(WordNet.Choice::word).toList()).size());
        for (WordNet.Choice w : c) {
            assertFalse(syn.contains(w.word()), w.word());
            assertTrue(w.word().matches("[a-z]{3,}"), w.word());
        }
        // the run's seed decides, and decides the same way every time
        assertEquals(c, wn.irrelevant("nude", syn, RunRandom.words(0)));
        // an adjective-only key word measures from its synonyms' noun sense
        assertEquals(3, wn.irrelevant("naked", wn.synonyms("naked"), RunRandom.words(1)).size());
    }
}
