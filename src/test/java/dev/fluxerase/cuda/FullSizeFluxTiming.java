package dev.fluxerase.cuda;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.flux.FluxGradients;
import dev.fluxerase.flux.FluxInputs;
import dev.fluxerase.flux.FluxModel;
import dev.fluxerase.flux.FluxWeights;
import dev.fluxerase.lora.LoraModule;
import dev.fluxerase.lora.LoraSet;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.RandomData;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.Consumer;
import java.util.stream.IntStream;

/**
 * Whole-model timings with random bf16 weights made on the machine (no checkpoint download), one JSON line per phase.
 *
 * <p>{@code model}: FLUX.1-dev at full size, batch 1, 256 text + 1024 image tokens (512²): a forward, and a forward +
 * backward in the frozen-base mode with the default LoRA (add_q_proj/add_k_proj of every double block, rank 8),
 * with and without checkpointing. {@code blocks}: the same widths with one double and one single block (depth 1, 1),
 * forward + backward to the inputs (img, txt, y; no weight gradients), at 256+1024 and 512+4096 tokens, the Java side
 * of tools/gpu/flux_blocks_torch.py. Each phase runs once to warm up (and build its workspace), then {@code reps}
 * timed times, wall clock around a synchronize.
 *
 * <p>Memory: the model keeps a workspace per shape/checkpointing/LoRA setting and nothing frees the earlier ones, so a
 * phase's own need is its high-water mark over what was held when it began; {@code standalone_peak_bytes} adds that
 * to the weights and inputs, which is what the phase alone would hold. {@code driver_used_bytes} is the driver's
 * view at the end of the phase (every workspace, the context and cuBLASLt included).
 *
 * <p>Usage (tools/gpu-check.sh): {@code java ... dev.fluxerase.cuda.FullSizeFluxTiming model|blocks [reps]}.
 */
public final class FullSizeFluxTiming {
    /** One double and one single block at FLUX.1-dev's widths. */
    static final FluxConfig ONE_BLOCK_EACH =
            new FluxConfig(64, 64, 768, 4096, 3072, 4.0, 24, 1, 1, new int[]{16, 56, 56}, 10000, true, true);

    private final Backend be;
    private final Consumer<String> out;
    private final int reps;

    FullSizeFluxTiming(Backend be, Consumer<String> out, int reps) {
        this.be = be;
        this.out = out;
        this.reps = reps;
    }

    public static void main(String[] args) {
        String what = args.length > 0 ? args[0] : "model";
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        try (CudaBackend gpu = new CudaBackend()) {
            FullSizeFluxTiming t = new FullSizeFluxTiming(gpu, line -> System.out.println("FLUX_TIMING " + line), reps);
            switch (what) {
                case "model" -> t.model(FluxConfig.FLUX_DEV, 32, 256);
                case "blocks" -> {
                    t.blocks(ONE_BLOCK_EACH, 32, 256);
                    t.blocks(ONE_BLOCK_EACH, 64, 512);
                }
                default -> throw new IllegalArgumentException("expected model or blocks, got " + what);
            }
        }
    }

    // ---- runs -------------------------------------------------------------------------------------------------------

    /**
     * Forward, then LoRA forward+backward with and without checkpointing (smallest workspaces first), then the last
     * again with BF16 MLP activations: its time and peak beside the F32 one are what the BF16 mode saves.
     */
    void model(FluxConfig cfg, int side, long txtTokens) {
        Setup s = setup(cfg, side, txtTokens);
        s.model.setCheckpointing(true);
        phase(s, "forward", true, () -> s.model.forward(s.inputs, List.of()), () -> be.sum(s.model.forward(s.inputs,
                List.of())));
        LoraSet lora = LoraSet.create(cfg, LoraSet.DEFAULT_TARGETS, 8, 8f, 7, LoraSet.Init.GAUSSIAN);
        for (DType mlp : new DType[]{DType.F32, DType.BF16}) {
            for (boolean ckpt : mlp == DType.F32 ? new boolean[]{true, false} : new boolean[]{false}) {
                s.model.setMlpActivations(mlp);
                s.model.setCheckpointing(ckpt);
                s.model.setLora(lora.modules(), 1f);
                FluxGradients[] g = new FluxGradients[1];
                phase(s, (ckpt ? "lora_fwd_bwd_ckpt" : "lora_fwd_bwd") + (mlp == DType.BF16 ? "_bf16_mlp" : ""), ckpt,
                        () -> {
                            s.model.forward(s.inputs, List.of());
                            if (g[0] == null) {
                                g[0] = s.model.newGradients(false, false);
                            }
                            s.model.backward(s.gradOut, g[0]);
                        }, () -> loraGradNorm(lora, g[0]));
            }
        }
    }

    /** The one-block-each model: forward, and forward + backward to the inputs (what the PyTorch blocks compute). */
    void blocks(FluxConfig cfg, int side, long txtTokens) {
        Setup s = setup(cfg, side, txtTokens);
        phase(s, "blocks_forward", false, () -> s.model.forward(s.inputs, List.of()),
                () -> be.sum(s.model.forward(s.inputs, List.of())));
        FluxGradients[] g = new FluxGradients[1];
        phase(s, "blocks_fwd_bwd_inputs", false, () -> {
            s.model.forward(s.inputs, List.of());
            if (g[0] == null) {
                g[0] = s.model.newGradients(false, true);
            }
            s.model.backward(s.gradOut, g[0]);
        }, () -> be.dot(g[0].img(), g[0].img()) + be.dot(g[0].txt(), g[0].txt()) + be.dot(g[0].y(), g[0].y()));
    }

    private double loraGradNorm(LoraSet lora, FluxGradients g) {
        double n = 0;
        for (LoraModule m : lora.modules()) {
            n += be.dot(g.loraB(m.module()), g.loraB(m.module()));
        }
        return n;
    }

    // ---- setup ------------------------------------------------------------------------------------------------------

    record Setup(FluxConfig cfg, int side, long txtTokens, FluxModel model, FluxInputs inputs, Tensor gradOut,
                 long baseBytes, double setupSeconds) {
    }

    Setup setup(FluxConfig cfg, int side, long txtTokens) {
        long t0 = System.nanoTime();
        FluxWeights w = randomWeights(be, cfg, 1);
        FluxModel model = new FluxModel(w, be);
        long img = (long) side * side;
        Random rnd = new Random(2);
        Tensor imgIds = Tensor.zeros(img, cfg.axesDim().length);
        for (int r = 0; r < side; r++) {
            for (int c = 0; c < side; c++) {
                imgIds.data().setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, (r * side + c) * 3L + 1, r);
                imgIds.data().setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, (r * side + c) * 3L + 2, c);
            }
        }
        FluxInputs in = FluxInputs.fromHost(be, cfg,
                Tensor.of(RandomData.gaussian(rnd, img * cfg.inChannels(), 1), 1, img, cfg.inChannels()), imgIds,
                Tensor.of(RandomData.gaussian(rnd, txtTokens * cfg.contextInDim(), 1), 1, txtTokens,
                        cfg.contextInDim()),
                Tensor.zeros(txtTokens, cfg.axesDim().length), Tensor.of(new float[]{0.5f}, 1),
                Tensor.of(RandomData.gaussian(rnd, cfg.vecInDim(), 1), 1, cfg.vecInDim()),
                Tensor.of(new float[]{3.5f}, 1));
        Tensor gradOut = be.upload(RandomData.gaussian(rnd, img * cfg.outChannels(), 1e-3), 1, img,
                cfg.outChannels());
        sync();
        return new Setup(cfg, side, txtTokens, model, in, gradOut, allocated(), (System.nanoTime() - t0) / 1e9);
    }

    /**
     * Random weights as FLUX.1-dev stores them (BF16), made on the host one parameter at a time and moved to the
     * backend, so host memory holds one parameter at most: matrices uniform in ±1/√in (PyTorch's Linear init scale,
     * which keeps activations finite through the blocks), biases ±0.02, RMSNorm scales 1.
     */
    static FluxWeights randomWeights(Backend be, FluxConfig cfg, long seed) {
        int[] index = {0};
        return FluxWeights.of(cfg, "random bf16 " + cfg + " (seed " + seed + ")",
                p -> be.toDevice(randomBf16(p.name(), p.shape(), seed * 1_000_003L + index[0]++)));
    }

    /**
     * One tensor of {@link #randomWeights}' distribution by its name and shape, in the model's own names or the BFL
     * file's (whose RMSNorm scales end in {@code .scale}), so that a random checkpoint file is drawn alike.
     */
    static Tensor randomBf16(String name, long[] shape, long seed) {
        int n = Math.toIntExact(Tensor.numel(shape));
        short[] bits = new short[n];
        boolean scaleVector = shape.length == 1 && (name.endsWith(".weight") || name.endsWith(".scale"));
        double bound = shape.length == 2 ? 1 / Math.sqrt(shape[1]) : 0.02;
        int chunk = 1 << 16;
        IntStream.range(0, (n + chunk - 1) / chunk).parallel().forEach(c -> {
            for (int i = c * chunk, end = Math.min(n, i + chunk); i < end; i++) {
                double u = (mix(seed, i) >>> 11) * 0x1.0p-53;
                bits[i] = Floats.f32ToBf16(scaleVector ? 1f : (float) ((2 * u - 1) * bound));
            }
        });
        return new Tensor(Device.CPU, DType.BF16, shape, MemorySegment.ofArray(bits));
    }

    /** SplitMix64 of (seed, i): independent values per index, so chunks fill in parallel in any order. */
    private static long mix(long seed, long i) {
        long z = seed * 0x9E3779B97F4A7C15L + (i + 1) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    // ---- measuring --------------------------------------------------------------------------------------------------

    private void phase(Setup s, String name, boolean checkpointing, Runnable step, java.util.function.DoubleSupplier check) {
        long held = allocated();
        resetPeak();
        long t0 = System.nanoTime();
        step.run();
        sync();
        double warm = (System.nanoTime() - t0) / 1e9;
        t0 = System.nanoTime();
        for (int i = 0; i < reps; i++) {
            step.run();
        }
        sync();
        double secs = (System.nanoTime() - t0) / 1e9 / reps;
        long phasePeak = peak() - held;
        double checkValue = check.getAsDouble();
        long[] mem = be instanceof CudaBackend c ? c.memoryInfo() : new long[]{0, 0};
        out.accept(String.format(Locale.ROOT, "{\"phase\":\"%s\",\"device\":\"%s\",\"config\":\"depth %d, single %d,"
                        + " hidden %d\",\"txt_tokens\":%d,\"img_tokens\":%d,\"batch\":1,\"checkpointing\":%b,"
                        + "\"reps\":%d,\"ms\":%.3f,\"first_ms\":%.3f,\"setup_s\":%.2f,\"base_bytes\":%d,"
                        + "\"phase_peak_bytes\":%d,\"standalone_peak_bytes\":%d,\"driver_used_bytes\":%d,"
                        + "\"check\":%s,\"finite\":%b}",
                name, be.name(), s.cfg.depth(), s.cfg.depthSingleBlocks(), s.cfg.hiddenSize(), s.txtTokens,
                (long) s.side * s.side, checkpointing, reps, secs * 1e3, warm * 1e3, s.setupSeconds, s.baseBytes,
                phasePeak, s.baseBytes + phasePeak, mem[1] - mem[0], Double.isFinite(checkValue) ? String.format(
                        Locale.ROOT, "%.6e", checkValue) : "null", Double.isFinite(checkValue)));
    }

    private void sync() {
        if (be instanceof CudaBackend c) {
            c.synchronize();
        }
    }

    private long allocated() {
        return be instanceof CudaBackend c ? c.allocatedBytes() : 0;
    }

    private long peak() {
        return be instanceof CudaBackend c ? c.peakAllocatedBytes() : 0;
    }

    private void resetPeak() {
        if (be instanceof CudaBackend c) {
            c.resetPeak();
        }
    }
}
