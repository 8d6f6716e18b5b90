package dev.fluxerase.text;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.text.BreakIterator;
import java.util.Locale;

/**
 * SentencePiece's compiled normalisation rules ({@code precompiled_charsmap}, for T5 the nmt_nfkc table), applied
 * the way Hugging Face {@code tokenizers}' {@code Precompiled} normalizer applies them.
 *
 * <p>The blob is a little-endian u32 trie size, a darts-clone double-array trie over UTF-8 bytes whose values are
 * offsets into the rest of the blob, and that rest: NUL-terminated replacement strings.
 */
final class PrecompiledCharsmap {

    private final int[] units;
    private final byte[] replacements;

    PrecompiledCharsmap(byte[] blob, String origin) {
        if (blob.length < 4) {
            throw new TokenizerException(origin + ": precompiled_charsmap is " + blob.length + " bytes, too short");
        }
        ByteBuffer bb = ByteBuffer.wrap(blob).order(ByteOrder.LITTLE_ENDIAN);
        long trieBytes = Integer.toUnsignedLong(bb.getInt());
        if (trieBytes % 4 != 0 || trieBytes > blob.length - 4L) {
            throw new TokenizerException(origin + ": precompiled_charsmap trie size " + trieBytes
                    + " does not fit its " + blob.length + "-byte blob");
        }
        units = new int[(int) (trieBytes / 4)];
        bb.asIntBuffer().get(units);
        replacements = new byte[blob.length - 4 - (int) trieBytes];
        bb.position(4 + (int) trieBytes);
        bb.get(replacements);
    }

    /**
     * The replacement for {@code chunk}, or null when the rules leave it alone. Like the reference this takes the
     * first (shortest) key that is a prefix of the chunk, and the caller replaces the whole chunk with it.
     */
    String transform(String chunk) {
        int offset = firstPrefixValue(chunk.getBytes(StandardCharsets.UTF_8));
        if (offset < 0) {
            return null;
        }
        int stop = offset;
        while (stop < replacements.length && replacements[stop] != 0) {
            stop++;
        }
        return new String(replacements, offset, stop - offset, StandardCharsets.UTF_8);
    }

    /** darts-clone common-prefix search, stopping at the first key found (or at a NUL byte, as darts does). */
    private int firstPrefixValue(byte[] key) {
        if (units.length == 0) {
            return -1;
        }
        int node = offset(units[0]);
        for (byte k : key) {
            int c = k & 0xFF;
            if (c == 0) {
                return -1;
            }
            node ^= c;
            if (node < 0 || node >= units.length) {
                return -1;
            }
            int unit = units[node];
            if ((unit & 0x800000FF) != c) {
                return -1;
            }
            node ^= offset(unit);
            if (((unit >>> 8) & 1) == 1) {
                return node < units.length ? units[node] & 0x7FFFFFFF : -1;
            }
        }
        return -1;
    }

    private static int offset(int unit) {
        return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
    }

    /**
     * tokenizers' rule: each extended grapheme cluster shorter than 6 UTF-8 bytes is looked up whole; a cluster that
     * is longer or not found is looked up one code point at a time. Replacement chars span their source cluster or
     * code point.
     */
    SpannedText normalize(SpannedText in) {
        String s = in.text();
        BreakIterator graphemes = BreakIterator.getCharacterInstance(Locale.ROOT);
        graphemes.setText(s);
        SpannedText.Builder out = new SpannedText.Builder();
        int from = graphemes.first();
        for (int to = graphemes.next(); to != BreakIterator.DONE; from = to, to = graphemes.next()) {
            String cluster = s.substring(from, to);
            String whole = cluster.getBytes(StandardCharsets.UTF_8).length < 6 ? transform(cluster) : null;
            if (whole != null) {
                out.append(whole, in.start(from), in.end(to - 1));
                continue;
            }
            for (int i = from; i < to; ) {
                int n = Character.charCount(s.codePointAt(i));
                String repl = transform(s.substring(i, i + n));
                if (repl != null) {
                    out.append(repl, in.start(i), in.end(i + n - 1));
                } else {
                    out.append(in, i, i + n);
                }
                i += n;
            }
        }
        return out.build();
    }
}
