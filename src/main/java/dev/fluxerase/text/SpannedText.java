package dev.fluxerase.text;

import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Text under normalisation that remembers, for every UTF-16 char, which chars of the original prompt it came from
 * ({@code [start, end)}; an inserted char has {@code start == end}). This is what lets a token be traced back to the
 * words of the prompt (keyword positions).
 */
final class SpannedText {

    private final String text;
    private final int[] start;
    private final int[] end;

    private SpannedText(String text, int[] start, int[] end) {
        this.text = text;
        this.start = start;
        this.end = end;
    }

    /** {@code original[from, to)}, each char spanning itself. */
    static SpannedText of(String original, int from, int to) {
        int n = to - from;
        int[] s = new int[n];
        int[] e = new int[n];
        for (int i = 0; i < n; i++) {
            s[i] = from + i;
            e[i] = from + i + 1;
        }
        return new SpannedText(original.substring(from, to), s, e);
    }

    String text() {
        return text;
    }

    int length() {
        return text.length();
    }

    int start(int i) {
        return start[i];
    }

    int end(int i) {
        return end[i];
    }

    SpannedText substring(int from, int to) {
        return new SpannedText(text.substring(from, to), Arrays.copyOfRange(start, from, to),
                Arrays.copyOfRange(end, from, to));
    }

    /** Accumulates replacement text; every appended char gets the span passed with it. */
    static final class Builder {
        private final StringBuilder sb = new StringBuilder();
        private int[] start = new int[16];
        private int[] end = new int[16];

        Builder append(CharSequence s, int spanStart, int spanEnd) {
            for (int i = 0; i < s.length(); i++) {
                append(s.charAt(i), spanStart, spanEnd);
            }
            return this;
        }

        /** Appends {@code src[from, to)} keeping its spans. */
        Builder append(SpannedText src, int from, int to) {
            for (int i = from; i < to; i++) {
                append(src.text.charAt(i), src.start[i], src.end[i]);
            }
            return this;
        }

        private void append(char c, int spanStart, int spanEnd) {
            if (sb.length() == start.length) {
                start = Arrays.copyOf(start, start.length * 2);
                end = Arrays.copyOf(end, end.length * 2);
            }
            start[sb.length()] = spanStart;
            end[sb.length()] = spanEnd;
            sb.append(c);
        }

        SpannedText build() {
            int n = sb.length();
            return new SpannedText(sb.toString(), Arrays.copyOf(start, n), Arrays.copyOf(end, n));
        }
    }

    /** Every match of {@code pattern} becomes {@code replacement}, spanning what the match spanned. */
    SpannedText replaceAll(Pattern pattern, String replacement) {
        Matcher m = pattern.matcher(text);
        if (!m.find()) {
            return this;
        }
        Builder b = new Builder();
        int last = 0;
        do {
            b.append(this, last, m.start());
            int spanStart = m.start() < m.end() ? start[m.start()] : spanAt(m.start());
            int spanEnd = m.start() < m.end() ? end[m.end() - 1] : spanStart;
            b.append(replacement, spanStart, spanEnd);
            last = m.end();
        } while (m.find());
        return b.append(this, last, text.length()).build();
    }

    /** Drops leading and/or trailing chars with the Unicode White_Space property (Rust's char::is_whitespace). */
    SpannedText strip(boolean left, boolean right) {
        int from = 0;
        int to = text.length();
        while (left && from < to && isWhiteSpace(text.codePointAt(from))) {
            from += Character.charCount(text.codePointAt(from));
        }
        while (right && to > from && isWhiteSpace(text.codePointBefore(to))) {
            to -= Character.charCount(text.codePointBefore(to));
        }
        return from == 0 && to == text.length() ? this : substring(from, to);
    }

    /** Where an insertion at {@code i} points in the original: the start of the char there, else the end of the last. */
    int spanAt(int i) {
        if (i < start.length) {
            return start[i];
        }
        return i > 0 ? end[i - 1] : 0;
    }

    static boolean isWhiteSpace(int cp) {
        return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680
                || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F
                || cp == 0x3000;
    }
}
