package dev.fluxerase.erase;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Synonyms as NLTK's wordnet.synsets gives them, in both bundled versions, and the offline irrelevant concepts. */
class WordNetTest {
    private static WordNet wn;
    private static WordNet wn31;

    @BeforeAll
    static void load() {
        wn = WordNet.load("3.0");
        wn31 = WordNet.load("3.1");
    }

    /**
     * NLTK's {@code {l.name() for s in wordnet.synsets(w) for l in s.lemmas()}} on its WordNet 3.0: the expected lists
     * were read off the extjwnl-data-wn30 jar's files by hand-written code (index.pos offsets, then each data.pos
     * line's words with the adjective markers "(a)", "(p)", "(ip)" cut), not by this class. NLTK keeps the data's
     * case ("Canis_familiaris"), underscores ("nude_person") and hyphens ("dog-iron"), and so do we; our list is in
     * synset order (noun, verb, adjective, adverb senses), where NLTK's set has none.
     */
    @Test
    void synonymsAreNltksOnWordNet30() {
        assertEquals(List.of("nude", "nude_painting", "nude_person", "nude_sculpture", "nude_statue", "bare",
                "au_naturel", "naked"), wn.synonyms("nude"));
        assertEquals(List.of("car", "auto", "automobile", "machine", "motorcar", "railcar", "railway_car",
                "railroad_car", "gondola", "elevator_car", "cable_car"), wn.synonyms("car"));
        assertEquals(List.of("dog", "domestic_dog", "Canis_familiaris", "frump", "cad", "bounder", "blackguard",
                "hound", "heel", "frank", "frankfurter", "hotdog", "hot_dog", "wiener", "wienerwurst", "weenie", "pawl",
                "detent", "click", "andiron", "firedog", "dog-iron", "chase", "chase_after", "trail", "tail", "tag",
                "give_chase", "go_after", "track"), wn.synonyms("dog"));
        assertEquals(List.of("explosion", "detonation", "blowup", "burst", "plosion"), wn.synonyms("explosion"));
        assertEquals(wn.synonyms("nude"), wn.synonyms("Nude"));
    }

    /** 3.1 stays selectable and is another database: "cat" gained the verb sense of "sod" (to vomit) there. */
    @Test
    void versionsDiffer() {
        assertEquals("3.0", wn.version());
        assertEquals("3.1", wn31.version());
        assertFalse(wn.synonyms("cat").contains("sod"));
        assertTrue(wn31.synonyms("cat").contains("sod"));
        assertEquals(wn.synonyms("nude"), wn31.synonyms("nude"));
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
