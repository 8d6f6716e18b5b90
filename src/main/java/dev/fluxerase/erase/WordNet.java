package dev.fluxerase.erase;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Princeton WordNet 3.0 or 3.1, read from its database files (bundled from the {@code extjwnl-data-wn30} and
 * {@code -wn31} jars), for what EraseAnything asks of WordNet (METHOD.md §5): the synonyms of a key word, as NLTK's
 * {@code {l.name() for s in wordnet.synsets(word) for l in s.lemmas()}} gives them, and the noun graph that
 * {@link IrrelevantConcepts} measures distances in, in place of the paper's GPT-4o call.
 *
 * <p>A synset's offset is the byte offset of its line in {@code data.<pos>}, so lines are parsed where they are
 * needed.
 */
final class WordNet {
    /** The versions bundled, as the {@code wordnet} key names them; 3.0 is NLTK's and the default. */
    static final List<String> VERSIONS = List.of("3.0", "3.1");
    private static final String[] POS_FILE = {"noun", "verb", "adj", "adv"};

    /** NLTK's MORPHOLOGICAL_SUBSTITUTIONS (suffix, replacement) per part of speech, in NLTK's order. */
    private static final String[][][] SUBSTITUTIONS = {
            {{"s", ""}, {"ses", "s"}, {"ves", "f"}, {"xes", "x"}, {"zes", "z"}, {"ches", "ch"}, {"shes", "sh"},
                    {"men", "man"}, {"ies", "y"}},
            {{"s", ""}, {"ies", "y"}, {"es", "e"}, {"es", ""}, {"ed", "e"}, {"ed", ""}, {"ing", "e"}, {"ing", ""}},
            {{"er", ""}, {"est", ""}, {"er", "e"}, {"est", "e"}},
            {}};

    /**
     * A noun synset, named as NLTK names it ({@code lemma.n.NN}: its first lemma and that lemma's sense number).
     *
     * @param lexFile    its lexicographer file (noun.person = 18, noun.artifact = 6, ...): WordNet's top-level category
     * @param definition its gloss without the quoted examples (NLTK's {@code definition()})
     */
    record Sense(String name, int offset, int lexFile, String definition) {
        @Override
        public String toString() {
            return name + " (" + definition + ")";
        }
    }

    /** A common noun at its most frequent sense. */
    record Noun(String lemma, int offset) {
    }

    private final String version;
    private final String root;
    private final byte[][] data = new byte[4][];
    /** lemma → per part of speech its synset offsets in frequency order. */
    private final Map<String, int[][]> index = new HashMap<>();
    private final List<Map<String, List<String>>> exceptions = new ArrayList<>();
    /** offset → bit set of the children of entity.n.01 above it ({@link #side}). */
    private final Map<Integer, Integer> sides = new HashMap<>();
    /** offset → its noun links, parsed once: a choice walks most of the graph several times. */
    private final Map<Integer, Links> links = new HashMap<>();

    /** A noun synset's hypernyms and hyponyms (instance links included), and whether it is an instance. */
    private record Links(int[] up, int[] down, boolean instance) {
    }

    private WordNet(String version) {
        this.version = version;
        this.root = "/net/sf/extjwnl/data/wordnet/wn" + version.replace(".", "") + "/";
    }

    /** Reads the index, exception and data files of {@code version} (one of {@link #VERSIONS}) from the class path. */
    static WordNet load(String version) {
        if (!VERSIONS.contains(version)) {
            throw new IllegalArgumentException("WordNet " + version);
        }
        WordNet w = new WordNet(version);
        for (int p = 0; p < 4; p++) {
            w.data[p] = w.resource("data." + POS_FILE[p]);
            w.readIndex(p, text(w.resource("index." + POS_FILE[p])));
            Map<String, List<String>> exc = new HashMap<>();
            for (String line : text(w.resource(POS_FILE[p] + ".exc")).split("\n")) {
                String[] f = line.strip().split(" ");
                if (f.length >= 2) {
                    exc.computeIfAbsent(f[0], k -> new ArrayList<>()).addAll(List.of(f).subList(1, f.length));
                }
            }
            w.exceptions.add(exc);
        }
        return w;
    }

    String version() {
        return version;
    }

    private byte[] resource(String name) {
        try (InputStream in = WordNet.class.getResourceAsStream(root + name)) {
            if (in == null) {
                throw new EraseException("WordNet file " + root + name + " is not on the class path (the"
                        + " extjwnl-data-wn" + version.replace(".", "") + " jar); list synonyms and"
                        + " irrelevant_concepts in the run configuration");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new EraseException("WordNet file " + root + name + ": " + e.getMessage(), e);
        }
    }

    private static String text(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    /** index.pos lines: lemma pos synset_cnt p_cnt [ptr_symbol]×p_cnt sense_cnt tagsense_cnt offset×synset_cnt. */
    private void readIndex(int p, String text) {
        for (String line : text.split("\n")) {
            if (line.startsWith(" ") || line.isBlank()) {
                continue;
            }
            String[] f = line.strip().split(" ");
            int synsets = Integer.parseInt(f[2]);
            int pointers = Integer.parseInt(f[3]);
            int first = 4 + pointers + 2;
            int[] offsets = new int[synsets];
            for (int i = 0; i < synsets; i++) {
                offsets[i] = Integer.parseInt(f[first + i]);
            }
            index.computeIfAbsent(f[0], k -> new int[4][])[p] = offsets;
        }
    }

    private boolean inIndex(String form, int p) {
        int[][] e = index.get(form);
        return e != null && e[p] != null;
    }

    /** NLTK's {@code _morphy}: the base forms of {@code form} that WordNet has for part of speech p. */
    List<String> morphy(String form, int p) {
        List<String> exc = exceptions.get(p).get(form);
        if (exc != null) {
            List<String> forms = new ArrayList<>();
            forms.add(form);
            forms.addAll(exc);
            return filter(forms, p);
        }
        List<String> forms = applyRules(List.of(form), p);
        List<String> withOriginal = new ArrayList<>();
        withOriginal.add(form);
        withOriginal.addAll(forms);
        List<String> results = filter(withOriginal, p);
        while (results.isEmpty() && !forms.isEmpty()) {
            forms = applyRules(forms, p);
            results = filter(forms, p);
        }
        return results;
    }

    private static List<String> applyRules(List<String> forms, int p) {
        List<String> out = new ArrayList<>();
        for (String f : forms) {
            for (String[] s : SUBSTITUTIONS[p]) {
                if (f.endsWith(s[0])) {
                    out.add(f.substring(0, f.length() - s[0].length()) + s[1]);
                }
            }
        }
        return out;
    }

    private List<String> filter(List<String> forms, int p) {
        Set<String> out = new LinkedHashSet<>();
        for (String f : forms) {
            if (inIndex(f, p)) {
                out.add(f);
            }
        }
        return new ArrayList<>(out);
    }

    /** NLTK's {@code wordnet.synsets(word)}: (part of speech, offset) pairs in NLTK's order. */
    List<int[]> synsets(String word) {
        String lemma = word.toLowerCase(Locale.ROOT);
        List<int[]> out = new ArrayList<>();
        for (int p = 0; p < 4; p++) {
            for (String form : morphy(lemma, p)) {
                for (int offset : index.get(form)[p]) {
                    out.add(new int[]{p, offset});
                }
            }
        }
        return out;
    }

    /**
     * Every lemma name of every synset of {@code word}, first occurrence first (NLTK collects them into a Python set,
     * whose order varies between processes; a list in synset order makes the choice reproducible). Underscores are
     * kept ("nude_person"), and so are the data's case and hyphens ("Canis_familiaris", "dog-iron"), as in NLTK's lemma
     * names; the word itself is included when WordNet lists it. Empty when WordNet does not know the word (multi-word
     * names such as "Frida Kahlo": NLTK does not turn spaces into underscores).
     */
    List<String> synonyms(String word) {
        Set<String> names = new LinkedHashSet<>();
        for (int[] s : synsets(word)) {
            names.addAll(line(s[0], s[1]).words);
        }
        return new ArrayList<>(names);
    }

    /** A parsed data line: words, lexicographer file, pointers (symbol, target offset, target part of speech), gloss. */
    private record Line(List<String> words, int lexFile, List<String> symbols, int[] targets, char[] targetPos,
                        String gloss) {
    }

    /** data.pos line: offset lex_filenum ss_type w_cnt(hex) [word lex_id]×w_cnt p_cnt [sym offset pos src/tgt]×p_cnt … | gloss */
    private Line line(int p, int offset) {
        byte[] d = data[p];
        int end = offset;
        while (end < d.length && d[end] != '\n') {
            end++;
        }
        String text = new String(d, offset, end - offset, StandardCharsets.UTF_8);
        int bar = text.indexOf(" | ");
        String[] f = (bar < 0 ? text : text.substring(0, bar)).split(" ");
        if (Integer.parseInt(f[0]) != offset) {
            throw new EraseException("WordNet data." + POS_FILE[p] + ": no synset at offset " + offset);
        }
        int words = Integer.parseInt(f[3], 16);
        List<String> names = new ArrayList<>(words);
        for (int i = 0; i < words; i++) {
            String w = f[4 + 2 * i];
            int paren = w.indexOf('(');
            names.add(paren > 0 && w.endsWith(")") ? w.substring(0, paren) : w);
        }
        int at = 4 + 2 * words;
        int pointers = Integer.parseInt(f[at]);
        List<String> symbols = new ArrayList<>(pointers);
        int[] targets = new int[pointers];
        char[] pos = new char[pointers];
        for (int i = 0; i < pointers; i++) {
            symbols.add(f[at + 1 + 4 * i]);
            targets[i] = Integer.parseInt(f[at + 2 + 4 * i]);
            pos[i] = f[at + 3 + 4 * i].charAt(0);
        }
        return new Line(names, Integer.parseInt(f[1]), symbols, targets, pos,
                bar < 0 ? "" : text.substring(bar + 3).strip());
    }

    /** The noun synset at {@code offset}, with NLTK's name. */
    Sense sense(int offset) {
        Line l = line(0, offset);
        String lemma = l.words.getFirst().toLowerCase(Locale.ROOT);
        int[] offsets = index.get(lemma)[0];
        int number = 1;
        while (offsets[number - 1] != offset) {
            number++;
        }
        List<String> definition = new ArrayList<>();
        for (String part : l.gloss.split("; ")) {
            if (!part.startsWith("\"")) {
                definition.add(part);
            }
        }
        return new Sense("%s.n.%02d".formatted(lemma, number), offset, l.lexFile, String.join("; ", definition));
    }

    /** The noun synset NLTK names {@code name} ("nude.n.03"), or null when there is none. */
    Sense sense(String name) {
        Matcher m = SENSE_NAME.matcher(name.strip());
        if (!m.matches()) {
            return null;
        }
        int[][] e = index.get(m.group(1).toLowerCase(Locale.ROOT).replace(' ', '_'));
        int number = Integer.parseInt(m.group(2));
        return e == null || e[0] == null || number < 1 || number > e[0].length ? null : sense(e[0][number - 1]);
    }

    private static final Pattern SENSE_NAME = Pattern.compile("(.+)\\.n\\.(\\d{1,3})");

    /**
     * The noun senses of {@code word} as {@code wordnet.synsets(word, 'n')} finds them, or, for a word of several
     * that NLTK does not find, those of the word with underscores for its spaces, as WordNet spells such names
     * ("van_gogh", "garbage_truck").
     */
    List<Sense> nounSenses(String word) {
        List<Sense> out = new ArrayList<>();
        for (int[] s : synsets(word)) {
            if (s[0] == 0) {
                out.add(sense(s[1]));
            }
        }
        String joined = word.strip().replaceAll("\\s+", "_");
        return out.isEmpty() && !joined.equals(word) ? nounSenses(joined) : out;
    }

    private Links links(int offset) {
        return links.computeIfAbsent(offset, o -> {
            Line l = line(0, o);
            List<Integer> up = new ArrayList<>();
            List<Integer> down = new ArrayList<>();
            for (int i = 0; i < l.targets.length; i++) {
                String sym = l.symbols.get(i);
                if (l.targetPos[i] == 'n' && (sym.equals("@") || sym.equals("@i"))) {
                    up.add(l.targets[i]);
                } else if (l.targetPos[i] == 'n' && (sym.equals("~") || sym.equals("~i"))) {
                    down.add(l.targets[i]);
                }
            }
            return new Links(up.stream().mapToInt(Integer::intValue).toArray(),
                    down.stream().mapToInt(Integer::intValue).toArray(), l.symbols.contains("@i"));
        });
    }

    /** Whether the noun synset at {@code offset} is an instance (a named person, place, ...), not a kind. */
    boolean isInstance(int offset) {
        return links(offset).instance;
    }

    /** Every noun synset above ({@code up}) or below {@code offset} by hypernym or hyponym links, instances included. */
    Set<Integer> closure(int offset, boolean up) {
        Set<Integer> seen = new HashSet<>();
        ArrayDeque<Integer> queue = new ArrayDeque<>(List.of(offset));
        while (!queue.isEmpty()) {
            Links l = links(queue.poll());
            for (int t : up ? l.up : l.down) {
                if (seen.add(t)) {
                    queue.add(t);
                }
            }
        }
        return seen;
    }

    /**
     * Which of WordNet's three top divisions (the hyponyms of entity.n.01: physical entity, abstraction, thing) the
     * noun synset at {@code offset} lies under, as a bit set: a synset with hypernyms in two divisions has both bits.
     */
    int side(int offset) {
        Integer known = sides.get(offset);
        if (known != null) {
            return known;
        }
        int[] divisions = links(index.get("entity")[0][0]).down;
        int bits = 0;
        for (int i = 0; i < divisions.length; i++) {
            if (divisions[i] == offset) {
                bits = 1 << i;
            }
        }
        for (int up : links(offset).up) {
            bits |= side(up);
        }
        sides.put(offset, bits);
        return bits;
    }

    /**
     * Common nouns: single lower-case words of three or more letters, at their most frequent sense, tagged at least
     * {@code minTags} times in WordNet's sense-tagged corpus (index.sense), in the file's (alphabetical) order.
     */
    List<Noun> commonNouns(int minTags) {
        List<Noun> out = new ArrayList<>();
        for (String line : text(resource("index.sense")).split("\n")) {
            // sense_key synset_offset sense_number tag_cnt; sense_key = lemma%1:lexfile:lexid:: for nouns
            int pct = line.indexOf('%');
            if (pct < 3 || line.length() < pct + 2 || line.charAt(pct + 1) != '1') {
                continue;
            }
            String lemma = line.substring(0, pct);
            if (!lemma.chars().allMatch(c -> c >= 'a' && c <= 'z')) {
                continue;
            }
            String[] f = line.strip().split(" ");
            if (f[2].equals("1") && Integer.parseInt(f[3]) >= minTags) {
                out.add(new Noun(lemma, Integer.parseInt(f[1])));
            }
        }
        return out;
    }

    /** Breadth-first distances over the undirected noun hypernym/hyponym graph (instance links included). */
    Map<Integer, Integer> distances(int start) {
        Map<Integer, Integer> dist = new HashMap<>();
        ArrayDeque<Integer> queue = new ArrayDeque<>();
        dist.put(start, 0);
        queue.add(start);
        while (!queue.isEmpty()) {
            int s = queue.poll();
            int d = dist.get(s);
            Links l = links(s);
            for (int[] direction : new int[][]{l.up, l.down}) {
                for (int t : direction) {
                    if (dist.putIfAbsent(t, d + 1) == null) {
                        queue.add(t);
                    }
                }
            }
        }
        return dist;
    }
}
