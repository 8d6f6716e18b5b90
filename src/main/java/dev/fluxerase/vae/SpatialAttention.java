package dev.fluxerase.vae;

import dev.fluxerase.cpu.CpuGemm;
import dev.fluxerase.cpu.DetMath;
import dev.fluxerase.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The mid-block attention: GroupNorm (no swish), then single-head self-attention over the h·w pixels as tokens with
 * q/k/v/out linear layers (BFL: 1×1 convs, same numbers), scale 1/√c, plus the input as residual. Scores are built for
 * a block of queries at a time so memory stays bounded (16 MB of scores) at any resolution. Inference only.
 */
final class SpatialAttention {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int SCORE_FLOATS = 1 << 22;

    private final int c;
    private final GroupNorm norm;
    private final Conv2d q;
    private final Conv2d k;
    private final Conv2d v;
    private final Conv2d out;

    SpatialAttention(int c, GroupNorm norm, Conv2d q, Conv2d k, Conv2d v, Conv2d out) {
        this.c = c;
        this.norm = norm;
        this.q = q;
        this.k = k;
        this.v = v;
        this.out = out;
    }

    /** Loads {@code prefix} = {@code encoder.mid_block.attentions.0} (diffusers names). */
    static SpatialAttention load(VaeWeights w, String prefix, int c) {
        return new SpatialAttention(c, GroupNorm.load(w, prefix + ".group_norm", c), linear(w, prefix + ".to_q", c),
                linear(w, prefix + ".to_k", c), linear(w, prefix + ".to_v", c), linear(w, prefix + ".to_out.0", c));
    }

    // a linear layer over tokens is a 1×1 conv over the channels-last map
    private static Conv2d linear(VaeWeights w, String prefix, int c) {
        return new Conv2d(c, c, 1, w.linear(prefix + ".weight", c, c), w.vector(prefix + ".bias", c));
    }

    FeatureMap forward(FeatureMap x) {
        return forward(x, SCORE_FLOATS);
    }

    /** {@link #forward(FeatureMap)} with at most {@code scoreFloats} scores at a time (tests query blocking). */
    FeatureMap forward(FeatureMap x, int scoreFloats) {
        FeatureMap xn = norm.forward(x, false);
        FeatureMap qm = q.forward(xn, null, null);
        FeatureMap km = k.forward(xn, null, null);
        FeatureMap vm = v.forward(xn, null, null);
        int tokens = x.pixels();
        Tensor keys = Conv2d.matrix(km.data, 0, tokens, c);
        Tensor values = Conv2d.matrix(vm.data, 0, tokens, c);
        FeatureMap attended = new FeatureMap(x.h, x.w, c);
        int block = Math.max(1, Math.min(tokens, scoreFloats / tokens));
        float[] scores = new float[block * tokens];
        float scale = (float) (1.0 / Math.sqrt(c));
        for (int t0 = 0; t0 < tokens; t0 += block) {
            int n = Math.min(block, tokens - t0);
            Tensor s = Conv2d.matrix(scores, 0, n, tokens);
            CpuGemm.gemm(false, true, scale, Conv2d.matrix(qm.data, (long) t0 * c, n, c), keys, 0f, s);
            Par.range(n, tokens, (lo, hi) -> softmaxRows(scores, tokens, lo, hi));
            CpuGemm.gemm(false, false, 1f, s, values, 0f, Conv2d.matrix(attended.data, (long) t0 * c, n, c));
        }
        return out.forward(attended, null, x);
    }

    /** Rows [lo, hi) of a [*, n] score matrix, in place: exp(s − max) / Σ. */
    private static void softmaxRows(float[] s, int n, int lo, int hi) {
        int bound = F.loopBound(n);
        for (int r = lo; r < hi; r++) {
            int base = r * n;
            float max = Float.NEGATIVE_INFINITY;
            int i = 0;
            if (bound > 0) {
                FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
                for (; i < bound; i += F.length()) {
                    mv = mv.max(FloatVector.fromArray(F, s, base + i));
                }
                max = mv.reduceLanes(VectorOperators.MAX);
            }
            for (; i < n; i++) {
                max = Math.max(max, s[base + i]);
            }
            // lane-wise partial sums, then the lanes in order: reduceLanes(ADD) may reorder, and differently per JIT tier
            FloatVector acc = FloatVector.zero(F);
            i = 0;
            for (; i < bound; i += F.length()) {
                FloatVector e = DetMath.exp(FloatVector.fromArray(F, s, base + i).sub(max));
                e.intoArray(s, base + i);
                acc = acc.add(e);
            }
            double sum = 0;
            for (int lane = 0; lane < F.length(); lane++) {
                sum += acc.lane(lane);
            }
            for (; i < n; i++) {
                float e = DetMath.exp(s[base + i] - max);
                s[base + i] = e;
                sum += e;
            }
            float inv = (float) (1.0 / sum);
            i = 0;
            for (; i < bound; i += F.length()) {
                FloatVector.fromArray(F, s, base + i).mul(inv).intoArray(s, base + i);
            }
            for (; i < n; i++) {
                s[base + i] *= inv;
            }
        }
    }
}
