package dev.fluxerase.vae;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A FLUX-size VAE checkpoint in BFL naming, enumerated from BFL's flux/modules/autoencoder.py structure (Encoder/Decoder
 * with ch 128, ch_mult [1, 2, 4, 4], 2 res blocks, z 16; FLUX.md §5.4), independently of the loader: F32 tensors in
 * native memory, all zero or random with activations of order 1 (conv/linear weights uniform with variance 1/fan_in,
 * norm scales 1 ± 0.1, biases ± 0.05).
 */
final class FluxVaeCheckpoint implements AutoCloseable {
    static final long FLUX_VAE_PARAMETERS = 83_819_683L;

    private final Arena arena = Arena.ofShared();
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final SplittableRandom random;

    FluxVaeCheckpoint(Long seed) {
        random = seed == null ? null : new SplittableRandom(seed);
        int ch = 128;
        int[] mult = {1, 2, 4, 4};
        conv("encoder.conv_in", 3, ch, 3);
        int in = ch;
        for (int i = 0; i < 4; i++) {
            int out = ch * mult[i];
            for (int j = 0; j < 2; j++) {
                resnet("encoder.down." + i + ".block." + j, in, out);
                in = out;
            }
            if (i != 3) {
                conv("encoder.down." + i + ".downsample.conv", in, in, 3);
            }
        }
        mid("encoder.mid", in);
        norm("encoder.norm_out", in);
        conv("encoder.conv_out", in, 32, 3);

        in = ch * mult[3];
        conv("decoder.conv_in", 16, in, 3);
        mid("decoder.mid", in);
        for (int i = 3; i >= 0; i--) {
            int out = ch * mult[i];
            for (int j = 0; j < 3; j++) {
                resnet("decoder.up." + i + ".block." + j, in, out);
                in = out;
            }
            if (i != 0) {
                conv("decoder.up." + i + ".upsample.conv", in, in, 3);
            }
        }
        norm("decoder.norm_out", in);
        conv("decoder.conv_out", in, 3, 3);
    }

    Map<String, Tensor> tensors() {
        return tensors;
    }

    long parameters() {
        return tensors.values().stream().mapToLong(Tensor::numel).sum();
    }

    private void mid(String p, int c) {
        resnet(p + ".block_1", c, c);
        norm(p + ".attn_1.norm", c);
        for (String s : new String[]{"q", "k", "v", "proj_out"}) {
            conv(p + ".attn_1." + s, c, c, 1);
        }
        resnet(p + ".block_2", c, c);
    }

    private void resnet(String p, int in, int out) {
        norm(p + ".norm1", in);
        conv(p + ".conv1", in, out, 3);
        norm(p + ".norm2", out);
        conv(p + ".conv2", out, out, 3);
        if (in != out) {
            conv(p + ".nin_shortcut", in, out, 1);
        }
    }

    private void norm(String p, int c) {
        add(p + ".weight", 1f, 0.1f, c);
        add(p + ".bias", 0f, 0.1f, c);
    }

    private void conv(String p, int in, int out, int k) {
        add(p + ".weight", 0f, (float) Math.sqrt(3.0 / (in * k * k)), out, in, k, k);
        add(p + ".bias", 0f, 0.05f, out);
    }

    private void add(String name, float center, float halfWidth, long... shape) {
        long n = Tensor.numel(shape);
        MemorySegment seg = arena.allocate(4 * n, 8);
        if (random != null) {
            for (long i = 0; i < n; i++) {
                seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i,
                        center + halfWidth * (float) (2 * random.nextDouble() - 1));
            }
        }
        tensors.put(name, Tensor.wrap(DType.F32, seg, shape));
    }

    @Override
    public void close() {
        arena.close();
    }
}
