package dev.fluxerase.text;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.safetensors.SafetensorsException;
import dev.fluxerase.safetensors.TensorInfo;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * TIMING LOOP, not a unit test (no JMH harness in the build yet): T5 encoding time per prompt on CpuBackend for a mid-size
 * config with random BF16 weights, extrapolated to T5-XXL by the FLOP ratio. Run after {@code mvn test-compile}:
 *
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx4g \
 *     -cp target/classes:target/test-classes:$(cat target/cp.txt) dev.fluxerase.text.T5EncoderTiming 256 512
 * </pre>
 * (target/cp.txt from {@code mvn dependency:build-classpath -Dmdep.outputFile=target/cp.txt}).
 */
public final class T5EncoderTiming {
    public static final T5Config MID = new T5Config(1000, 1024, 64, 2816, 8, 16, 32, 128, 1e-6, "gelu_new");
    static final T5Config XXL = new T5Config(32128, 4096, 64, 10240, 24, 64, 32, 128, 1e-6, "gelu_new");

    private T5EncoderTiming() {
    }

    /** Forward FLOPs of one prompt of len tokens: every Linear plus QKᵀ and PV (2 FLOPs per multiply-add). */
    static double flops(T5Config c, int len) {
        double d = c.dModel();
        double inner = c.innerDim();
        double linear = 2 * (4 * d * inner + 3 * d * c.dFf());
        double attention = 4.0 * len * inner;
        return (double) c.numLayers() * len * (linear + attention);
    }

    public static void main(String[] args) {
        int[] lengths = args.length == 0 ? new int[]{256, 512} : Arrays.stream(args).mapToInt(Integer::parseInt).toArray();
        int runs = Integer.getInteger("runs", 3);
        Backend be = new CpuBackend();
        try (TensorSource weights = randomWeights(MID, 42)) {
            T5Encoder enc = new T5Encoder(MID, weights, be);
            System.out.printf("T5 mid-size (d_model %d, %d layers, %d heads x %d, d_ff %d), BF16 weights, backend %s,"
                            + " %d cores%n", MID.dModel(), MID.numLayers(), MID.numHeads(), MID.dKv(), MID.dFf(), be.name(),
                    Runtime.getRuntime().availableProcessors());
            for (int len : lengths) {
                int[][] ids = new int[1][len];
                SplittableRandom r = new SplittableRandom(len);
                for (int t = 0; t < len; t++) {
                    ids[0][t] = r.nextInt(MID.vocabSize());
                }
                enc.encode(ids);
                double[] secs = new double[runs];
                for (int i = 0; i < runs; i++) {
                    long t0 = System.nanoTime();
                    enc.encode(ids);
                    secs[i] = (System.nanoTime() - t0) / 1e9;
                }
                Arrays.sort(secs);
                double best = secs[0];
                double median = secs[runs / 2];
                double ratio = flops(XXL, len) / flops(MID, len);
                System.out.printf("L %d: best %.3f s, median %.3f s of %d (%.1f GFLOP, %.1f GFLOP/s); T5-XXL %.0f GFLOP"
                                + " = x%.1f -> about %.1f s per prompt%n", len, best, median, runs, flops(MID, len) / 1e9,
                        flops(MID, len) / 1e9 / best, flops(XXL, len) / 1e9, ratio, best * ratio);
            }
        }
    }

    /** Every tensor of a T5 encoder as heap BF16, N(0, 1/fan_in) for Linears, 1 + 0.1·N for norms, N(0, 1) elsewhere. */
    public static TensorSource randomWeights(T5Config c, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        Map<String, Tensor> t = new LinkedHashMap<>();
        long d = c.dModel();
        long inner = c.innerDim();
        long ff = c.dFf();
        t.put("shared.weight", bf16(r, 1, 0, c.vocabSize(), d));
        t.put("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                bf16(r, 0.5, 0, c.relativeAttentionNumBuckets(), c.numHeads()));
        for (int i = 0; i < c.numLayers(); i++) {
            String a = "encoder.block." + i + ".layer.0.";
            String f = "encoder.block." + i + ".layer.1.";
            t.put(a + "layer_norm.weight", bf16(r, 0.1, 1, d));
            t.put(a + "SelfAttention.q.weight", bf16(r, 1 / Math.sqrt(d * c.dKv()), 0, inner, d));
            t.put(a + "SelfAttention.k.weight", bf16(r, 1 / Math.sqrt(d), 0, inner, d));
            t.put(a + "SelfAttention.v.weight", bf16(r, 1 / Math.sqrt(d), 0, inner, d));
            t.put(a + "SelfAttention.o.weight", bf16(r, 1 / Math.sqrt(inner), 0, d, inner));
            t.put(f + "layer_norm.weight", bf16(r, 0.1, 1, d));
            t.put(f + "DenseReluDense.wi_0.weight", bf16(r, 1 / Math.sqrt(d), 0, ff, d));
            t.put(f + "DenseReluDense.wi_1.weight", bf16(r, 1 / Math.sqrt(d), 0, ff, d));
            t.put(f + "DenseReluDense.wo.weight", bf16(r, 1 / Math.sqrt(ff), 0, d, ff));
        }
        t.put("encoder.final_layer_norm.weight", bf16(r, 0.1, 1, d));
        return new TensorSource() {
            @Override
            public Set<String> names() {
                return t.keySet();
            }

            @Override
            public boolean contains(String name) {
                return t.containsKey(name);
            }

            @Override
            public TensorInfo info(String name) {
                Tensor x = tensor(name);
                return new TensorInfo(name, x.dtype(), x.shape(), 0, x.byteSize());
            }

            @Override
            public Tensor tensor(String name) {
                Tensor x = t.get(name);
                if (x == null) {
                    throw new SafetensorsException("random weights: no tensor '" + name + "'");
                }
                return x;
            }

            @Override
            public Map<String, String> metadata() {
                return Map.of();
            }

            @Override
            public String describe() {
                return "random T5 weights";
            }

            @Override
            public void close() {
            }
        };
    }

    private static Tensor bf16(SplittableRandom r, double std, double mean, long... shape) {
        short[] v = new short[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) {
            v[i] = Floats.f32ToBf16((float) (mean + std * gaussian(r)));
        }
        return Tensor.wrap(DType.BF16, MemorySegment.ofArray(v), shape);
    }

    private static double gaussian(SplittableRandom r) {
        double u = 1 - r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.nextDouble());
    }
}
