package dev.fluxerase.text;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The parts of a SentencePiece {@code ModelProto} ({@code spiece.model}) a Unigram tokenizer needs, read straight
 * from the protobuf wire format: the pieces (field 1: piece = 1, score = 2, type = 3), the trainer's model type
 * (2.3) and byte-fallback flag (2.35), and the normalizer's precompiled charsmap (3.2).
 */
record SentencePieceModel(List<String> pieces, float[] scores, int[] types, int modelType, boolean byteFallback,
                          byte[] precompiledCharsmap) {

    static final int TYPE_NORMAL = 1;
    static final int TYPE_UNKNOWN = 2;
    static final int TYPE_CONTROL = 3;
    static final int MODEL_UNIGRAM = 1;

    static SentencePieceModel parse(byte[] bytes, String origin) {
        Reader top = new Reader(bytes, 0, bytes.length, origin);
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        List<Integer> types = new ArrayList<>();
        int modelType = MODEL_UNIGRAM;
        boolean byteFallback = false;
        byte[] charsmap = new byte[0];
        while (top.more()) {
            long tag = top.varint();
            int field = (int) (tag >>> 3);
            int wire = (int) (tag & 7);
            if (field == 1 && wire == 2) {
                Reader p = top.message();
                String piece = null;
                float score = 0f;
                int type = TYPE_NORMAL;
                while (p.more()) {
                    long t = p.varint();
                    switch ((int) (t >>> 3)) {
                        case 1 -> piece = p.string((int) (t & 7));
                        case 2 -> score = p.fixed32Float((int) (t & 7));
                        case 3 -> type = (int) p.varintField((int) (t & 7));
                        default -> p.skip((int) (t & 7));
                    }
                }
                if (piece == null) {
                    throw new TokenizerException(origin + ": piece " + pieces.size() + " has no string");
                }
                pieces.add(piece);
                scores.add(score);
                types.add(type);
            } else if (field == 2 && wire == 2) {
                Reader t = top.message();
                while (t.more()) {
                    long tt = t.varint();
                    switch ((int) (tt >>> 3)) {
                        case 3 -> modelType = (int) t.varintField((int) (tt & 7));
                        case 35 -> byteFallback = t.varintField((int) (tt & 7)) != 0;
                        default -> t.skip((int) (tt & 7));
                    }
                }
            } else if (field == 3 && wire == 2) {
                Reader n = top.message();
                while (n.more()) {
                    long nt = n.varint();
                    if ((nt >>> 3) == 2) {
                        charsmap = n.bytes((int) (nt & 7));
                    } else {
                        n.skip((int) (nt & 7));
                    }
                }
            } else {
                top.skip(wire);
            }
        }
        if (pieces.isEmpty()) {
            throw new TokenizerException(origin + ": no pieces (not a SentencePiece model?)");
        }
        float[] s = new float[scores.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = scores.get(i);
        }
        return new SentencePieceModel(List.copyOf(pieces), s, types.stream().mapToInt(Integer::intValue).toArray(),
                modelType, byteFallback, charsmap);
    }

    /** A protobuf reader over {@code bytes[pos, limit)}; every malformed input ends in a one-line exception. */
    private static final class Reader {
        private final byte[] bytes;
        private final int limit;
        private final String origin;
        private int pos;

        Reader(byte[] bytes, int pos, int limit, String origin) {
            this.bytes = bytes;
            this.pos = pos;
            this.limit = limit;
            this.origin = origin;
        }

        boolean more() {
            return pos < limit;
        }

        long varint() {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (pos >= limit) {
                    throw bad("truncated varint");
                }
                byte b = bytes[pos++];
                v |= (long) (b & 0x7F) << shift;
                if (b >= 0) {
                    return v;
                }
            }
            throw bad("varint longer than 10 bytes");
        }

        long varintField(int wire) {
            expect(wire, 0);
            return varint();
        }

        float fixed32Float(int wire) {
            expect(wire, 5);
            need(4);
            int bits = (bytes[pos] & 0xFF) | (bytes[pos + 1] & 0xFF) << 8 | (bytes[pos + 2] & 0xFF) << 16
                    | (bytes[pos + 3] & 0xFF) << 24;
            pos += 4;
            return Float.intBitsToFloat(bits);
        }

        private int lengthPrefix() {
            long len = varint();
            if (len < 0 || len > limit - pos) {
                throw bad("length " + len + " runs past the end");
            }
            return (int) len;
        }

        Reader message() {
            int len = lengthPrefix();
            Reader r = new Reader(bytes, pos, pos + len, origin);
            pos += len;
            return r;
        }

        byte[] bytes(int wire) {
            expect(wire, 2);
            int len = lengthPrefix();
            byte[] out = new byte[len];
            System.arraycopy(bytes, pos, out, 0, len);
            pos += len;
            return out;
        }

        String string(int wire) {
            return new String(bytes(wire), StandardCharsets.UTF_8);
        }

        void skip(int wire) {
            switch (wire) {
                case 0 -> varint();
                case 1 -> {
                    need(8);
                    pos += 8;
                }
                case 2 -> {
                    int len = lengthPrefix(); // not "pos += lengthPrefix()": that would add to the old pos
                    pos += len;
                }
                case 5 -> {
                    need(4);
                    pos += 4;
                }
                default -> throw bad("unsupported wire type " + wire);
            }
        }

        private void need(int n) {
            if (limit - pos < n) {
                throw bad("truncated field");
            }
        }

        private void expect(int wire, int wanted) {
            if (wire != wanted) {
                throw bad("wire type " + wire + " where " + wanted + " was expected");
            }
        }

        private TokenizerException bad(String what) {
            return new TokenizerException(origin + ": malformed protobuf at byte " + pos + ": " + what);
        }
    }
}
