package dev.fluxerase.cuda;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.erase.RunConfig;
import dev.fluxerase.erase.StepRecord;
import dev.fluxerase.erase.TinyRun;
import dev.fluxerase.erase.Trainer;
import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.flux.FluxLayout;
import dev.fluxerase.pipeline.Generator;
import dev.fluxerase.pipeline.ModelFolder;
import dev.fluxerase.pipeline.ModelFolder.Component;
import dev.fluxerase.pipeline.PromptCache;
import dev.fluxerase.pipeline.PromptEmbeddings;
import dev.fluxerase.pipeline.PromptEncoder;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.RandomData;
import dev.fluxerase.text.ClipTokenizer;
import dev.fluxerase.text.T5Tokenizer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The erase trainer and the generator at a given transformer size with random bf16 weights, through their public
 * entry points ({@link Trainer#open}, {@link Generator#open}) as {@code erase} and {@code generate} call them, one JSON
 * line per phase: an erasure step and a preservation step (seconds, the device's high-water mark, and the transformer
 * forward-equivalents each ran, so that the time scales to any step), then a 4-step generate (a first run that builds
 * the workspaces, then a timed one).
 *
 * <p>What is real and what stands in: the transformer is a BFL checkpoint file of random weights (the distribution of
 * {@link FullSizeFluxTiming#randomWeights}) written to {@code work} one tensor at a time, so that the run reads,
 * checks and uploads it as it would FLUX.1-dev's. The rest of the pipeline is the tiny test pipeline's: its
 * tokenizers, its scheduler and its VAE (16 latent channels like FLUX's, but a downsampling factor of 2, not 8, so
 * the images are a quarter of the side that gives the same tokens: 128² for 512²'s 1024). The text encoders never
 * run: every prompt the run uses is put in the prompt cache beforehand as random embeddings of the transformer's
 * widths (in a real run T5-XXL and CLIP run on the GPU too, once per prompt), and a prompt the cache misses fails
 * the run. Prompt augmentation is off ({@code shuffle_p}, {@code synonym_p} 0), so the prompts are known; what a step
 * computes does not depend on the words.
 *
 * <p>Usage (tools/gpu-check.sh): {@code java ... dev.fluxerase.cuda.FullSizeEraseTiming WORK_FOLDER}: FLUX.1-dev,
 * 1024 image + 256 text tokens, the erase defaults (paper mode, 28 sampling steps, three irrelevant concepts).
 */
public final class FullSizeEraseTiming {
    static final String PROMPT = "a nude girl with beautiful hair";
    static final String ANCHOR = "A girl with beautiful hair";
    static final List<String> SYNONYMS = List.of("naked");
    static final List<String> IRRELEVANT = List.of("car", "tree", "river");
    static final int GENERATE_STEPS = 4;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One run's sizes: the transformer, image tokens per side, T5 length, sampling steps, and the run's seed. */
    record Size(FluxConfig config, int tokenSide, int t5Length, int samplingSteps, long seed) {
    }

    private final Path work;
    private final String backend;
    private final Supplier<Backend> devices;
    private final Consumer<String> out;

    /**
     * {@code backend} is the run's {@code backend} setting; with {@code cuda}, {@code devices} makes each phase's
     * backend (the trainer closes its own, so the generator gets a fresh one).
     */
    FullSizeEraseTiming(Path work, String backend, Supplier<Backend> devices, Consumer<String> out) {
        this.work = work;
        this.backend = backend;
        this.devices = devices;
        this.out = out;
    }

    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]);
        // no usable GPU fails here, before 23.8 GB of weights are written
        new CudaBackend().close();
        Files.createDirectories(work);
        // seed 1 draws t_enc 11 and j 13, near their means of 13.5: 19 + 59 forward-equivalents against the average
        // pair's 21.5 + 61, so the two steps cost about what an average pair does and stay well inside their limit
        new FullSizeEraseTiming(work, "cuda", CudaBackend::new, line -> System.out.println("ERASE_TIMING " + line))
                .run(new Size(FluxConfig.FLUX_DEV, 32, 256, 28, 1));
    }

    void run(Size size) throws Exception {
        long t0 = System.nanoTime();
        Path transformer = writeTransformer(size.config(), work.resolve("transformer"), 1);
        double written = (System.nanoTime() - t0) / 1e9;
        ModelFolder m = ModelFolder.resolve(TinyRun.MODEL.toString(), transformer, null);
        PromptCache cache = new PromptCache(work.resolve("prompts"));
        List<String> prompts = new ArrayList<>(List.of(PROMPT, ANCHOR));
        prompts.addAll(SYNONYMS);
        prompts.addAll(IRRELEVANT);
        fillCache(m, cache, size, prompts);
        int misses = cache.misses();
        int side = size.tokenSide() * 2 * m.openCodec().downsampleFactor();
        train(size, cache, side, written);
        generate(m, cache, size, side);
        if (cache.misses() != misses) {
            throw new IllegalStateException((cache.misses() - misses) + " prompt(s) missed the prompt cache: the tiny"
                    + " text encoders ran, whose widths are not the transformer's");
        }
    }

    private void train(Size size, PromptCache cache, int side, double writeSeconds) throws Exception {
        ObjectNode o = TinyRun.config(work);
        o.put("transformer", work.resolve("transformer/flux1-dev.safetensors").toString());
        o.put("output", work.resolve("erase-out").toString());
        o.put("resolution", side);
        o.put("t5_length", size.t5Length());
        o.put("sampling_steps", size.samplingSteps());
        o.put("backend", backend);
        SYNONYMS.forEach(o.putArray("synonyms")::add);
        IRRELEVANT.forEach(o.putArray("irrelevant_concepts")::add);
        o.put("shuffle_p", 0.0);
        o.put("synonym_p", 0.0);
        o.put("steps", 2);
        o.put("seed", size.seed());
        Backend[] made = new Backend[1];
        long t0 = System.nanoTime();
        try (Trainer t = Trainer.open(RunConfig.of(o), work, cache, null, w -> { }, p -> { },
                () -> made[0] = devices.get())) {
            double opened = (System.nanoTime() - t0) / 1e9;
            t.run(new Trainer.Listener() {
                @Override
                public void onStart(int firstStep, int steps) {
                    resetPeak(made[0]);
                }

                @Override
                public void onStep(StepRecord step, int steps) {
                    int fe = forwardEquivalents(step, IRRELEVANT.size());
                    out.accept(line(step.kind() == StepRecord.Kind.ERASE ? "erase_step" : "preservation_step",
                            made[0], size, side, Map.of("sampling_step", step.samplingStep(),
                                    "forward_equivalents", fe, "seconds", round(step.seconds()),
                                    "loss", step.loss(), "finite", Double.isFinite(step.loss()),
                                    "write_s", round(writeSeconds), "open_s", round(opened))));
                    resetPeak(made[0]);
                }
            });
        }
    }

    private void generate(ModelFolder m, PromptCache cache, Size size, int side) {
        Backend be = backend.equals("cuda") ? devices.get() : new CpuBackend();
        long t0 = System.nanoTime();
        try (Generator g = Generator.open(m, be, cache, List.of())) {
            double opened = (System.nanoTime() - t0) / 1e9;
            Generator.Settings s = new Generator.Settings(side, side, GENERATE_STEPS, 3.5, size.t5Length());
            resetPeak(be);
            t0 = System.nanoTime();
            g.generate(PROMPT, s, 0, null, null);
            double first = (System.nanoTime() - t0) / 1e9;
            t0 = System.nanoTime();
            Generator.Result r = g.generate(PROMPT, s, 1, null, null);
            double secs = (System.nanoTime() - t0) / 1e9;
            double check = 0;
            for (float v : r.latents()) {
                check += (double) v * v;
            }
            out.accept(line("generate", be, size, side, Map.of("steps", GENERATE_STEPS, "seconds", round(secs),
                    "first_s", round(first), "open_s", round(opened), "check", check,
                    "finite", Double.isFinite(check))));
        } finally {
            be.close();
        }
    }

    /**
     * Transformer passes a step ran, a backward counted as two: an erasure step (paper mode) samples t_enc steps,
     * runs the two frozen velocities and the L_esd and L_attn passes with backward; a preservation step samples up to
     * step j and reads its features under the synonym and each irrelevant concept ((1 + n)·(j + 1) passes), then one
     * pass with backward (docs/erase.md, "Cost per step").
     */
    static int forwardEquivalents(StepRecord step, int irrelevant) {
        return step.kind() == StepRecord.Kind.ERASE ? step.samplingStep() + 2 + 2 * 3
                : (1 + irrelevant) * (step.samplingStep() + 1) + 3;
    }

    private String line(String phase, Backend be, Size size, int side, Map<String, Object> figures) {
        ObjectNode o = JSON.createObjectNode();
        o.put("phase", phase);
        o.put("device", be != null ? be.name() : backend);
        o.put("config", "depth " + size.config().depth() + ", single " + size.config().depthSingleBlocks()
                + ", hidden " + size.config().hiddenSize());
        o.put("img_tokens", size.tokenSide() * size.tokenSide());
        o.put("txt_tokens", size.t5Length());
        o.put("image_side", side);
        o.put("sampling_steps", size.samplingSteps());
        if (be instanceof CudaBackend c) {
            o.put("peak_bytes", c.peakAllocatedBytes());
        } else {
            o.putNull("peak_bytes");
        }
        new java.util.TreeMap<>(figures).forEach((k, v) -> o.set(k, JSON.valueToTree(v)));
        return o.toString();
    }

    private static double round(double seconds) {
        return Math.round(seconds * 1000) / 1000.0;
    }

    private static void resetPeak(Backend be) {
        if (be instanceof CudaBackend c) {
            c.synchronize();
            c.resetPeak();
        }
    }

    // ---- the stand-ins ----------------------------------------------------------------------------------------------

    /**
     * Random embeddings of the transformer's widths for every prompt, under the identity of the folder's encoders, so
     * that the run finds them all in the cache; the token ids are the real tokenizers'.
     */
    static void fillCache(ModelFolder m, PromptCache cache, Size size, List<String> prompts) {
        T5Tokenizer t5 = T5Tokenizer.load(m.require(Component.TOKENIZER_2));
        ClipTokenizer clip = ClipTokenizer.load(m.require(Component.TOKENIZER));
        FluxConfig c = size.config();
        String identity;
        try (PromptEncoder enc = new PromptEncoder(m, new CpuBackend(), cache)) {
            identity = enc.identity();
        }
        Random rnd = new Random(3);
        for (String p : prompts) {
            cache.get(identity, p, size.t5Length(), () -> new PromptEmbeddings(t5.inputIds(p, size.t5Length()),
                    clip.inputIds(p), Tensor.of(RandomData.gaussian(rnd, (long) size.t5Length() * c.contextInDim(),
                    0.3), 1, size.t5Length(), c.contextInDim()),
                    Tensor.of(RandomData.gaussian(rnd, c.vecInDim(), 0.3), 1, c.vecInDim())));
        }
    }

    /**
     * {@code dir}/flux1-dev.safetensors, the BFL file of {@code cfg} with random bf16 values, and a config.json
     * beside it (the file alone names no config); written one tensor at a time, so host memory holds one
     * tensor at most.
     */
    static Path writeTransformer(FluxConfig cfg, Path dir, long seed) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), configJson(cfg));
        Map<String, long[]> shapes = FluxLayout.of(cfg).fileTensors(FluxLayout.Naming.BFL);
        ObjectNode header = JSON.createObjectNode();
        long offset = 0;
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long bytes = 2 * Tensor.numel(e.getValue());
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", "BF16");
            var shape = t.putArray("shape");
            for (long d : e.getValue()) {
                shape.add(d);
            }
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] h = JSON.writeValueAsBytes(header);
        // the data area starts on a multiple of 8, as safetensors writers pad the header with spaces
        int padded = (h.length + 7) / 8 * 8;
        ByteBuffer start = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).put(h);
        while (start.hasRemaining()) {
            start.put((byte) ' ');
        }
        Path file = dir.resolve("flux1-dev.safetensors");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            writeFully(ch, start.flip());
            int index = 0;
            for (Map.Entry<String, long[]> e : shapes.entrySet()) {
                Tensor t = FullSizeFluxTiming.randomBf16(e.getKey(), e.getValue(), seed * 1_000_003L + index++);
                writeFully(ch, ByteBuffer.wrap(t.data().toArray(ValueLayout.JAVA_BYTE)));
            }
        }
        return file;
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** A config.json in BFL's FluxParams keys, which name every field of {@link FluxConfig} (diffusers' fix some). */
    static String configJson(FluxConfig c) {
        ObjectNode o = JSON.createObjectNode();
        o.put("in_channels", c.inChannels());
        o.put("out_channels", c.outChannels());
        o.put("vec_in_dim", c.vecInDim());
        o.put("context_in_dim", c.contextInDim());
        o.put("hidden_size", c.hiddenSize());
        o.put("mlp_ratio", c.mlpRatio());
        o.put("num_heads", c.numHeads());
        o.put("depth", c.depth());
        o.put("depth_single_blocks", c.depthSingleBlocks());
        var axes = o.putArray("axes_dim");
        for (int a : c.axesDim()) {
            axes.add(a);
        }
        o.put("theta", c.theta());
        o.put("qkv_bias", c.qkvBias());
        o.put("guidance_embed", c.guidanceEmbed());
        return o.toPrettyString();
    }
}
