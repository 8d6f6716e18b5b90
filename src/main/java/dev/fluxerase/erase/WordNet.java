package dev.fluxerase.erase;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Princeton WordNet 3.0 or 3.1, read from its database files (bundled from the {@code extjwnl-data-wn30} and
 * {@code -wn31} jars), for what
 * EraseAnything asks of WordNet (METHOD.md §5): the synonyms of a key word, as NLTK's
 * {@code {l.name() for s in wordnet.synsets(word) for l in s.lemmas()}} gives them, and, in place of the paper's
 * GPT-4o call, K irrelevant concepts chosen offline by distance in the noun hypernym graph.
 *
 * <p>A synset's offset is the byte offset of its line in {@code data.<pos>}, so lines are parsed where they are
 * needed; only the noun graph is parsed whole (for distances).
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

    /** Candidate irrelevant words: a noun's most frequent sense, tagged at least this often in WordNet's corpus. */
    static final int MIN_TAG_COUNT = 10;

    /** One chosen irrelevant concept: the word, its kind (unrelated, far, mid) and its graph distance. */
    record Choice(String word, String kind, int distance) {
    }

    private final String version;
    private final String root;
    private final byte[][] data = new byte[4][];
    /** lemma → per part of speech its synset offsets in frequency order. */
    private final Map<String, int[][]> index = new HashMap<>();
    private final List<Map<String, List<String>>> exceptions = new ArrayList<>();

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

    /** One parsed data line: its words and its pointers (symbol, target offset, target part of speech). */
    private record Line(List<String> words, List<String> symbols, int[] targets, char[] targetPos) {
    }

    /** data.pos line: offset lex_filenum ss_type w_cnt(hex) [word lex_id]×w_cnt p_cnt [sym offset pos src/tgt]×p_cnt … */
    private Line line(int p, int offset) {
        byte[] d = data[p];
        int end = offset;
        while (end < d.length && d[end] != '\n') {
            end++;
        }
        String[] f = new String(d, offset, end - offset, StandardCharsets.UTF_8).split(" ");
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
        return new Line(names, symbols, targets, pos);
    }

    /**
     * K = 3 irrelevant concepts for {@code keyWord}, chosen offline in place of the paper's GPT-4o call (which asks for
     * a "no relation", a "far" and a "mid" word): distances are shortest paths in the noun graph of hypernym and
     * hyponym links (instance links included, taken both ways) from the key word's most frequent noun sense (or, for
     * a word without a noun sense, the first noun sense among its synonyms). Candidates are common nouns: single
     * lower-case words of three or more letters, at their most frequent sense, tagged at least {@link #MIN_TAG_COUNT}
     * times, that are neither the key word, one of its words nor one of its synonyms. Among the reachable candidates
     * sorted by distance, "unrelated" is at the largest distance, "far" at the 75th percentile and "mid" at the 25th;
     * within a distance the word is drawn with {@code rng} from the alphabetical list.
     */
    List<Choice> irrelevant(String keyWord, List<String> synonyms, Random rng) {
        int start = nounSense(keyWord, synonyms);
        Map<Integer, Integer> dist = distances(start);
        Set<String> excluded = new LinkedHashSet<>();
        for (String s : synonyms) {
            excluded.add(s.toLowerCase(Locale.ROOT));
        }
        excluded.add(keyWord.toLowerCase(Locale.ROOT));
        excluded.addAll(List.of(keyWord.toLowerCase(Locale.ROOT).split("\\s+")));
        List<Choice> pool = new ArrayList<>();
        for (String line : text(resource("index.sense")).split("\n")) {
            // sense_key synset_offset sense_number tag_cnt; sense_key = lemma%1:lexfile:lexid:: for nouns
            int pct = line.indexOf('%');
            if (pct < 3 || line.length() < pct + 2 || line.charAt(pct + 1) != '1') {
                continue;
            }
            String lemma = line.substring(0, pct);
            if (!lemma.chars().allMatch(c -> c >= 'a' && c <= 'z') || excluded.contains(lemma)) {
                continue;
            }
            String[] f = line.strip().split(" ");
            if (!f[2].equals("1") || Integer.parseInt(f[3]) < MIN_TAG_COUNT) {
                continue;
            }
            Integer d = dist.get(Integer.parseInt(f[1]));
            if (d != null && d > 0) {
                pool.add(new Choice(lemma, "", d));
            }
        }
        if (pool.size() < 3) {
            throw new EraseException("WordNet: too few common nouns reachable from \"" + keyWord + "\" to choose"
                    + " irrelevant concepts; list irrelevant_concepts in the run configuration");
        }
        pool.sort(Comparator.comparingInt(Choice::distance).thenComparing(Choice::word));
        List<Choice> out = new ArrayList<>();
        out.add(pick(pool, pool.getLast().distance(), "unrelated", out, rng));
        out.add(pick(pool, pool.get((int) (0.75 * (pool.size() - 1))).distance(), "far", out, rng));
        out.add(pick(pool, pool.get((int) (0.25 * (pool.size() - 1))).distance(), "mid", out, rng));
        return out;
    }

    /** A word at {@code distance} not chosen yet (the next distance down when all there are taken). */
    private static Choice pick(List<Choice> pool, int distance, String kind, List<Choice> taken, Random rng) {
        for (int d = distance; d > 0; d--) {
            int want = d;
            List<Choice> band = pool.stream().filter(c -> c.distance() == want)
                    .filter(c -> taken.stream().noneMatch(t -> t.word().equals(c.word()))).toList();
            if (!band.isEmpty()) {
                Choice c = band.get(rng.nextInt(band.size()));
                return new Choice(c.word(), kind, c.distance());
            }
        }
        throw new EraseException("WordNet: no candidate word left for the \"" + kind + "\" irrelevant concept");
    }

    /** The noun synset distances are measured from. */
    private int nounSense(String keyWord, List<String> synonyms) {
        List<String> tries = new ArrayList<>();
        tries.add(keyWord);
        tries.addAll(synonyms);
        for (String w : tries) {
            for (int[] s : synsets(w)) {
                if (s[0] == 0) {
                    return s[1];
                }
            }
        }
        throw new EraseException("WordNet has no noun for \"" + keyWord + "\" or its synonyms to measure distances"
                + " from; list irrelevant_concepts in the run configuration");
    }

    /** Breadth-first distances over the undirected noun hypernym/hyponym graph (instance links included). */
    private Map<Integer, Integer> distances(int start) {
        Map<Integer, Integer> dist = new HashMap<>();
        ArrayDeque<Integer> queue = new ArrayDeque<>();
        dist.put(start, 0);
        queue.add(start);
        while (!queue.isEmpty()) {
            int s = queue.poll();
            int d = dist.get(s);
            Line l = line(0, s);
            for (int i = 0; i < l.targets.length; i++) {
                String sym = l.symbols.get(i);
                boolean link = sym.equals("@") || sym.equals("@i") || sym.equals("~") || sym.equals("~i");
                if (link && l.targetPos[i] == 'n' && !dist.containsKey(l.targets[i])) {
                    dist.put(l.targets[i], d + 1);
                    queue.add(l.targets[i]);
                }
            }
        }
        return dist;
    }
}
