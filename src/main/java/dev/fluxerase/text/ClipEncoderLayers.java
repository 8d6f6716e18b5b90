package dev.fluxerase.text;

import dev.fluxerase.tensor.Allocations;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

/**
 * The pre-LN transformer layers both CLIP towers share (transformers {@code CLIPEncoder}): per layer
 * {@code x += out_proj(MHA(layer_norm1(x)))}, then {@code x += fc2(quick_gelu(fc1(layer_norm2(x))))}, attention scaled
 * by 1/√head_dim with biased q, k, v. The text tower passes its causal mask; the vision tower attends everywhere.
 */
final class ClipEncoderLayers {
    private static final float QUICK_GELU_K = 1.702f;

    private record Layer(Tensor ln1Scale, Tensor ln1Bias, Tensor qW, Tensor qB, Tensor kW, Tensor kB, Tensor vW,
                         Tensor vB, Tensor oW, Tensor oB, Tensor ln2Scale, Tensor ln2Bias, Tensor fc1W, Tensor fc1B,
                         Tensor fc2W, Tensor fc2B) {
    }

    private final Layer[] layers;
    private final int hidden;
    private final int intermediate;
    private final int heads;
    private final float eps;

    /** Reads {@code <prefix>encoder.layers.i.*} for i below {@code count}, each shape-checked against the sizes. */
    ClipEncoderLayers(EncoderWeights w, String prefix, int count, int hidden, int intermediate,
                      int heads, float eps) {
        this.hidden = hidden;
        this.intermediate = intermediate;
        this.heads = heads;
        this.eps = eps;
        long c = hidden;
        long m = intermediate;
        layers = new Layer[count];
        for (int i = 0; i < count; i++) {
            String p = prefix + "encoder.layers." + i + ".";
            layers[i] = new Layer(
                    w.scaleRow(p + "layer_norm1.weight", c), w.get(p + "layer_norm1.bias", c),
                    w.get(p + "self_attn.q_proj.weight", c, c), w.get(p + "self_attn.q_proj.bias", c),
                    w.get(p + "self_attn.k_proj.weight", c, c), w.get(p + "self_attn.k_proj.bias", c),
                    w.get(p + "self_attn.v_proj.weight", c, c), w.get(p + "self_attn.v_proj.bias", c),
                    w.get(p + "self_attn.out_proj.weight", c, c), w.get(p + "self_attn.out_proj.bias", c),
                    w.scaleRow(p + "layer_norm2.weight", c), w.get(p + "layer_norm2.bias", c),
                    w.get(p + "mlp.fc1.weight", m, c), w.get(p + "mlp.fc1.bias", m),
                    w.get(p + "mlp.fc2.weight", c, m), w.get(p + "mlp.fc2.bias", c));
        }
    }

    /**
     * Runs every layer in place on x [B·L, C] (B rows of L positions each). {@code mask} is one additive [L, L] matrix
     * shared by all heads, or null for none. The workspace is allocated once from {@code scratch} and reused by every
     * layer.
     */
    void run(Allocations scratch, Tensor x, int batch, int len, Tensor mask) {
        Backend be = scratch.backend();
        long rows = (long) batch * len;
        Tensor n = scratch.allocate(DType.F32, rows, hidden);
        Tensor normed = scratch.allocate(DType.F32, rows, hidden);
        Tensor q = scratch.allocate(DType.F32, rows, hidden);
        Tensor k = scratch.allocate(DType.F32, rows, hidden);
        Tensor v = scratch.allocate(DType.F32, rows, hidden);
        Tensor ctx = scratch.allocate(DType.F32, rows, hidden);
        Tensor h = scratch.allocate(DType.F32, rows, intermediate);
        int headDim = hidden / heads;
        EncoderOps.Attention attention = new EncoderOps.Attention(scratch, batch, heads, len, headDim);
        Tensor[] additive = mask == null ? null : new Tensor[]{mask};
        float scale = (float) (1 / Math.sqrt(headDim));
        for (Layer l : layers) {
            EncoderOps.layerNorm(be, x, n, l.ln1Scale, l.ln1Bias, normed, eps);
            EncoderOps.linear(be, n, l.qW, l.qB, q);
            EncoderOps.linear(be, n, l.kW, l.kB, k);
            EncoderOps.linear(be, n, l.vW, l.vB, v);
            attention.run(be, q, k, v, ctx, additive, scale);
            EncoderOps.linear(be, ctx, l.oW, l.oB, n);
            be.axpy(1f, n, x);

            EncoderOps.layerNorm(be, x, n, l.ln2Scale, l.ln2Bias, normed, eps);
            EncoderOps.linear(be, n, l.fc1W, l.fc1B, h);
            // quick_gelu(h) = h·σ(1.702h) = silu(1.702h)/1.702; the 1/1.702 rides on fc2's GEMM alpha
            be.scale(h, QUICK_GELU_K);
            be.silu(h, h);
            be.gemm(false, true, 1f / QUICK_GELU_K, h, l.fc2W, 0f, n);
            be.addBias(n, l.fc2B);
            be.axpy(1f, n, x);
        }
    }
}
