package dev.fluxerase.text;

import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Allocations;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.util.Arrays;

/**
 * The CLIP ViT image tower (transformers {@code CLIPVisionTransformer}), forward only: a bias-free patch convolution
 * with stride = kernel, the class embedding in front, position embeddings, {@code pre_layrnorm}, the same pre-LN layers
 * as the text tower without a mask, and {@code post_layernorm} of the class token. It sits beside the text tower
 * because it is built from the same package-private layers, ops and shape-checked weight lookup, and like it runs on
 * any backend (weights read in place on the CPU, copied to a device and freed by {@link #close}).
 */
public final class ClipVisionModel implements AutoCloseable {
    private static final String PREFIX = "vision_model.";

    /**
     * lastHiddenState [B, positions, hidden]: the encoder output before post_layernorm; pooled [B, hidden]: after. Both
     * are on the model's backend and the caller's to free.
     */
    public record Output(Tensor lastHiddenState, Tensor pooled) {
    }

    private final ClipVisionConfig config;
    private final Backend backend;
    private final EncoderWeights params;
    private final Tensor patchWeight;
    private final Tensor classEmbedding;
    private final Tensor positionEmbedding;
    private final Tensor preScale;
    private final Tensor preBias;
    private final ClipEncoderLayers layers;
    private final Tensor postScale;
    private final Tensor postBias;
    private final float eps;

    /** A tower over weights the caller keeps open (and closes) for as long as the model is used. */
    public ClipVisionModel(ClipVisionConfig config, TensorSource weights, Backend backend) {
        this.config = config;
        this.backend = backend;
        EncoderWeights w = new EncoderWeights(weights, backend);
        this.params = w;
        long c = config.hiddenSize();
        long p = config.patchSize();
        eps = (float) config.layerNormEps();
        try {
            patchWeight = w.get(PREFIX + "embeddings.patch_embedding.weight", c, config.numChannels(), p, p)
                    .view(c, config.numChannels() * p * p);
            classEmbedding = w.get(PREFIX + "embeddings.class_embedding", c).view(1, c);
            positionEmbedding = w.get(PREFIX + "embeddings.position_embedding.weight", config.positions(), c);
            preScale = w.scaleRow(PREFIX + "pre_layrnorm.weight", c);
            preBias = w.get(PREFIX + "pre_layrnorm.bias", c);
            layers = new ClipEncoderLayers(w, PREFIX, config.numHiddenLayers(), config.hiddenSize(),
                    config.intermediateSize(), config.numAttentionHeads(), eps);
            postScale = w.scaleRow(PREFIX + "post_layernorm.weight", c);
            postBias = w.get(PREFIX + "post_layernorm.bias", c);
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    public ClipVisionConfig config() {
        return config;
    }

    /** Encodes pixel values [B, channels, image_size, image_size] (a CPU float tensor) in one pass. */
    public Output encode(Tensor pixelValues) {
        int s = config.imageSize();
        long[] expected = {pixelValues.rank() == 4 ? pixelValues.dim(0) : 0, config.numChannels(), s, s};
        if (pixelValues.device() != Device.CPU || !pixelValues.dtype().isFloat() || expected[0] < 1
                || !Arrays.equals(pixelValues.shape(), expected)) {
            throw new IllegalArgumentException("CLIP vision model: pixel values must be a CPU float tensor [B, "
                    + config.numChannels() + ", " + s + ", " + s + "], got " + pixelValues);
        }
        Backend be = backend;
        int batch = (int) expected[0];
        int c = config.hiddenSize();
        int len = config.positions();
        int patches = len - 1;
        long rows = (long) batch * len;

        Tensor hidden = be.allocate(DType.F32, batch, len, c);
        Tensor pooled = be.allocate(DType.F32, batch, c);
        Tensor flat = hidden.view(rows, c);
        try (Allocations scratch = new Allocations(be)) {
            Tensor patchOut = scratch.allocate(DType.F32, (long) batch * patches, c);
            be.gemm(false, true, 1f, patchRows(scratch, Floats.toF32(pixelValues), batch), patchWeight, 0f, patchOut);
            Tensor x = scratch.allocate(DType.F32, rows, c);
            for (int b = 0; b < batch; b++) {
                be.copy(classEmbedding, x.sliceRows((long) b * len, 1));
                be.copy(patchOut.sliceRows((long) b * patches, patches), x.sliceRows((long) b * len + 1, patches));
            }
            be.addBias(x.view(batch, (long) len * c), positionEmbedding.view((long) len * c));

            Tensor normed = scratch.allocate(DType.F32, rows, c);
            EncoderOps.layerNorm(be, x, flat, preScale, preBias, normed, eps);
            layers.run(scratch, flat, batch, len, null);

            Tensor cls = scratch.allocate(DType.F32, batch, c);
            for (int b = 0; b < batch; b++) {
                be.copy(flat.sliceRows((long) b * len, 1), cls.sliceRows(b, 1));
            }
            EncoderOps.layerNorm(be, cls, pooled, postScale, postBias, normed.sliceRows(0, batch), eps);
        }
        return new Output(hidden, pooled);
    }

    /**
     * The convolution as a GEMM: one row per patch (patches row-major over the grid, as transformers flattens them),
     * holding the patch's pixels in the weight's (channel, y, x) order.
     */
    private Tensor patchRows(Allocations scratch, float[] px, int batch) {
        int s = config.imageSize();
        int p = config.patchSize();
        int g = config.grid();
        int ch = config.numChannels();
        int width = ch * p * p;
        float[] rows = new float[batch * g * g * width];
        int o = 0;
        for (int b = 0; b < batch; b++) {
            for (int gy = 0; gy < g; gy++) {
                for (int gx = 0; gx < g; gx++) {
                    for (int k = 0; k < ch; k++) {
                        for (int y = 0; y < p; y++) {
                            int from = ((b * ch + k) * s + gy * p + y) * s + gx * p;
                            System.arraycopy(px, from, rows, o, p);
                            o += p;
                        }
                    }
                }
            }
        }
        return scratch.upload(rows, (long) batch * g * g, width);
    }

    /** Frees the weights' device copies; the file is the caller's. */
    @Override
    public void close() {
        params.close();
    }
}
