package dev.fluxerase.bench;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.flux.FluxGradients;
import dev.fluxerase.flux.FluxInputs;
import dev.fluxerase.flux.FluxLayout;
import dev.fluxerase.flux.FluxModel;
import dev.fluxerase.flux.FluxWeights;
import dev.fluxerase.lora.LoraSet;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The FLUX transformer on the CPU backend: one forward, forward + backward with every parameter gradient, and
 * forward + backward in the LoRA training mode (rank-8 LoRA on add_q/add_k of every double block, frozen base).
 * Configs: {@code tiny} is the golden case's shape (hidden 64, 2 heads, 2+2 blocks, 16 image + 8 text tokens);
 * {@code mid} is hidden 512, 8 heads, 4 double + 4 single blocks, 256 image + 64 text tokens, T5/CLIP input widths.
 * {@code dev1} is FLUX.1-dev's widths (hidden 3072, 24 heads x 128, MLP 12288) with 1 double + 1 single block, 256 image
 * + 256 text tokens: the model that bench/torch_cpu_compare.sh times against PyTorch (not in the default params: its
 * setup writes a 1 GB weight file).
 * Weights are random BF16, read in place from a temporary safetensors file (so frozen); batch 1.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "-Xmx8g"})
public class FluxModelBench {
    @Param({"tiny", "mid"})
    public String config;

    @Param({"false"})
    public boolean checkpointing;

    /** Whether the backend keeps the frozen (file-read) weights packed; false packs them on every call. */
    @Param({"true"})
    public boolean packCache;

    private Path dir;
    private FluxWeights weights;
    private FluxModel model;
    private FluxModel loraModel;
    private FluxInputs inputs;
    private Tensor gradOut;
    private FluxGradients all;
    private FluxGradients lora;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        FluxConfig c = switch (config) {
            case "tiny" -> new FluxConfig(16, 16, 24, 32, 64, 4.0, 2, 2, 2, new int[]{4, 14, 14}, 10000, true, true);
            case "mid" -> new FluxConfig(64, 64, 768, 4096, 512, 4.0, 8, 4, 4, new int[]{8, 28, 28}, 10000, true, true);
            case "dev1" -> new FluxConfig(64, 64, 768, 4096, 3072, 4.0, 24, 1, 1, new int[]{16, 56, 56}, 10000, true,
                    true);
            default -> throw new IllegalArgumentException("config must be tiny, mid or dev1, got " + config);
        };
        int side = config.equals("tiny") ? 4 : 16;
        int lTxt = switch (config) {
            case "tiny" -> 8;
            case "dev1" -> 256;
            default -> 64;
        };
        SplittableRandom rnd = new SplittableRandom(1);
        dir = Files.createTempDirectory("flux-bench");
        Path file = dir.resolve("weights.safetensors");
        SafetensorsWriter.write(file, randomBf16Weights(c, rnd), Map.of());
        weights = FluxWeights.open(file, c);
        Backend be = new CpuBackend(packCache);
        model = new FluxModel(weights, be);
        model.setCheckpointing(checkpointing);
        loraModel = new FluxModel(weights, be);
        loraModel.setCheckpointing(checkpointing);
        loraModel.setLora(LoraSet.create(c, LoraSet.DEFAULT_TARGETS, 8, 8f, 7, LoraSet.Init.GAUSSIAN).modules(), 1f);
        int lImg = side * side;
        double[] imgIds = new double[lImg * 3];
        for (int t = 0; t < lImg; t++) {
            imgIds[t * 3 + 1] = t / side;
            imgIds[t * 3 + 2] = t % side;
        }
        inputs = new FluxInputs(be.upload(uniform(rnd, lImg * c.inChannels()), 1, lImg, c.inChannels()),
                be.upload(uniform(rnd, lTxt * c.contextInDim()), 1, lTxt, c.contextInDim()),
                be.upload(uniform(rnd, c.vecInDim()), 1, c.vecInDim()), new double[][]{imgIds},
                new double[][]{new double[lTxt * 3]}, new double[]{0.7}, new double[]{3.5});
        gradOut = be.upload(uniform(rnd, lImg * c.outChannels()), 1, lImg, c.outChannels());
        model.forward(inputs, false);
        all = model.newGradients(true, true);
        loraModel.forward(inputs, false);
        lora = loraModel.newGradients(false, false);
    }

    private static float[] uniform(SplittableRandom rnd, long n) {
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rnd.nextDouble(-1.7, 1.7));
        }
        return v;
    }

    /** Every BFL tensor of the config, uniform with std about 0.7/√fan_in (norm scales 1), as BF16. */
    private static Map<String, Tensor> randomBf16Weights(FluxConfig c, SplittableRandom rnd) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        FluxLayout.of(c).fileTensors(FluxLayout.Naming.BFL).forEach((name, shape) -> {
            short[] v = new short[Math.toIntExact(Tensor.numel(shape))];
            double bound = 1.2 / Math.sqrt(shape.length > 1 ? shape[1] : c.hiddenSize());
            for (int i = 0; i < v.length; i++) {
                v[i] = Floats.f32ToBf16(name.endsWith(".scale") ? 1f : (float) rnd.nextDouble(-bound, bound));
            }
            out.put(name, Tensor.wrap(DType.BF16, MemorySegment.ofArray(v), shape));
        });
        return out;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        weights.close();
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                Files.delete(p);
            }
        }
        Files.delete(dir);
    }

    @Benchmark
    public float forward() {
        return model.forward(inputs, false).get(0);
    }

    @Benchmark
    public float forwardBackward() {
        model.forward(inputs, false);
        model.backward(gradOut, all);
        return all.img().get(0);
    }

    @Benchmark
    public float forwardBackwardLora() {
        loraModel.forward(inputs, false);
        loraModel.backward(gradOut, lora);
        return lora.loraA("transformer_blocks.0.attn.add_q_proj").get(0);
    }
}
