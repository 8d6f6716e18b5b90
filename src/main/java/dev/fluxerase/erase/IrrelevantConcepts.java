package dev.fluxerase.erase;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * The K = 3 irrelevant concepts of L_rsc, chosen offline in place of the paper's GPT-4o call, which asks for a
 * "mid", a "far" and a "No_relation" word (METHOD.md §5): here a near, a mid and a far one, in the paper's order
 * [far, mid, near]. A key word of one of the paper's concept families (nudity, artistic styles, celebrities, objects)
 * gets one word from each of the family's curated pools ({@value #FAMILIES}); any other gets a graded choice in
 * WordNet's noun graph ({@link #graded}). Every draw comes from the run's seeded generator.
 */
final class IrrelevantConcepts {
    static final String FAMILIES = "irrelevant-families.yaml";
    /** Candidate words of the graded choice: a noun's most frequent sense, tagged at least this often. */
    static final int MIN_TAG_COUNT = 10;
    /** The largest graph distance of a near concept (a few hypernym links: a sibling or a cousin). */
    static final int NEAR_MAX = 5;
    static final List<String> KINDS = List.of("far", "mid", "near");

    /** One irrelevant concept: the word, its kind and its WordNet graph distance (null when not measurable). */
    record Choice(String word, String kind, Integer distance) {
    }

    /**
     * What was chosen: the words (far, mid, near), how ("curated nudity list" or "WordNet's graded choice") and the
     * sense distances are measured from (null when neither the key word nor its family has one).
     */
    record Selection(List<Choice> choices, String method, WordNet.Sense from) {
    }

    /** One family of {@value #FAMILIES}; its pools by kind. */
    record Family(String name, Set<String> keywords, String instancesOf, String sense, String senseUnder,
                  Map<String, List<String>> pools) {
    }

    private IrrelevantConcepts() {
    }

    /**
     * The choice for {@code keyWord}. With {@code senseName} (the key_word_sense key: a noun sense of the key word, or,
     * when it has none, of its synonyms) WordNet's graded choice from that sense, even for a family's key word;
     * without it, the family's pools when the key word belongs to one, else the graded choice from the key word's
     * first noun sense (or its synonyms').
     */
    static Selection choose(WordNet wn, String keyWord, String senseName, List<String> synonyms, Random rng) {
        Set<String> excluded = tokens(keyWord);
        synonyms.forEach(s -> excluded.addAll(tokens(s)));
        List<WordNet.Sense> senses = senses(wn, keyWord, synonyms);
        if (senseName != null) {
            return graded(wn, pickSense(wn, keyWord, senses, senseName), excluded, rng);
        }
        Family f = family(wn, keyWord);
        if (f != null) {
            return curated(wn, f, familySense(wn, f, senses), excluded, rng);
        }
        if (senses.isEmpty()) {
            throw new EraseException("WordNet " + wn.version() + " has no noun for \"" + keyWord + "\" or its synonyms"
                    + " to measure distances from, and it is in no curated family (" + FAMILIES + "); list "
                    + RunConfig.describe("irrelevant_concepts"));
        }
        return graded(wn, senses.getFirst(), excluded, rng);
    }

    /** The noun senses of the key word, or, when it has none, those of its synonyms: what key_word_sense may name. */
    private static List<WordNet.Sense> senses(WordNet wn, String keyWord, List<String> synonyms) {
        List<WordNet.Sense> own = wn.nounSenses(keyWord);
        if (!own.isEmpty()) {
            return own;
        }
        List<WordNet.Sense> out = new ArrayList<>();
        for (String s : synonyms) {
            for (WordNet.Sense n : wn.nounSenses(s)) {
                if (out.stream().noneMatch(o -> o.offset() == n.offset())) {
                    out.add(n);
                }
            }
        }
        return out;
    }

    private static WordNet.Sense pickSense(WordNet wn, String keyWord, List<WordNet.Sense> senses, String name) {
        WordNet.Sense s = wn.sense(name);
        if (s != null && senses.stream().anyMatch(o -> o.offset() == s.offset())) {
            return s;
        }
        String key = RunConfig.describe("key_word_sense") + " \"" + name + "\"";
        if (senses.isEmpty()) {
            throw new EraseException(key + ": WordNet " + wn.version() + " has no noun sense of \"" + keyWord
                    + "\" or its synonyms to choose from; leave it out");
        }
        throw new EraseException(key + " is not a WordNet " + wn.version() + " noun sense of \"" + keyWord + "\" (one"
                + " of " + String.join(", ", senses.stream().map(WordNet.Sense::toString).toList()) + ")");
    }

    /** Lower-case words of a key word, synonym or candidate ("nude_person" → nude, person). */
    private static Set<String> tokens(String words) {
        return new HashSet<>(List.of(words.toLowerCase(Locale.ROOT).replace('_', ' ').strip().split("\\s+")));
    }

    private static boolean overlaps(String word, Set<String> excluded) {
        return tokens(word).stream().anyMatch(excluded::contains);
    }

    private static Family family(WordNet wn, String keyWord) {
        List<Family> families = families();
        String key = String.join(" ", keyWord.toLowerCase(Locale.ROOT).strip().split("\\s+"));
        for (Family f : families) {
            if (f.keywords.contains(key)) {
                return f;
            }
        }
        List<WordNet.Sense> own = wn.nounSenses(keyWord);
        for (Family f : families) {
            if (f.instancesOf == null) {
                continue;
            }
            int under = wn.sense(f.instancesOf).offset();
            for (WordNet.Sense s : own) {
                if (wn.isInstance(s.offset()) && wn.closure(s.offset(), true).contains(under)) {
                    return f;
                }
            }
        }
        return null;
    }

    /** The family's fixed sense, else the first of {@code senses} below its sense_under (null when none is). */
    private static WordNet.Sense familySense(WordNet wn, Family f, List<WordNet.Sense> senses) {
        if (f.sense != null) {
            return wn.sense(f.sense);
        }
        int under = wn.sense(f.senseUnder).offset();
        return senses.stream().filter(s -> wn.closure(s.offset(), true).contains(under)).findFirst().orElse(null);
    }

    /** The families of {@value #FAMILIES}, in its order. */
    static List<Family> families() {
        JsonNode root;
        try (InputStream in = IrrelevantConcepts.class.getResourceAsStream(FAMILIES)) {
            if (in == null) {
                throw new IllegalStateException(FAMILIES + " is missing from the jar");
            }
            root = new ObjectMapper(new YAMLFactory()).readTree(in);
        } catch (IOException e) {
            throw new IllegalStateException(FAMILIES + ": " + e.getMessage(), e);
        }
        List<Family> out = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode f = e.getValue();
            Set<String> keywords = new HashSet<>();
            f.get("keywords").forEach(k -> keywords.add(k.asText()));
            Map<String, List<String>> pools = new HashMap<>();
            for (String kind : KINDS) {
                List<String> words = new ArrayList<>();
                f.get(kind).forEach(w -> words.add(w.asText()));
                pools.put(kind, words);
            }
            out.add(new Family(e.getKey(), keywords, text(f, "instances_of"), text(f, "sense"), text(f, "sense_under"),
                    pools));
        }
        return out;
    }

    private static String text(JsonNode o, String key) {
        JsonNode v = o.get(key);
        return v == null || v.isNull() ? null : v.asText();
    }

    private static Selection curated(WordNet wn, Family f, WordNet.Sense from, Set<String> excluded, Random rng) {
        Map<Integer, Integer> dist = from == null ? Map.of() : wn.distances(from.offset());
        List<Choice> out = new ArrayList<>();
        for (String kind : KINDS) {
            List<String> pool = f.pools.get(kind).stream().filter(w -> !overlaps(w, excluded))
                    .filter(w -> out.stream().noneMatch(c -> c.word().equalsIgnoreCase(w))).toList();
            String word = pool.get(rng.nextInt(pool.size()));
            List<WordNet.Sense> senses = wn.nounSenses(word);
            out.add(new Choice(word, kind, senses.isEmpty() ? null : dist.get(senses.getFirst().offset())));
        }
        return new Selection(out, "curated " + f.name + " list", from);
    }

    /** A candidate of the graded choice. */
    private record Candidate(String word, int distance, int lexFile, int side) {
    }

    /**
     * WordNet's graded choice from {@code from}, by shortest-path distance in the noun graph of hypernym and hyponym
     * links (instance links included, taken both ways). Candidates are common nouns ({@link WordNet#commonNouns} with
     * {@link #MIN_TAG_COUNT}, not named instances) that are neither the key word, a word of a synonym, a kind of the
     * sense (below it) nor a generalisation of it (above it). Near: in the sense's top-level category (lexicographer
     * file, e.g. noun.person), at the smallest distance up to {@link #NEAR_MAX} that has one (in any category on the
     * same side, when that one has none). Mid: another category on the same side of WordNet's top split (physical
     * entity, abstraction, thing), beyond {@link #NEAR_MAX}, at the lower quartile of their distances. Far: the other
     * side, at the upper quartile. Within a side, distances run as long as across it (paths meet high up), so the
     * quartiles are what keeps mid nearer than far, and far off the few odd words at the graph's end. Each draw is
     * uniform among the candidates at its distance, which are in alphabetical order.
     */
    static Selection graded(WordNet wn, WordNet.Sense from, Set<String> excluded, Random rng) {
        Map<Integer, Integer> dist = wn.distances(from.offset());
        Set<Integer> related = wn.closure(from.offset(), true);
        related.addAll(wn.closure(from.offset(), false));
        int side = wn.side(from.offset());
        List<Candidate> pool = new ArrayList<>();
        for (WordNet.Noun n : wn.commonNouns(MIN_TAG_COUNT)) {
            Integer d = dist.get(n.offset());
            if (d != null && d > 0 && !excluded.contains(n.lemma()) && !related.contains(n.offset())
                    && !wn.isInstance(n.offset())) {
                pool.add(new Candidate(n.lemma(), d, wn.sense(n.offset()).lexFile(), wn.side(n.offset())));
            }
        }
        List<Candidate> sameSide = pool.stream().filter(c -> (c.side & side) != 0).toList();
        List<Candidate> near = sameSide.stream().filter(c -> c.lexFile == from.lexFile() && c.distance <= NEAR_MAX)
                .toList();
        Choice nearest = nearest(near.isEmpty() ? sameSide.stream().filter(c -> c.distance <= NEAR_MAX).toList()
                : near, wn, from, rng);
        Choice mid = quartile(sameSide.stream().filter(c -> c.lexFile != from.lexFile() && c.distance > NEAR_MAX)
                .toList(), 0.25, "mid", wn, from, rng);
        Choice far = quartile(pool.stream().filter(c -> (c.side & side) == 0).toList(), 0.75, "far", wn, from, rng);
        return new Selection(List.of(far, mid, nearest), "WordNet's graded choice", from);
    }

    private static Choice nearest(List<Candidate> candidates, WordNet wn, WordNet.Sense from, Random rng) {
        int d = candidates.stream().mapToInt(Candidate::distance).min().orElseThrow(() -> none("near", wn, from));
        return draw(candidates, d, "near", rng);
    }

    private static Choice quartile(List<Candidate> candidates, double q, String kind, WordNet wn, WordNet.Sense from,
                                   Random rng) {
        if (candidates.isEmpty()) {
            throw none(kind, wn, from);
        }
        List<Candidate> sorted = candidates.stream().sorted(Comparator.comparingInt(Candidate::distance)).toList();
        return draw(candidates, sorted.get((int) (q * (sorted.size() - 1))).distance, kind, rng);
    }

    private static Choice draw(List<Candidate> candidates, int distance, String kind, Random rng) {
        List<Candidate> band = candidates.stream().filter(c -> c.distance == distance).toList();
        Candidate c = band.get(rng.nextInt(band.size()));
        return new Choice(c.word, kind, c.distance);
    }

    private static EraseException none(String kind, WordNet wn, WordNet.Sense from) {
        return new EraseException("WordNet " + wn.version() + " has no common noun to serve as the " + kind
                + " irrelevant concept of " + from + "; list " + RunConfig.describe("irrelevant_concepts"));
    }
}
