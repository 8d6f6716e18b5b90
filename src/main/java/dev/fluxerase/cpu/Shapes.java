package dev.fluxerase.cpu;

import dev.fluxerase.tensor.Tensor;

/** Shape derivation and validation for the ops whose operands are not plain [rows, cols] matrices, shared by both backends. */
final class Shapes {
    private Shapes() {
    }

    /** x [B, T, C] against mod [B, k·C]: batch, tokens per batch, channels and the number of chunks k. */
    record Mod(int batch, long tokens, int channels, int chunks) {
        long modRow() {
            return (long) chunks * channels;
        }
    }

    static Mod mod(String op, Tensor x, Tensor mod, int... chunkIndices) {
        long c = x.cols();
        long b = mod.rows();
        Checks.require(c > 0 && b > 0 && mod.cols() % c == 0 && x.numel() % (b * c) == 0,
                op + ": x " + x + " is not [B, T, C] with B = " + b + " rows of mod " + mod + " and k·C columns");
        long k = mod.cols() / c;
        for (int chunk : chunkIndices) {
            Checks.require(chunk >= 0 && chunk < k, op + ": chunk " + chunk + " outside the " + k + " chunks of mod " + mod);
        }
        Checks.require(c <= Integer.MAX_VALUE && b <= Integer.MAX_VALUE, op + ": mod " + mod + " too large");
        return new Mod((int) b, x.numel() / (b * c), (int) c, (int) k);
    }

    /** x [.., L, D] against cos, sin [L, D/2]: the number of [L, D] slices, L and D. */
    record Rope(long slices, int length, int dim) {
    }

    static Rope rope(String op, Tensor x, Tensor cos, Tensor sin) {
        long l = cos.rows();
        long half = cos.cols();
        Checks.require(sin.rows() == l && sin.cols() == half, op + ": sin " + sin + " differs from cos " + cos);
        Checks.require(x.cols() == 2 * half && l > 0 && x.numel() % (l * 2 * half) == 0,
                op + ": x " + x + " is not [B, H, L, D] for cos [L, D/2] " + cos);
        Checks.require(l <= Integer.MAX_VALUE && half < Integer.MAX_VALUE / 2, op + ": cos " + cos + " too large");
        return new Rope(x.numel() / (l * 2 * half), (int) l, (int) (2 * half));
    }

    /**
     * q [.., Lq, D] and k, v [.., Lk, D] with the same leading dimensions: (batch·heads), Lq, Lk, D. Lq may differ from Lk
     * (the contract's self-attention is the case Lq = Lk).
     */
    record Attn(int heads, int lq, int lk, int dim) {
    }

    static Attn attention(String op, Tensor q, Tensor k, Tensor v) {
        Checks.require(q.rank() >= 2 && k.rank() == q.rank() && v.rank() == q.rank(),
                op + ": q " + q + ", k " + k + ", v " + v + " must be [B, H, L, D]");
        long d = q.cols();
        long lq = q.dim(-2);
        long lk = k.dim(-2);
        for (int i = 0; i < q.rank() - 2; i++) {
            Checks.require(k.dim(i) == q.dim(i) && v.dim(i) == q.dim(i),
                    op + ": q " + q + ", k " + k + ", v " + v + " differ in their leading dimensions");
        }
        Checks.require(lk > 0 || lq == 0, op + ": k " + k + " has no keys for " + lq + " queries");
        Checks.require(k.cols() == d && v.cols() == d && v.dim(-2) == lk,
                op + ": k " + k + " and v " + v + " must be [B, H, Lk, " + d + "]");
        long bh = lq == 0 || d == 0 ? 0 : q.numel() / (lq * d);
        Checks.require(bh <= Integer.MAX_VALUE && lq <= Integer.MAX_VALUE && lk <= Integer.MAX_VALUE
                && d <= Integer.MAX_VALUE, op + ": q " + q + " too large");
        return new Attn((int) bh, (int) lq, (int) lk, (int) d);
    }
}
