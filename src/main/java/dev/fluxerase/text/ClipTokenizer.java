package dev.fluxerase.text;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The CLIP-L byte-level BPE tokenizer exactly as FLUX runs it: transformers 4.x {@code CLIPTokenizer} (the class FLUX's
 * {@code model_index.json} names) in its usual setup without ftfy, where text is cleaned by BERT's
 * {@code BasicTokenizer}. Reads {@code vocab.json} and {@code merges.txt}; thread-safe.
 */
public final class ClipTokenizer {

    /** FLUX feeds CLIP 77 ids: BOS, at most 75 content ids, EOS, then EOS as padding. */
    public static final int CONTEXT_LENGTH = 77;
    static final String START_OF_TEXT = "<|startoftext|>";
    static final String END_OF_TEXT = "<|endoftext|>";
    static final String END_OF_WORD = "</w>";
    /** transformers keeps only the first 49152 − 256 − 2 merges of the file (all of them for CLIP's). */
    private static final int MAX_MERGES = 49152 - 256 - 2;

    /** openai's split; IGNORECASE as in the reference (the text is already lower case, except literal specials). */
    private static final Pattern SPLIT = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
            Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE | Pattern.UNICODE_CHARACTER_CLASS);

    private static final char[] BYTE_TO_UNICODE = bytesToUnicode();
    private static final Map<Character, Integer> UNICODE_TO_BYTE = new HashMap<>();

    static {
        for (int b = 0; b < 256; b++) {
            UNICODE_TO_BYTE.put(BYTE_TO_UNICODE[b], b);
        }
    }

    private final Map<String, Integer> vocab;
    private final String[] idToToken;
    private final Map<String, Integer> mergeRanks;
    private final int bosId;
    private final int eosId;
    private final Map<String, String[]> cache = new ConcurrentHashMap<>();

    private ClipTokenizer(Map<String, Integer> vocab, Map<String, Integer> mergeRanks, Path dir) {
        this.vocab = vocab;
        this.mergeRanks = mergeRanks;
        int max = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
        this.idToToken = new String[max + 1];
        vocab.forEach((t, id) -> idToToken[id] = t);
        this.bosId = special(vocab, START_OF_TEXT, dir);
        this.eosId = special(vocab, END_OF_TEXT, dir);
    }

    private static int special(Map<String, Integer> vocab, String token, Path dir) {
        Integer id = vocab.get(token);
        if (id == null) {
            throw new TokenizerException(dir.resolve("vocab.json") + ": no entry for " + token);
        }
        return id;
    }

    /**
     * Loads the tokenizer from a folder holding {@code vocab.json} and {@code merges.txt}, or from a diffusers FLUX
     * folder whose {@code tokenizer/} subfolder holds them.
     */
    public static ClipTokenizer load(Path folder) {
        Path dir = TokenizerFiles.clipFolder(folder);
        Path vocabFile = TokenizerFiles.file(dir, "vocab.json");
        Path mergesFile = TokenizerFiles.file(dir, "merges.txt");
        Map<String, Integer> vocab = new HashMap<>(1 << 17);
        // Streamed, and without interning 49,408 one-off field names: several times faster than a tree.
        JsonFactory factory = JsonFactory.builder().disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
                .disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES).build();
        try (InputStream in = TokenizerFiles.open(vocabFile); JsonParser p = factory.createParser(in)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new TokenizerException(vocabFile + ": expected a JSON object of token -> id");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String token = p.currentName();
                if (p.nextToken() != JsonToken.VALUE_NUMBER_INT || p.getIntValue() < 0) {
                    throw new TokenizerException(vocabFile + ": id of " + token + " is not a non-negative int");
                }
                vocab.put(token, p.getIntValue());
            }
        } catch (IOException e) {
            throw new TokenizerException(vocabFile + ": cannot read: " + e.getMessage().lines().findFirst().orElse(""),
                    e);
        }
        Map<String, Integer> ranks = new HashMap<>();
        try {
            // transformers: read().strip().split("\n")[1:49152-256-2+1]: the first line is the "#version" header.
            String text;
            try (InputStream in = TokenizerFiles.open(mergesFile)) {
                text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            List<String> lines = Arrays.asList(text.strip().split("\n"));
            List<String> merges = lines.subList(Math.min(1, lines.size()), Math.min(lines.size(), MAX_MERGES + 1));
            for (int rank = 0; rank < merges.size(); rank++) {
                String line = merges.get(rank).strip();
                int space = line.indexOf(' ');
                if (space <= 0 || line.indexOf(' ', space + 1) >= 0) {
                    throw new TokenizerException(mergesFile + ": line " + (rank + 2) + " is not a pair of symbols");
                }
                ranks.putIfAbsent(line, rank);
            }
        } catch (IOException e) {
            throw new TokenizerException(mergesFile + ": cannot read: " + e.getMessage(), e);
        }
        return new ClipTokenizer(vocab, ranks, dir);
    }

    public int bosId() {
        return bosId;
    }

    /** The end-of-text id; FLUX also pads with it, and CLIP pools at its first occurrence. */
    public int eosId() {
        return eosId;
    }

    /** The vocabulary string of an id (a BPE symbol such as {@code cat</w>}). */
    public String tokenText(int id) {
        if (id < 0 || id >= idToToken.length || idToToken[id] == null) {
            throw new IllegalArgumentException("no CLIP token with id " + id);
        }
        return idToToken[id];
    }

    /**
     * The text a token stands for: its symbol's bytes decoded as UTF-8 ({@code cafÃ©</w>} → {@code café}), a
     * partial character as U+FFFD, the end-of-word marker dropped; the two special tokens as themselves.
     */
    public String decode(int id) {
        String symbol = tokenText(id);
        if (id == bosId || id == eosId) {
            return symbol;
        }
        String body = symbol.endsWith(END_OF_WORD) ? symbol.substring(0, symbol.length() - END_OF_WORD.length())
                : symbol;
        byte[] bytes = new byte[body.length()];
        for (int i = 0; i < bytes.length; i++) {
            int b = UNICODE_TO_BYTE.getOrDefault(body.charAt(i), -1);
            if (b < 0) {
                return symbol; // not a byte-level symbol
            }
            bytes[i] = (byte) b;
        }
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** The content tokens of a prompt, without BOS/EOS and untruncated. */
    public List<Token> encode(String text) {
        List<Token> out = new ArrayList<>();
        Matcher m = SPLIT.matcher(clean(text));
        while (m.find()) {
            String piece = m.group();
            if (piece.equals(START_OF_TEXT) || piece.equals(END_OF_TEXT)) {
                out.add(new Token(piece.equals(START_OF_TEXT) ? bosId : eosId, piece));
                continue;
            }
            for (String symbol : cache.computeIfAbsent(byteEncode(piece), this::bpe)) {
                // The reference maps a symbol missing from vocab.json to the unk token (= end of text).
                int id = vocab.getOrDefault(symbol, eosId);
                out.add(new Token(id, idToToken[id]));
            }
        }
        return out;
    }

    /** The content ids of a prompt, without BOS/EOS and untruncated. */
    public int[] contentIds(String text) {
        return encode(text).stream().mapToInt(Token::id).toArray();
    }

    /** The 77 ids FLUX feeds CLIP: {@code [BOS] + content[:75] + [EOS]}, right-padded with EOS. */
    public int[] inputIds(String text) {
        int[] content = contentIds(text);
        int n = Math.min(content.length, CONTEXT_LENGTH - 2);
        int[] ids = new int[CONTEXT_LENGTH];
        Arrays.fill(ids, eosId);
        ids[0] = bosId;
        System.arraycopy(content, 0, ids, 1, n);
        return ids;
    }

    /**
     * transformers' BasicTokenizer(do_lower_case, strip_accents=False, do_split_on_punc=False), joined with single
     * spaces: drops NUL, U+FFFD and category C* except tab/CR/LF; maps those and Zs to a space; spaces out CJK
     * ideographs; NFC; splits on Python whitespace; lower-cases each word as Python's str.lower() does.
     */
    static String clean(String text) {
        StringBuilder sb = new StringBuilder(text.length() + 8);
        text.codePoints().forEach(cp -> {
            if (cp == 0 || cp == 0xFFFD || isControl(cp)) {
                return;
            }
            if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || Character.getType(cp) == Character.SPACE_SEPARATOR) {
                sb.append(' ');
            } else if (isCjkIdeograph(cp)) {
                sb.append(' ').appendCodePoint(cp).append(' ');
            } else {
                sb.appendCodePoint(cp);
            }
        });
        String nfc = Normalizer.normalize(sb, Normalizer.Form.NFC);
        StringBuilder out = new StringBuilder(nfc.length());
        int i = 0;
        while (i < nfc.length()) {
            int cp = nfc.codePointAt(i);
            if (isPythonSpace(cp)) {
                i += Character.charCount(cp);
                continue;
            }
            int start = i;
            while (i < nfc.length() && !isPythonSpace(nfc.codePointAt(i))) {
                i += Character.charCount(nfc.codePointAt(i));
            }
            if (!out.isEmpty()) {
                out.append(' ');
            }
            // Per word, like the reference: the final-sigma rule then sees only this word. Never a Turkish locale.
            out.append(nfc.substring(start, i).toLowerCase(Locale.ROOT));
        }
        return out.toString();
    }

    private static boolean isControl(int cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r') {
            return false;
        }
        int type = Character.getType(cp);
        return type == Character.CONTROL || type == Character.FORMAT || type == Character.SURROGATE
                || type == Character.PRIVATE_USE || type == Character.UNASSIGNED;
    }

    /** BERT's "Chinese character" blocks: CJK unified and compatibility ideographs, not kana or Hangul. */
    private static boolean isCjkIdeograph(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF)
                || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }

    /** Python's str.isspace(), which str.split() uses: bidi class WS, B or S, or category Zs. */
    private static boolean isPythonSpace(int cp) {
        return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85
                || Character.getType(cp) == Character.SPACE_SEPARATOR || cp == 0x2028 || cp == 0x2029;
    }

    /** GPT-2's reversible byte → printable character table. */
    private static char[] bytesToUnicode() {
        char[] table = new char[256];
        boolean[] printable = new boolean[256];
        for (int b = 0; b < 256; b++) {
            printable[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        }
        int next = 256;
        for (int b = 0; b < 256; b++) {
            table[b] = printable[b] ? (char) b : (char) next++;
        }
        return table;
    }

    private static String byteEncode(String piece) {
        byte[] bytes = piece.getBytes(StandardCharsets.UTF_8);
        char[] chars = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            chars[i] = BYTE_TO_UNICODE[bytes[i] & 0xFF];
        }
        return new String(chars);
    }

    private String[] bpe(String word) {
        return bpe(word, mergeRanks).toArray(String[]::new);
    }

    /**
     * CLIP's BPE of one byte-encoded word: its characters, the last marked with {@code </w>}; then the lowest-ranked
     * adjacent pair ({@code "a b"} → rank) is merged everywhere, left to right, until no pair has a rank.
     */
    public static List<String> bpe(String word, Map<String, Integer> mergeRanks) {
        List<String> symbols = new ArrayList<>(word.length());
        for (int i = 0; i < word.length(); i++) {
            symbols.add(String.valueOf(word.charAt(i)));
        }
        symbols.set(symbols.size() - 1, symbols.getLast() + END_OF_WORD);
        while (symbols.size() > 1) {
            int bestRank = Integer.MAX_VALUE;
            String first = null;
            String second = null;
            for (int i = 0; i + 1 < symbols.size(); i++) {
                Integer rank = mergeRanks.get(symbols.get(i) + ' ' + symbols.get(i + 1));
                if (rank != null && rank < bestRank) {
                    bestRank = rank;
                    first = symbols.get(i);
                    second = symbols.get(i + 1);
                }
            }
            if (first == null) {
                break;
            }
            List<String> merged = new ArrayList<>(symbols.size());
            for (int i = 0; i < symbols.size(); i++) {
                if (i + 1 < symbols.size() && symbols.get(i).equals(first) && symbols.get(i + 1).equals(second)) {
                    merged.add(first + second);
                    i++;
                } else {
                    merged.add(symbols.get(i));
                }
            }
            symbols = merged;
        }
        return symbols;
    }
}
