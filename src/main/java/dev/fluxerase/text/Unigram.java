package dev.fluxerase.text;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The SentencePiece Unigram model as Hugging Face {@code tokenizers} runs it: Viterbi over every vocabulary piece
 * (best total log-probability), a char no single-char piece covers becomes unk with score
 * {@code min score − 10}, and runs of unk are fused into one unk token.
 */
final class Unigram {

    /** A segment {@code [from, to)} of the word (UTF-16 indices) and its id. */
    record Piece(int from, int to, int id) {
    }

    private static final double UNK_PENALTY = 10.0;

    private final String[] pieces;
    private final double[] scores;
    private final Map<String, Integer> ids;
    private final int unkId;
    private final double unkScore;
    private final int maxPieceChars;

    Unigram(String[] pieces, double[] scores, int unkId, String origin) {
        if (unkId < 0 || unkId >= pieces.length) {
            throw new TokenizerException(origin + ": unk id " + unkId + " is outside the " + pieces.length
                    + "-piece vocabulary");
        }
        this.pieces = pieces;
        this.scores = scores;
        this.unkId = unkId;
        this.ids = new HashMap<>(pieces.length * 2);
        double min = Double.POSITIVE_INFINITY;
        int maxChars = 0;
        for (int id = 0; id < pieces.length; id++) {
            ids.put(pieces[id], id); // a duplicated piece resolves to its last id, as in the reference
            min = Math.min(min, scores[id]);
            maxChars = Math.max(maxChars, pieces[id].length());
        }
        this.unkScore = min - UNK_PENALTY;
        this.maxPieceChars = maxChars;
    }

    int size() {
        return pieces.length;
    }

    String piece(int id) {
        return pieces[id];
    }

    int unkId() {
        return unkId;
    }

    /** The id of a piece, or -1. */
    int id(String piece) {
        return ids.getOrDefault(piece, -1);
    }

    /** The best segmentation of one pre-tokenized word. */
    List<Piece> segment(String word) {
        int n = word.length();
        double[] best = new double[n + 1];
        int[] startOf = new int[n + 1];
        int[] idOf = new int[n + 1];
        Arrays.fill(startOf, -1);
        for (int at = 0; at < n; at = next(word, at)) {
            double here = best[at];
            int charEnd = next(word, at);
            boolean singleChar = false;
            int limit = Math.min(n, at + maxPieceChars);
            for (int to = charEnd; to <= limit; to++) {
                if (to < n && Character.isLowSurrogate(word.charAt(to))) {
                    continue; // not a char boundary
                }
                Integer id = ids.get(word.substring(at, to));
                if (id != null) {
                    double score = here + scores[id];
                    if (startOf[to] < 0 || score > best[to]) {
                        best[to] = score;
                        startOf[to] = at;
                        idOf[to] = id;
                    }
                    singleChar |= to == charEnd;
                }
            }
            if (!singleChar) {
                double score = here + unkScore;
                if (startOf[charEnd] < 0 || score > best[charEnd]) {
                    best[charEnd] = score;
                    startOf[charEnd] = at;
                    idOf[charEnd] = unkId;
                }
            }
        }
        List<Piece> reversed = new ArrayList<>();
        int to = n;
        int unkRunEnd = -1;
        while (to > 0) {
            int from = startOf[to];
            if (idOf[to] == unkId) {
                if (unkRunEnd < 0) {
                    unkRunEnd = to;
                }
            } else {
                if (unkRunEnd >= 0) {
                    reversed.add(fusedUnk(word, to, unkRunEnd));
                    unkRunEnd = -1;
                }
                reversed.add(new Piece(from, to, idOf[to]));
            }
            to = from;
        }
        if (unkRunEnd >= 0) {
            reversed.add(fusedUnk(word, 0, unkRunEnd));
        }
        return reversed.reversed();
    }

    /** The reference looks the fused string up again; it is (in practice always) not a piece, hence unk. */
    private Piece fusedUnk(String word, int from, int to) {
        return new Piece(from, to, ids.getOrDefault(word.substring(from, to), unkId));
    }

    private static int next(String s, int i) {
        return i + Character.charCount(s.codePointAt(i));
    }
}
