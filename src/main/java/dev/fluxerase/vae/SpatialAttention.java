package dev.fluxerase.vae;

import dev.fluxerase.tensor.Allocations;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.ConvGeometry;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

/**
 * The mid-block attention: GroupNorm (no swish), then single-head self-attention over the h·w pixels as tokens with
 * q/k/v/out linear layers (BFL: 1×1 convs, same numbers), scale 1/√c, plus the input as residual. Scores are built for
 * a block of queries at a time (GEMM, row softmax, GEMM on row slices of the token matrices) so memory stays bounded
 * (16 MB of scores) at any resolution. Inference only.
 */
final class SpatialAttention {
    private static final int SCORE_FLOATS = 1 << 22;

    private final int c;
    private final Backend be;
    private final GroupNorm norm;
    private final Conv2d q;
    private final Conv2d k;
    private final Conv2d v;
    private final Conv2d out;

    SpatialAttention(int c, GroupNorm norm, Conv2d q, Conv2d k, Conv2d v, Conv2d out, Backend be) {
        this.c = c;
        this.be = be;
        this.norm = norm;
        this.q = q;
        this.k = k;
        this.v = v;
        this.out = out;
    }

    /** Loads {@code prefix} = {@code encoder.mid_block.attentions.0} (diffusers names). */
    static SpatialAttention load(VaeWeights w, Allocations placed, String prefix, int c) {
        return new SpatialAttention(c, GroupNorm.load(w, placed, prefix + ".group_norm", c),
                Conv2d.linear(w, placed, prefix + ".to_q", c), Conv2d.linear(w, placed, prefix + ".to_k", c),
                Conv2d.linear(w, placed, prefix + ".to_v", c), Conv2d.linear(w, placed, prefix + ".to_out.0", c),
                placed.backend());
    }

    /** x + attention(x), computed into x, which the block takes over (as {@link ResnetBlock#forward} does). */
    Tensor forward(Tensor x) {
        return forward(x, SCORE_FLOATS);
    }

    /** {@link #forward(Tensor)} with at most {@code scoreFloats} scores at a time (tests query blocking). */
    Tensor forward(Tensor x, int scoreFloats) {
        Tensor xn = norm.forward(x, false);
        Tensor qm = q.forward(xn, ConvGeometry.POINTWISE);
        Tensor km = k.forward(xn, ConvGeometry.POINTWISE);
        Tensor vm = v.forward(xn, ConvGeometry.POINTWISE);
        be.free(xn);
        long tokens = x.dim(1) * x.dim(2);
        Tensor queries = qm.view(tokens, c);
        Tensor keys = km.view(tokens, c);
        Tensor values = vm.view(tokens, c);
        Tensor attended = be.allocate(DType.F32, x.shape());
        Tensor rows = attended.view(tokens, c);
        long block = Math.max(1, Math.min(tokens, scoreFloats / tokens));
        Tensor scores = be.allocate(DType.F32, block, tokens);
        float scale = (float) (1.0 / Math.sqrt(c));
        for (long t0 = 0; t0 < tokens; t0 += block) {
            long n = Math.min(block, tokens - t0);
            Tensor s = scores.sliceRows(0, n);
            be.gemm(false, true, scale, queries.sliceRows(t0, n), keys, 0f, s);
            be.softmax(s, s);
            be.gemm(false, false, 1f, s, values, 0f, rows.sliceRows(t0, n));
        }
        be.free(scores);
        be.free(qm);
        be.free(km);
        be.free(vm);
        out.accumulate(attended, ConvGeometry.POINTWISE, x);
        be.free(attended);
        return x;
    }
}
