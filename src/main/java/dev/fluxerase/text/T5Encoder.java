package dev.fluxerase.text;

import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Allocations;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.nio.file.Path;

/**
 * The T5 v1.1 encoder (transformers {@code T5EncoderModel}, FLUX.md §5.3), forward only. What sets it apart from a
 * textbook transformer, and what FLUX depends on: the embedding is not scaled; the norms are RMS norms with a scale and no
 * mean or bias; attention scores are NOT divided by √d_kv; one relative position bias, from block 0's table, is added in
 * every block; no attention mask, so padding is attended to; the FFN is wo(gelu_tanh(wi_0·h) ⊙ wi_1·h). It runs on any
 * backend: on the CPU every weight is read in place from the mapped file in its stored dtype, on a device it is copied
 * there in that dtype and freed by {@link #close}.
 */
public final class T5Encoder implements AutoCloseable {

    private record Block(Tensor ln0, Tensor qW, Tensor kW, Tensor vW, Tensor oW, Tensor ln1, Tensor wi0, Tensor wi1,
                         Tensor wo) {
    }

    private final T5Config config;
    private final Backend backend;
    private final TensorSource owned;
    private final EncoderWeights params;
    private final Tensor shared;
    private final Tensor relativeBias;
    private final Block[] blocks;
    private final Tensor finalNorm;
    private final float eps;

    /**
     * Reads {@code config.json} and the safetensors file (or index) of a transformers T5EncoderModel folder, such as FLUX's
     * {@code text_encoder_2/}.
     */
    public static T5Encoder load(Path folder, Backend backend) {
        T5Config config = T5Config.read(folder.resolve("config.json"));
        TensorSource source = Safetensors.open(folder);
        try {
            return new T5Encoder(config, source, backend, true);
        } catch (RuntimeException e) {
            source.close();
            throw e;
        }
    }

    /** An encoder over weights the caller keeps open (and closes) for as long as the encoder is used. */
    public T5Encoder(T5Config config, TensorSource weights, Backend backend) {
        this(config, weights, backend, false);
    }

    private T5Encoder(T5Config config, TensorSource weights, Backend backend, boolean own) {
        this.config = config;
        this.backend = backend;
        EncoderWeights w = new EncoderWeights(weights, backend);
        this.params = w;
        long d = config.dModel();
        long inner = config.innerDim();
        long ff = config.dFf();
        try {
            // FLUX's checkpoint stores only shared.weight; encoder.embed_tokens.weight is the same tensor, tied
            shared = w.getAny(new String[]{"shared.weight", "encoder.embed_tokens.weight"}, config.vocabSize(), d);
            // read on the host once per encode, to build the position bias (positionBias)
            relativeBias = w.host("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                    config.relativeAttentionNumBuckets(), config.numHeads());
            blocks = new Block[config.numLayers()];
            for (int i = 0; i < blocks.length; i++) {
                String a = "encoder.block." + i + ".layer.0.";
                String f = "encoder.block." + i + ".layer.1.";
                blocks[i] = new Block(w.get(a + "layer_norm.weight", d),
                        w.get(a + "SelfAttention.q.weight", inner, d), w.get(a + "SelfAttention.k.weight", inner, d),
                        w.get(a + "SelfAttention.v.weight", inner, d), w.get(a + "SelfAttention.o.weight", d, inner),
                        w.get(f + "layer_norm.weight", d), w.get(f + "DenseReluDense.wi_0.weight", ff, d),
                        w.get(f + "DenseReluDense.wi_1.weight", ff, d), w.get(f + "DenseReluDense.wo.weight", d, ff));
            }
            finalNorm = w.get("encoder.final_layer_norm.weight", d);
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
        eps = (float) config.layerNormEpsilon();
        owned = own ? weights : null;
    }

    public T5Config config() {
        return config;
    }

    /**
     * transformers' bidirectional {@code _relative_position_bucket} for rel = key − query: half the buckets per sign (the
     * upper half for rel > 0); within a half, distances below half of it are exact and the rest log-spaced up to
     * maxDistance, where the last bucket takes everything further.
     */
    public static int relativePositionBucket(int rel, int numBuckets, int maxDistance) {
        int half = numBuckets / 2;
        int bucket = rel > 0 ? half : 0;
        int n = Math.abs(rel);
        int maxExact = half / 2;
        if (n < maxExact) {
            return bucket + n;
        }
        int large = maxExact + (int) (StrictMath.log((double) n / maxExact)
                / StrictMath.log((double) maxDistance / maxExact) * (half - maxExact));
        return bucket + Math.min(large, half - 1);
    }

    /** The position bias [H, L, L]: bias[h, i, j] = relative_attention_bias[bucket(j − i), h], shared by every block. */
    public float[] positionBias(int len) {
        int heads = config.numHeads();
        int nb = config.relativeAttentionNumBuckets();
        float[] table = new float[nb * heads];
        Floats.toF32(relativeBias.data(), relativeBias.dtype(), 0, table, 0, table.length);
        int[] bucketOf = new int[2 * len - 1];
        for (int rel = -(len - 1); rel < len; rel++) {
            bucketOf[rel + len - 1] = relativePositionBucket(rel, nb, config.relativeAttentionMaxDistance());
        }
        float[] bias = new float[heads * len * len];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < len; i++) {
                int row = (h * len + i) * len;
                for (int j = 0; j < len; j++) {
                    bias[row + j] = table[bucketOf[j - i + len - 1] * heads + h];
                }
            }
        }
        return bias;
    }

    /**
     * Encodes B rows of L token ids (padding included, as FLUX passes them) in one pass: last_hidden_state
     * [B, L, d_model], on the encoder's backend and the caller's to free.
     */
    public Tensor encode(int[][] ids) {
        EncoderOps.checkIds(ids, Integer.MAX_VALUE, "T5 encoder");
        Backend be = backend;
        int batch = ids.length;
        int len = ids[0].length;
        long rows = (long) batch * len;
        int d = config.dModel();
        int heads = config.numHeads();
        Tensor out = be.allocate(DType.F32, batch, len, d);
        try (Allocations scratch = new Allocations(be)) {
            Tensor x = scratch.allocate(DType.F32, rows, d);
            Tensor n = scratch.allocate(DType.F32, rows, d);
            Tensor q = scratch.allocate(DType.F32, rows, config.innerDim());
            Tensor k = scratch.allocate(DType.F32, rows, config.innerDim());
            Tensor v = scratch.allocate(DType.F32, rows, config.innerDim());
            Tensor ctx = scratch.allocate(DType.F32, rows, config.innerDim());
            Tensor h0 = scratch.allocate(DType.F32, rows, config.dFf());
            Tensor h1 = scratch.allocate(DType.F32, rows, config.dFf());
            EncoderOps.Attention attention = new EncoderOps.Attention(scratch, batch, heads, len, config.dKv());
            Tensor bias = scratch.upload(positionBias(len), heads, len, len);
            Tensor[] perHead = new Tensor[heads];
            for (int h = 0; h < heads; h++) {
                perHead[h] = bias.sliceRows(h, 1).view(len, len);
            }

            EncoderOps.embed(be, shared, ids, x);
            for (Block b : blocks) {
                be.rmsNorm(x, b.ln0, n, null, eps);
                EncoderOps.linear(be, n, b.qW, null, q);
                EncoderOps.linear(be, n, b.kW, null, k);
                EncoderOps.linear(be, n, b.vW, null, v);
                attention.run(be, q, k, v, ctx, perHead, 1f);
                EncoderOps.linear(be, ctx, b.oW, null, n);
                be.axpy(1f, n, x);

                be.rmsNorm(x, b.ln1, n, null, eps);
                EncoderOps.linear(be, n, b.wi0, null, h0);
                EncoderOps.linear(be, n, b.wi1, null, h1);
                be.geluTanh(h0, h0);
                be.mul(h0, h1, h0);
                EncoderOps.linear(be, h0, b.wo, null, n);
                be.axpy(1f, n, x);
            }
            be.rmsNorm(x, finalNorm, out.view(rows, d), null, eps);
        }
        return out;
    }

    /** Frees the weights' device copies and closes the file when this encoder opened it. */
    @Override
    public void close() {
        params.close();
        if (owned != null) {
            owned.close();
        }
    }
}
