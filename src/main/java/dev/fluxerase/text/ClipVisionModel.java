package dev.fluxerase.text;

import dev.fluxerase.safetensors.TensorSource;
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
 * because it is built from the same package-private layers, ops and shape-checked weight lookup.
 */
public final class ClipVisionModel {
    private static final String PREFIX = "vision_model.";

    /** lastHiddenState [B, positions, hidden]: the encoder output before post_layernorm; pooled [B, hidden]: after. */
    public record Output(Tensor lastHiddenState, Tensor pooled) {
    }

    private final ClipVisionConfig config;
    private final Backend backend;
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
        if (backend.device() != Device.CPU) {
            throw new IllegalArgumentException("CLIP vision model: backend " + backend.name() + " is on "
                    + backend.device() + ", but the weights are read in place from the mapped file (CPU)");
        }
        this.config = config;
        this.backend = backend;
        EncoderWeights w = new EncoderWeights(weights);
        long c = config.hiddenSize();
        long p = config.patchSize();
        patchWeight = w.get(PREFIX + "embeddings.patch_embedding.weight", c, config.numChannels(), p, p)
                .view(c, config.numChannels() * p * p);
        classEmbedding = w.get(PREFIX + "embeddings.class_embedding", c).view(1, c);
        positionEmbedding = w.get(PREFIX + "embeddings.position_embedding.weight", config.positions(), c);
        preScale = EncoderOps.scaleRow(backend, w.get(PREFIX + "pre_layrnorm.weight", c));
        preBias = w.get(PREFIX + "pre_layrnorm.bias", c);
        eps = (float) config.layerNormEps();
        layers = new ClipEncoderLayers(backend, w, PREFIX, config.numHiddenLayers(), config.hiddenSize(),
                config.intermediateSize(), config.numAttentionHeads(), eps);
        postScale = EncoderOps.scaleRow(backend, w.get(PREFIX + "post_layernorm.weight", c));
        postBias = w.get(PREFIX + "post_layernorm.bias", c);
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

        Tensor patchOut = be.allocate(DType.F32, (long) batch * patches, c);
        be.gemm(false, true, 1f, patchRows(Floats.toF32(pixelValues), batch), patchWeight, 0f, patchOut);
        Tensor x = be.allocate(DType.F32, rows, c);
        for (int b = 0; b < batch; b++) {
            be.copy(classEmbedding, x.sliceRows((long) b * len, 1));
            be.copy(patchOut.sliceRows((long) b * patches, patches), x.sliceRows((long) b * len + 1, patches));
        }
        be.addBias(x.view(batch, (long) len * c), positionEmbedding.view((long) len * c));

        Tensor hidden = be.allocate(DType.F32, batch, len, c);
        Tensor flat = hidden.view(rows, c);
        Tensor normed = be.allocate(DType.F32, rows, c);
        EncoderOps.layerNorm(be, x, flat, preScale, preBias, normed, eps);
        layers.run(be, flat, batch, len, null);

        Tensor cls = be.allocate(DType.F32, batch, c);
        for (int b = 0; b < batch; b++) {
            be.copy(flat.sliceRows((long) b * len, 1), cls.sliceRows(b, 1));
        }
        Tensor pooled = be.allocate(DType.F32, batch, c);
        EncoderOps.layerNorm(be, cls, pooled, postScale, postBias, normed.sliceRows(0, batch), eps);
        return new Output(hidden, pooled);
    }

    /**
     * The convolution as a GEMM: one row per patch (patches row-major over the grid, as transformers flattens them),
     * holding the patch's pixels in the weight's (channel, y, x) order.
     */
    private Tensor patchRows(float[] px, int batch) {
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
        return backend.upload(rows, (long) batch * g * g, width);
    }
}
