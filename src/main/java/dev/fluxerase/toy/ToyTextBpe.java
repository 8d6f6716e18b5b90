package dev.fluxerase.toy;

import dev.fluxerase.text.ClipTokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * The toy CLIP vocabulary: openai's layout (the 256 byte-level symbols, their {@code </w>} variants, one entry per
 * merge result, then {@code <|startoftext|>} and {@code <|endoftext|>} as the two largest ids) with merges that make
 * every given word one token. The merges are found by running BPE as {@code ClipTokenizer} does: a word that does not
 * come out whole gets merges appended that join its current pieces left to right. Appended merges rank after all
 * earlier ones, so they only act where BPE had stopped, and words already whole stay whole.
 */
final class ToyTextBpe {
    static final String START_OF_TEXT = "<|startoftext|>";
    static final String END_OF_TEXT = "<|endoftext|>";
    private static final String END_OF_WORD = "</w>";

    /** Tokens in id order, and merges ("a b") in rank order. */
    record Vocab(List<String> tokens, List<String> merges) {
        int bosId() {
            return tokens.size() - 2;
        }

        int eosId() {
            return tokens.size() - 1;
        }
    }

    private final Map<String, Integer> ranks = new HashMap<>();
    private final List<String> merges = new ArrayList<>();

    private ToyTextBpe() {
    }

    /** Words are lower-case ASCII letters, so their byte-level symbols are the letters themselves. */
    static Vocab build(List<String> words) {
        ToyTextBpe bpe = new ToyTextBpe();
        for (String word : words) {
            List<String> pieces = bpe.segment(word);
            while (pieces.size() > 1) {
                String joined = pieces.getFirst();
                for (String next : pieces.subList(1, pieces.size())) {
                    String pair = joined + ' ' + next;
                    if (bpe.ranks.putIfAbsent(pair, bpe.merges.size()) == null) {
                        bpe.merges.add(pair);
                    }
                    joined += next;
                }
                pieces = bpe.segment(word);
            }
        }
        LinkedHashSet<String> tokens = new LinkedHashSet<>();
        // GPT-2's bytes_to_unicode maps printable bytes to themselves and the rest to U+0100.. in byte order, so openai's
        // table order (printable bytes first) is simply code point order
        List<String> symbols = new ArrayList<>();
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            if (printable) {
                symbols.add(String.valueOf((char) b));
            }
        }
        for (int c = 256; symbols.size() < 256; c++) {
            symbols.add(String.valueOf((char) c));
        }
        tokens.addAll(symbols);
        symbols.forEach(s -> tokens.add(s + END_OF_WORD));
        for (String m : bpe.merges) {
            tokens.add(m.replace(" ", ""));
        }
        tokens.add(START_OF_TEXT);
        tokens.add(END_OF_TEXT);
        return new Vocab(List.copyOf(tokens), List.copyOf(bpe.merges));
    }

    private List<String> segment(String word) {
        return ClipTokenizer.bpe(word, ranks);
    }
}
