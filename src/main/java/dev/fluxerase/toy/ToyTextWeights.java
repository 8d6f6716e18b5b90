package dev.fluxerase.toy;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.text.T5Encoder;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * The toy encoders' BF16 tensors under transformers' names, in the order they are drawn and stored. Each drawn tensor
 * takes {@code numel} values {@code (float) (std · nextGaussian())} from the one generator, row-major, rounded to BF16;
 * norm scales (1), biases (0) and T5's relative attention bias are constants and draw nothing.
 */
final class ToyTextWeights {
    private final Random random;
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();

    private ToyTextWeights(Random random) {
        this.random = random;
    }

    /** transformers CLIPTextModel: {@code text_model.*}, 2 layers of 2 heads, 77 positions. */
    static Map<String, Tensor> clip(Random random, int vocab, ToyText.Sizes s) {
        ToyTextWeights w = new ToyTextWeights(random);
        int c = s.clipHidden();
        int m = s.clipIntermediate();
        double unit = 1 / Math.sqrt(c);
        double small = ToyText.CLIP_SMALL_GAIN / Math.sqrt(c);
        w.normal("text_model.embeddings.token_embedding.weight", ToyText.CLIP_TOKEN_STD, vocab, c);
        w.normal("text_model.embeddings.position_embedding.weight", ToyText.CLIP_POSITION_STD, ToyText.CLIP_POSITIONS, c);
        for (int i = 0; i < ToyText.LAYERS; i++) {
            String p = "text_model.encoder.layers." + i + ".";
            w.constant(p + "layer_norm1.weight", 1, c);
            w.constant(p + "layer_norm1.bias", 0, c);
            for (String proj : new String[]{"q_proj", "k_proj", "v_proj", "out_proj"}) {
                w.normal(p + "self_attn." + proj + ".weight", proj.equals("q_proj") || proj.equals("k_proj") ? small
                        : unit, c, c);
                w.constant(p + "self_attn." + proj + ".bias", 0, c);
            }
            w.constant(p + "layer_norm2.weight", 1, c);
            w.constant(p + "layer_norm2.bias", 0, c);
            w.normal(p + "mlp.fc1.weight", unit, m, c);
            w.constant(p + "mlp.fc1.bias", 0, m);
            w.normal(p + "mlp.fc2.weight", ToyText.CLIP_SMALL_GAIN / Math.sqrt(m), c, m);
            w.constant(p + "mlp.fc2.bias", 0, c);
        }
        w.constant("text_model.final_layer_norm.weight", 1, c);
        w.constant("text_model.final_layer_norm.bias", 0, c);
        return w.tensors;
    }

    /** transformers T5EncoderModel: {@code shared.weight} (no tied copy) and {@code encoder.*}, 2 blocks of 2 heads. */
    static Map<String, Tensor> t5(Random random, int vocab, ToyText.Sizes s) {
        ToyTextWeights w = new ToyTextWeights(random);
        int d = s.t5Model();
        int inner = ToyText.HEADS * s.t5Kv();
        int ff = s.t5Ff();
        double scale = Math.sqrt((double) ToyText.T5_REFERENCE_WIDTH / d);
        double std = ToyText.T5_LAYER_STD * scale;
        double valueStd = ToyText.T5_VALUE_STD * scale;
        w.normal("shared.weight", ToyText.T5_TOKEN_STD, vocab, d);
        for (int i = 0; i < ToyText.LAYERS; i++) {
            String a = "encoder.block." + i + ".layer.0.";
            String f = "encoder.block." + i + ".layer.1.";
            w.constant(a + "layer_norm.weight", 1, d);
            w.normal(a + "SelfAttention.q.weight", std, inner, d);
            w.normal(a + "SelfAttention.k.weight", std, inner, d);
            w.normal(a + "SelfAttention.v.weight", valueStd, inner, d);
            w.normal(a + "SelfAttention.o.weight", valueStd, d, inner);
            if (i == 0) {
                w.put(a + "SelfAttention.relative_attention_bias.weight", neighbourBias(), ToyText.T5_BUCKETS,
                        ToyText.HEADS);
            }
            w.constant(f + "layer_norm.weight", 1, d);
            w.normal(f + "DenseReluDense.wi_0.weight", std, ff, d);
            w.normal(f + "DenseReluDense.wi_1.weight", std, ff, d);
            w.normal(f + "DenseReluDense.wo.weight", std, d, ff);
        }
        w.constant("encoder.final_layer_norm.weight", 1, d);
        return w.tensors;
    }

    /** [buckets, heads]: head 0 looks at the previous token, head 1 at the next; every other offset 0. */
    private static short[] neighbourBias() {
        short[] bits = new short[ToyText.T5_BUCKETS * ToyText.HEADS];
        int[] offsets = {-1, 1};
        for (int h = 0; h < ToyText.HEADS; h++) {
            int bucket = T5Encoder.relativePositionBucket(offsets[h], ToyText.T5_BUCKETS, ToyText.T5_MAX_DISTANCE);
            bits[bucket * ToyText.HEADS + h] = Floats.f32ToBf16(ToyText.T5_NEIGHBOUR_BIAS);
        }
        return bits;
    }

    private void normal(String name, double std, long... shape) {
        short[] bits = new short[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = Floats.f32ToBf16((float) (std * random.nextGaussian()));
        }
        put(name, bits, shape);
    }

    private void constant(String name, float value, long... shape) {
        short[] bits = new short[Math.toIntExact(Tensor.numel(shape))];
        Arrays.fill(bits, Floats.f32ToBf16(value));
        put(name, bits, shape);
    }

    private void put(String name, short[] bits, long... shape) {
        tensors.put(name, new Tensor(Device.CPU, DType.BF16, shape, MemorySegment.ofArray(bits)));
    }
}
