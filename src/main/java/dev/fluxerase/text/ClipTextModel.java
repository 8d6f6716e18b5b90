package dev.fluxerase.text;

import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Allocations;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

import java.nio.file.Path;

/**
 * The CLIP text transformer (transformers {@code CLIPTextModel}, FLUX.md §5.2), forward only: token plus position
 * embeddings, pre-LN layers with causal attention (scale 1/√head_dim) and a quick-GELU MLP, a final LayerNorm, and the
 * pooled output that FLUX feeds the transformer as {@code pooled_projections}. It runs on any backend: on the CPU the
 * weights are read in place from the mapped file in their stored dtype (F32, BF16 or F16), on a device they are copied
 * there in that dtype and freed by {@link #close}; only the LayerNorm scales are widened to small F32 rows.
 */
public final class ClipTextModel implements AutoCloseable {
    private static final String PREFIX = "text_model.";

    /**
     * lastHiddenState [B, L, hidden] after the final LayerNorm; pooled [B, hidden] (no projection). Both are on the
     * model's backend and the caller's to free.
     */
    public record Output(Tensor lastHiddenState, Tensor pooled) {
    }

    private final ClipTextConfig config;
    private final Backend backend;
    private final TensorSource owned;
    private final EncoderWeights params;
    private final Tensor tokenEmbedding;
    private final Tensor positionEmbedding;
    private final ClipEncoderLayers layers;
    private final Tensor finalScale;
    private final Tensor finalBias;
    private final float eps;

    /** Reads {@code config.json} and the one safetensors file (or index) of a transformers CLIPTextModel folder. */
    public static ClipTextModel load(Path folder, Backend backend) {
        ClipTextConfig config = ClipTextConfig.read(folder.resolve("config.json"));
        TensorSource source = Safetensors.open(folder);
        try {
            return new ClipTextModel(config, source, backend, true);
        } catch (RuntimeException e) {
            source.close();
            throw e;
        }
    }

    /** A model over weights the caller keeps open (and closes) for as long as the model is used. */
    public ClipTextModel(ClipTextConfig config, TensorSource weights, Backend backend) {
        this(config, weights, backend, false);
    }

    private ClipTextModel(ClipTextConfig config, TensorSource weights, Backend backend, boolean own) {
        this.config = config;
        this.backend = backend;
        EncoderWeights w = new EncoderWeights(weights, backend);
        this.params = w;
        try {
            long c = config.hiddenSize();
            tokenEmbedding = w.get(PREFIX + "embeddings.token_embedding.weight", config.vocabSize(), c);
            positionEmbedding = w.get(PREFIX + "embeddings.position_embedding.weight", config.maxPositionEmbeddings(),
                    c);
            layers = new ClipEncoderLayers(w, PREFIX, config.numHiddenLayers(), config.hiddenSize(),
                    config.intermediateSize(), config.numAttentionHeads(), (float) config.layerNormEps());
            finalScale = w.scaleRow(PREFIX + "final_layer_norm.weight", c);
            finalBias = w.get(PREFIX + "final_layer_norm.bias", c);
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
        eps = (float) config.layerNormEps();
        owned = own ? weights : null;
    }

    public ClipTextConfig config() {
        return config;
    }

    /**
     * The index whose final hidden state is the pooled output: with the legacy rule (eos_token_id 2, FLUX's config) the
     * first position of the largest id, which is the first EOS 49407 for real CLIP ids; otherwise the first position
     * holding eos_token_id, or 0 when there is none (transformers' argmax of an all-false row).
     */
    public static int pooledIndex(int[] ids, ClipTextConfig config) {
        if (!config.legacyPooling()) {
            for (int t = 0; t < ids.length; t++) {
                if (ids[t] == config.eosTokenId()) {
                    return t;
                }
            }
            return 0;
        }
        int best = 0;
        for (int t = 1; t < ids.length; t++) {
            if (ids[t] > ids[best]) {
                best = t;
            }
        }
        return best;
    }

    /** Encodes B rows of L token ids (L ≤ max_position_embeddings, 77 for FLUX) in one pass. No attention mask. */
    public Output encode(int[][] ids) {
        EncoderOps.checkIds(ids, config.maxPositionEmbeddings(), "CLIP text model");
        Backend be = backend;
        int batch = ids.length;
        int len = ids[0].length;
        long rows = (long) batch * len;
        int c = config.hiddenSize();
        Tensor out = be.allocate(DType.F32, batch, len, c);
        Tensor pooled = be.allocate(DType.F32, batch, c);
        try (Allocations scratch = new Allocations(be)) {
            Tensor x = scratch.allocate(DType.F32, rows, c);
            Tensor normed = scratch.allocate(DType.F32, rows, c);
            EncoderOps.embed(be, tokenEmbedding, ids, x);
            // every row gets positions 0..L-1: one bias over the flattened [L·C] block of each row
            be.addBias(x.view(batch, (long) len * c), positionEmbedding.sliceRows(0, len).view((long) len * c));
            layers.run(scratch, x, batch, len, causalMask(scratch, len));
            EncoderOps.layerNorm(be, x, out.view(rows, c), finalScale, finalBias, normed, eps);
        }
        Tensor flat = out.view(rows, c);
        for (int b = 0; b < batch; b++) {
            be.copy(flat.sliceRows((long) b * len + pooledIndex(ids[b], config), 1), pooled.sliceRows(b, 1));
        }
        return new Output(out, pooled);
    }

    /**
     * 0 on and below the diagonal, the most negative float above it, as transformers' causal mask: a finite value keeps a
     * backend's exp away from −∞ and still underflows to an exact 0 after the row maximum is subtracted.
     */
    private static Tensor causalMask(Allocations scratch, int len) {
        float[] m = new float[len * len];
        for (int i = 0; i < len; i++) {
            for (int j = i + 1; j < len; j++) {
                m[i * len + j] = -Float.MAX_VALUE;
            }
        }
        return scratch.upload(m, len, len);
    }

    /** Frees the weights' device copies and closes the file when this model opened it. */
    @Override
    public void close() {
        params.close();
        if (owned != null) {
            owned.close();
        }
    }
}
