package dev.fluxerase.flux;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Tensor;

/**
 * The data movements of the model, all as {@link Backend#copyStrided}: head split and merge between token-major
 * [B, T, width] and the joint head-major [B, heads, L, Dh] (text first), token ranges (text-first concatenation of the
 * single-stream input and its split), and column ranges (the single block's [attention | mlp] input). The adjoint of
 * each is the same copy in the other direction with accumulate set.
 */
final class Copies {
    private Copies() {
    }

    /**
     * Columns [colOff, colOff + heads·Dh) of token-major {@code tok} [B, T, rowStride] ⇄ tokens [tokOff, tokOff + T) of
     * {@code joint} [B, heads, L, Dh]. toJoint picks the direction.
     */
    static void heads(Backend be, Tensor tok, long rowStride, long colOff, Tensor joint, long tokOff, boolean toJoint,
                      boolean accumulate) {
        long b = joint.dim(0);
        long nh = joint.dim(1);
        long l = joint.dim(2);
        long dh = joint.dim(3);
        long t = tok.numel() / (b * rowStride);
        long[] sizes = {b, t, nh, dh};
        long[] tokStrides = {t * rowStride, rowStride, dh, 1};
        long[] jointStrides = {nh * l * dh, dh, l * dh, 1};
        if (toJoint) {
            be.copyStrided(tok, colOff, tokStrides, joint, tokOff * dh, jointStrides, sizes, accumulate);
        } else {
            be.copyStrided(joint, tokOff * dh, jointStrides, tok, colOff, tokStrides, sizes, accumulate);
        }
    }

    /** Tokens [srcTok, srcTok + count) of src [B, Ts, C] → tokens [dstTok, dstTok + count) of dst [B, Td, C]. */
    static void tokens(Backend be, Tensor src, long srcTok, Tensor dst, long dstTok, long count, boolean accumulate) {
        long b = src.dim(0);
        long c = src.dim(2);
        be.copyStrided(src, srcTok * c, new long[]{0, src.dim(1) * c, c, 1}, dst, dstTok * c,
                new long[]{0, dst.dim(1) * c, c, 1}, new long[]{1, b, count, c}, accumulate);
    }

    /** Columns [srcCol, srcCol + width) of every row of src → columns [dstCol, dstCol + width) of dst (same rows). */
    static void columns(Backend be, Tensor src, long srcCol, Tensor dst, long dstCol, long width, boolean accumulate) {
        be.copyStrided(src, srcCol, new long[]{0, 0, src.cols(), 1}, dst, dstCol, new long[]{0, 0, dst.cols(), 1},
                new long[]{1, 1, src.rows(), width}, accumulate);
    }
}
