package dev.fluxerase.text;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * The T5 v1.1 SentencePiece Unigram tokenizer exactly as diffusers' FLUX pipeline runs it (transformers 4.x
 * {@code T5TokenizerFast} over FLUX's {@code tokenizer_2/tokenizer.json}): special tokens are cut out of the raw text
 * first; each piece between them is normalised (precompiled nmt_nfkc rules, strip right, runs of 2+ spaces → ▁),
 * pre-tokenized by Metaspace and segmented by Unigram Viterbi; {@code </s>} is appended. Thread-safe.
 */
public final class T5Tokenizer {

    /** FLUX.1-dev's T5 length (diffusers uses it for schnell too; BFL uses 256 for schnell). */
    public static final int DEFAULT_LENGTH = 512;

    /** Metaspace pre-tokenizer: when to put the replacement char in front of a piece of text. */
    enum Prepend { ALWAYS, FIRST, NEVER }

    /**
     * A content token: the prompt chars {@code [start, end)} it came from (-1 when it is made only of ▁ markers),
     * and the index of the pre-tokenized word (or special token) it belongs to.
     */
    record SpannedToken(int id, int start, int end, boolean marker, int word) {
    }

    private static final Pattern SPACE = Pattern.compile(" ");

    private final Unigram model;
    private final List<UnaryOperator<SpannedText>> normalizers;
    private final char metaspace;
    private final Prepend prepend;
    private final boolean splitOnMetaspace;
    /** Special tokens cut out of the raw text, by content; matched leftmost-longest. */
    private final Map<String, Integer> specials;
    private final Map<Integer, String> specialText;
    /** The chars special tokens start with: most positions are ruled out by one lookup. */
    private final String specialFirstChars;
    private final int[] prefix;
    private final int[] suffix;
    private final int padId;
    private final String source;

    T5Tokenizer(Unigram model, List<UnaryOperator<SpannedText>> normalizers, char metaspace, Prepend prepend,
                boolean splitOnMetaspace, Map<String, Integer> specials, int[] prefix, int[] suffix, int padId,
                String source) {
        this.model = model;
        this.normalizers = List.copyOf(normalizers);
        this.metaspace = metaspace;
        this.prepend = prepend;
        this.splitOnMetaspace = splitOnMetaspace;
        this.specials = Map.copyOf(specials);
        this.specialText = new HashMap<>();
        specials.forEach((text, id) -> specialText.put(id, text));
        this.specialFirstChars = specials.keySet().stream().map(k -> k.substring(0, 1)).distinct()
                .collect(Collectors.joining());
        this.prefix = prefix.clone();
        this.suffix = suffix.clone();
        this.padId = padId;
        this.source = source;
    }

    /**
     * Loads {@code tokenizer.json}, or else {@code spiece.model} (either may be gzipped, NAME.gz), from a folder, from
     * the {@code tokenizer_2/} subfolder of a diffusers FLUX folder, or from the file itself.
     */
    public static T5Tokenizer load(Path folderOrFile) {
        Path file = TokenizerFiles.t5File(folderOrFile);
        String name = file.getFileName().toString();
        try (InputStream in = TokenizerFiles.open(file)) {
            byte[] bytes = in.readAllBytes();
            return name.endsWith(".model") || name.endsWith(".model" + TokenizerFiles.GZ)
                    ? TokenizerJson.fromSentencePiece(bytes, file.toString())
                    : TokenizerJson.fromJson(bytes, file.toString());
        } catch (IOException e) {
            throw new TokenizerException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** The file the tokenizer was read from. */
    public String source() {
        return source;
    }

    public int padId() {
        return padId;
    }

    public int unkId() {
        return model.unkId();
    }

    /** The piece of an id ({@code ▁cat}, {@code </s>}, {@code <extra_id_0>}, ...). */
    public String tokenText(int id) {
        if (id >= 0 && id < model.size()) {
            return model.piece(id);
        }
        String s = specialText.get(id);
        if (s == null) {
            throw new IllegalArgumentException("no T5 token with id " + id);
        }
        return s;
    }

    /** All ids of a prompt, untruncated, with the template's special tokens ({@code </s>} at the end for T5). */
    public int[] ids(String text) {
        int[] content = content(text).stream().mapToInt(SpannedToken::id).toArray();
        int[] out = Arrays.copyOf(prefix, prefix.length + content.length + suffix.length);
        System.arraycopy(content, 0, out, prefix.length, content.length);
        System.arraycopy(suffix, 0, out, prefix.length + content.length, suffix.length);
        return out;
    }

    /** {@link #ids} as tokens. */
    public List<Token> encode(String text) {
        return Arrays.stream(ids(text)).mapToObj(id -> new Token(id, tokenText(id))).toList();
    }

    /**
     * The {@code length} ids FLUX feeds T5: the content cut to {@code length − 1} ids (before {@code </s>} is
     * appended, never after), then {@code </s>}, then {@code <pad>} up to {@code length}.
     */
    public int[] inputIds(String text, int length) {
        int room = length - prefix.length - suffix.length;
        if (room < 0) {
            throw new IllegalArgumentException("T5 length " + length + " leaves no room for the "
                    + (prefix.length + suffix.length) + " special tokens");
        }
        int[] content = content(text).stream().limit(room).mapToInt(SpannedToken::id).toArray();
        int[] out = new int[length];
        Arrays.fill(out, padId);
        System.arraycopy(prefix, 0, out, 0, prefix.length);
        System.arraycopy(content, 0, out, prefix.length, content.length);
        System.arraycopy(suffix, 0, out, prefix.length + content.length, suffix.length);
        return out;
    }

    /**
     * Positions in the padded sequence ({@link #inputIds}) of the tokens that come from the keyword's words in the
     * prompt. The keyword matches whole words, case-insensitively, wherever it occurs (its words may be separated by
     * any whitespace). A token belongs to the keyword when the prompt chars it was made from overlap an occurrence;
     * a bare {@code ▁} token belongs with the token after it in the same word. Tokens cut by truncation are left out.
     */
    public int[] keywordPositions(String prompt, String keyword, int length) {
        List<int[]> occurrences = occurrences(prompt, keyword);
        List<SpannedToken> tokens = content(prompt);
        int kept = Math.max(0, Math.min(tokens.size(), length - prefix.length - suffix.length));
        boolean[] belongs = new boolean[kept];
        for (int k = kept - 1; k >= 0; k--) {
            SpannedToken t = tokens.get(k);
            if (t.marker()) {
                belongs[k] = k + 1 < kept && belongs[k + 1] && tokens.get(k + 1).word() == t.word();
            } else {
                for (int[] o : occurrences) {
                    belongs[k] |= t.start() >= 0 && t.start() < o[1] && o[0] < t.end();
                }
            }
        }
        return IntStream.range(0, kept).filter(k -> belongs[k]).map(k -> prefix.length + k).toArray();
    }

    /**
     * The positions the EraseAnything release computes ({@code utils/find_token.py}): for every non-pad id of the
     * padded keyword tokenisation, its {@code </s>} included, every position of that id in the padded prompt, in
     * keyword-token order; then the last collected position is dropped (that removes the {@code </s>} match). A
     * sub-token that repeats is matched everywhere it occurs, duplicates included.
     */
    public int[] releasedCodePositions(String prompt, String keyword, int length) {
        int[] promptIds = inputIds(prompt, length);
        List<Integer> found = new ArrayList<>();
        for (int id : inputIds(keyword, length)) {
            if (id == padId) {
                continue;
            }
            for (int p = 0; p < promptIds.length; p++) {
                if (promptIds[p] == id) {
                    found.add(p);
                }
            }
        }
        return found.stream().limit(Math.max(0, found.size() - 1)).mapToInt(Integer::intValue).toArray();
    }

    private static List<int[]> occurrences(String prompt, String keyword) {
        if (keyword.isBlank()) {
            throw new IllegalArgumentException("the keyword is empty");
        }
        String[] words = keyword.strip().split("\\s+");
        StringBuilder re = new StringBuilder("(?<![\\p{L}\\p{N}])");
        for (int i = 0; i < words.length; i++) {
            re.append(i == 0 ? "" : "\\s+").append(Pattern.quote(words[i]));
        }
        re.append("(?![\\p{L}\\p{N}])");
        Matcher m = Pattern.compile(re.toString(), Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE
                | Pattern.UNICODE_CHARACTER_CLASS).matcher(prompt);
        List<int[]> out = new ArrayList<>();
        while (m.find()) {
            out.add(new int[]{m.start(), m.end()});
        }
        return out;
    }

    /** The content tokens (no template specials), untruncated, each with the prompt chars it came from. */
    List<SpannedToken> content(String text) {
        List<SpannedToken> out = new ArrayList<>();
        int segmentStart = 0;
        int i = 0;
        while (i < text.length()) {
            String special = longestSpecialAt(text, i);
            if (special == null) {
                i++;
                continue;
            }
            segment(text, segmentStart, i, out);
            out.add(new SpannedToken(specials.get(special), i, i + special.length(), false, nextWord(out)));
            i += special.length();
            segmentStart = i;
        }
        segment(text, segmentStart, text.length(), out);
        return out;
    }

    private String longestSpecialAt(String text, int i) {
        if (specialFirstChars.indexOf(text.charAt(i)) < 0) {
            return null;
        }
        String best = null;
        for (String s : specials.keySet()) {
            if ((best == null || s.length() > best.length()) && text.startsWith(s, i)) {
                best = s;
            }
        }
        return best;
    }

    /** Normalises, pre-tokenizes and segments the text between two special tokens. */
    private void segment(String text, int from, int to, List<SpannedToken> out) {
        if (from == to) {
            return;
        }
        SpannedText t = SpannedText.of(text, from, to);
        for (UnaryOperator<SpannedText> n : normalizers) {
            t = n.apply(t);
        }
        t = t.replaceAll(SPACE, String.valueOf(metaspace));
        if (t.length() > 0 && t.text().charAt(0) != metaspace
                && (prepend == Prepend.ALWAYS || (prepend == Prepend.FIRST && from == 0))) {
            int at = t.spanAt(0);
            t = new SpannedText.Builder().append(String.valueOf(metaspace), at, at).append(t, 0, t.length()).build();
        }
        int wordStart = 0;
        for (int k = 1; k <= t.length(); k++) {
            if (k == t.length() || (splitOnMetaspace && t.text().charAt(k) == metaspace)) {
                word(t, wordStart, k, out);
                wordStart = k;
            }
        }
    }

    private static int nextWord(List<SpannedToken> out) {
        return out.isEmpty() ? 0 : out.getLast().word() + 1;
    }

    private void word(SpannedText t, int from, int to, List<SpannedToken> out) {
        String word = t.text().substring(from, to);
        int index = nextWord(out);
        for (Unigram.Piece p : model.segment(word)) {
            int start = -1;
            int end = -1;
            for (int c = from + p.from(); c < from + p.to(); c++) {
                if (t.text().charAt(c) != metaspace && t.start(c) < t.end(c)) {
                    start = start < 0 ? t.start(c) : Math.min(start, t.start(c));
                    end = Math.max(end, t.end(c));
                }
            }
            boolean marker = word.substring(p.from(), p.to()).chars().allMatch(c -> c == metaspace);
            out.add(new SpannedToken(p.id(), start, end, marker, index));
        }
    }
}
