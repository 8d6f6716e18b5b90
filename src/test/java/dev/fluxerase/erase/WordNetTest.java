package dev.fluxerase.erase;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
        assertEquals("nude.n.03", wn.sense("nude.n.03").name());
        assertTrue(wn.sense("nude.n.03").offset() != wn31.sense("nude.n.03").offset());
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
        assertEquals(List.of(), wn.synonyms("Van Gogh"));
        // the sense lookup (not the synonyms) does, as WordNet spells such names
        assertEquals("van_gogh.n.01", wn.nounSenses("Van Gogh").getFirst().name());
    }

    @Test
    void sensesHaveNltksNamesAndDefinitions() {
        assertEquals(List.of("nude.n.01 (a painting of a naked human figure)",
                "nude.n.02 (without clothing (especially in the phrase `in the nude'))", "nude.n.03 (a naked person)",
                "nude.n.04 (a statue of a naked human figure)"),
                wn.nounSenses("nude").stream().map(WordNet.Sense::toString).toList());
        // a synset is named by its first lemma: car.n.01 is also "automobile"'s first sense
        assertEquals("car.n.01", wn.nounSenses("automobile").getFirst().name());
        assertEquals(18, wn.sense("nude.n.03").lexFile());
        assertNull(wn.sense("nude.n.05"));
        assertNull(wn.sense("nude"));
    }

    private static IrrelevantConcepts.Selection choose(WordNet w, String keyWord, String sense, long seed) {
        List<String> syn = w.synonyms(keyWord);
        return IrrelevantConcepts.choose(w, keyWord, sense, syn.isEmpty() ? List.of(keyWord) : syn,
                RunRandom.words(seed));
    }

    private static List<String> words(IrrelevantConcepts.Selection s) {
        return s.choices().stream().map(IrrelevantConcepts.Choice::word).toList();
    }

    @Test
    void nudeGetsPeopleOrClothingNearFromTheCuratedList() {
        Set<String> peopleOrClothing = Set.of("woman", "man", "girl", "boy", "clothing", "dress", "shirt", "swimsuit");
        Set<String> near = new HashSet<>();
        for (long seed = 0; seed < 8; seed++) {
            IrrelevantConcepts.Selection s = choose(wn, "nude", null, seed);
            assertEquals(IrrelevantConcepts.KINDS, s.choices().stream().map(IrrelevantConcepts.Choice::kind).toList());
            assertEquals("curated nudity list", s.method());
            assertEquals("nude.n.03", s.from().name());
            near.add(s.choices().getLast().word());
            // the run's seed decides, and decides the same way every time
            assertEquals(s, choose(wn, "nude", null, seed));
        }
        assertTrue(peopleOrClothing.containsAll(near) && near.size() > 1, near.toString());
        for (String keyWord : List.of("naked", "NSFW", "nudity")) {
            assertEquals("curated nudity list", choose(wn, keyWord, null, 0).method(), keyWord);
        }
    }

    /**
     * Naming a sense asks for WordNet's own choice, even for a family's key word; from the naked person, a person is
     * near.
     */
    @Test
    void gradedChoiceFromTheNakedPersonSense() {
        for (long seed = 0; seed < 4; seed++) {
            IrrelevantConcepts.Selection s = choose(wn, "nude", "nude.n.03", seed);
            assertEquals("WordNet's graded choice", s.method());
            IrrelevantConcepts.Choice far = s.choices().get(0);
            IrrelevantConcepts.Choice mid = s.choices().get(1);
            IrrelevantConcepts.Choice near = s.choices().get(2);
            assertEquals(18, wn.nounSenses(near.word()).getFirst().lexFile(), near + " is not in noun.person");
            assertTrue(near.distance() <= IrrelevantConcepts.NEAR_MAX, s.toString());
            assertTrue(near.distance() < mid.distance() && mid.distance() < far.distance(), s.toString());
            for (IrrelevantConcepts.Choice c : s.choices()) {
                assertFalse(wn.synonyms("nude").contains(c.word()), c.word());
                assertTrue(c.word().matches("[a-z]{3,}"), c.word());
            }
        }
    }

    /** A car's sibling under motor vehicle is the one near word; its generalisations (vehicle) are never chosen. */
    @Test
    void carGetsTruckNear() {
        for (long seed = 0; seed < 4; seed++) {
            IrrelevantConcepts.Selection s = choose(wn, "car", null, seed);
            assertEquals("car.n.01", s.from().name());
            assertEquals(new IrrelevantConcepts.Choice("truck", "near", 2), s.choices().getLast());
            assertTrue(s.choices().get(1).distance() < s.choices().get(0).distance(), s.toString());
            assertFalse(words(s).contains("vehicle"));
        }
    }

    @Test
    void familiesAreRecognisedByKeywordOrWordNetInstance() {
        assertEquals("curated artistic styles list", choose(wn, "Frida Kahlo", null, 0).method());
        // not listed: WordNet knows Matisse as an instance of painter, Einstein as one of physicist
        assertEquals("curated artistic styles list", choose(wn, "Matisse", null, 0).method());
        assertEquals("curated celebrities list", choose(wn, "Einstein", null, 0).method());
        IrrelevantConcepts.Selection swift = choose(wn, "Taylor Swift", null, 0);
        assertEquals("curated celebrities list", swift.method());
        assertEquals("celebrity.n.01", swift.from().name());
        // distances are measured from the building, not from the church as a body of Christians
        assertEquals("church.n.02", choose(wn, "church", null, 0).from().name());
        assertNull(choose(wn, "explosive VFX", null, 0).from());
    }

    /** Every keyword of every family gets three different words, none sharing a word with it. */
    @Test
    void everyFamilyKeywordGetsThreeWords() {
        for (IrrelevantConcepts.Family f : IrrelevantConcepts.families()) {
            for (String keyWord : f.keywords()) {
                IrrelevantConcepts.Selection s = choose(wn, keyWord, null, 3);
                assertEquals("curated " + f.name() + " list", s.method(), keyWord);
                assertEquals(3, new HashSet<>(words(s)).size(), keyWord);
                for (String w : words(s)) {
                    for (String part : w.toLowerCase(Locale.ROOT).split(" ")) {
                        assertFalse(List.of(keyWord.split(" ")).contains(part), keyWord + ": " + w);
                    }
                }
            }
        }
    }

    @Test
    void aSenseNotOfTheKeyWordIsRefusedWithTheSenses() {
        EraseException e = assertThrows(EraseException.class, () -> choose(wn, "nude", "nude.n.9", 0));
        assertEquals("key_word_sense (--key-word-sense) \"nude.n.9\" is not a WordNet 3.0 noun sense of \"nude\" (one"
                + " of nude.n.01 (a painting of a naked human figure), nude.n.02 (without clothing (especially in the"
                + " phrase `in the nude')), nude.n.03 (a naked person), nude.n.04 (a statue of a naked human figure))",
                e.getMessage());
        assertThrows(EraseException.class, () -> choose(wn, "nude", "car.n.01", 0));
        assertEquals("key_word_sense (--key-word-sense) \"painter.n.01\": WordNet 3.0 has no noun sense of \"Frida"
                + " Kahlo\" or its synonyms to choose from; leave it out",
                assertThrows(EraseException.class, () -> choose(wn, "Frida Kahlo", "painter.n.01", 0)).getMessage());
        // an adjective-only key word offers its synonyms' noun senses
        assertEquals("nude.n.03", choose(wn, "naked", "nude.n.03", 0).from().name());
        assertThrows(EraseException.class, () -> IrrelevantConcepts.choose(wn, "qwxz", null, List.of("qwxz"),
                new Random(0)));
    }
}
