package dev.fluxerase.erase;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.fluxerase.erase.StepRecord.Kind;
import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.flux.FluxGradients;
import dev.fluxerase.flux.FluxModel;
import dev.fluxerase.flux.FluxWeights;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.io.AtomicFiles;
import dev.fluxerase.lora.LoraModule;
import dev.fluxerase.lora.LoraSet;
import dev.fluxerase.optim.AdamW;
import dev.fluxerase.pipeline.Backends;
import dev.fluxerase.pipeline.FlowMatchScheduler;
import dev.fluxerase.pipeline.Generator;
import dev.fluxerase.pipeline.Latents;
import dev.fluxerase.pipeline.MemoryEstimate;
import dev.fluxerase.pipeline.ModelFolder.Component;
import dev.fluxerase.pipeline.ModelFolder;
import dev.fluxerase.pipeline.PromptCache;
import dev.fluxerase.pipeline.PromptEncoder;
import dev.fluxerase.pipeline.StaleTemporaries;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.text.T5Tokenizer;
import dev.fluxerase.vae.LatentCodec;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Random;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import java.util.stream.Stream;

/**
 * The EraseAnything trainer (METHOD.md §3): one rank-r LoRA on {@code attn.add_q_proj} and {@code attn.add_k_proj} of
 * every double block, trained by alternating steps on one AdamW state whose learning rate is switched per step. Even
 * steps are erasure steps (1·L_esd + 0.001·L_attn at {@code lr_erase}), odd steps preservation steps
 * (0.1·L_lora + 0.1·L_rsc at {@code lr_preserve}); with both preservation weights 0 every step is an erasure step.
 * The output folder receives the LoRA in diffusers/peft format ({@value #LORA_FILE}), the run record
 * ({@value #RECORD_FILE}) and {@code checkpoint.safetensors}. See docs/erase.md.
 */
public final class Trainer implements AutoCloseable {
    public static final String LORA_FILE = "pytorch_lora_weights.safetensors";
    public static final String RECORD_FILE = "run.json";
    public static final String LOG_FILE = "log.jsonl";
    static final String SNAPSHOTS = "snapshots";
    private static final Pattern SNAPSHOT = Pattern.compile("lora-step-(\\d+)\\.safetensors");
    private static final double ADAM_BETA1 = 0.9;
    private static final double ADAM_BETA2 = 0.999;
    private static final double ADAM_EPS = 1e-8;

    /** Sees the run as it goes. */
    public interface Listener {
        void onStart(int firstStep, int steps);

        void onStep(StepRecord step, int steps);
    }

    /** The ESD timestep: the sampling step t_enc and the transformer's timestep input σ. */
    record Time(int tEnc, double sigma) {
    }

    private final RunConfig config;
    private final Path out;
    private final ModelFolder folder;
    private final FluxWeights weights;
    private final FluxModel model;
    private final Backend be;
    private final Passes passes;
    private final Passes.Schedule schedule;
    private final ReleasedSampler releasedSampler;
    private final int trainTimesteps;
    private final T5Tokenizer tokenizer;
    private final PromptEncoder prompts;
    private final List<String> imageNames;
    private final List<String> imageIds;
    private final List<ImageLatent> latents;
    private final List<PreserveImages.Item> preserveItems;
    private final List<ImageLatent> preserveLatents;
    private final Words words;
    private final List<LoraModule> modules;
    private final AdamW optimizer;
    private final FluxGradients grads;
    private final List<JsonNode> history;
    private final Map<String, Passes.Cond> fixedPrompts = new HashMap<>();
    private final Validation validation;
    private int nextStep;
    private int permutationEpoch = -1;
    private List<Integer> permutation;

    private Trainer(RunConfig config, ModelFolder folder, FluxWeights weights, FluxModel model, Passes passes,
                    Passes.Schedule schedule, ReleasedSampler releasedSampler, int trainTimesteps,
                    T5Tokenizer tokenizer, PromptEncoder prompts, List<ConceptImages.Image> images,
                    List<ImageLatent> latents, List<PreserveImages.Item> preserveItems,
                    List<ImageLatent> preserveLatents, Words words, List<LoraModule> modules, AdamW optimizer,
                    List<JsonNode> history, int nextStep, Consumer<String> progress) {
        this.config = config;
        this.out = Path.of(config.output());
        this.folder = folder;
        this.weights = weights;
        this.model = model;
        this.be = model.backend();
        this.passes = passes;
        this.schedule = schedule;
        this.releasedSampler = releasedSampler;
        this.trainTimesteps = trainTimesteps;
        this.tokenizer = tokenizer;
        this.prompts = prompts;
        this.imageNames = images.stream().map(ConceptImages.Image::name).toList();
        this.imageIds = images.stream().map(i -> i.name() + " " + i.digest()).toList();
        this.latents = latents;
        this.preserveItems = preserveItems;
        this.preserveLatents = preserveLatents;
        this.words = words;
        this.modules = modules;
        this.optimizer = optimizer;
        this.grads = model.newGradients(false, false);
        this.history = history;
        this.nextStep = nextStep;
        this.validation = new Validation(config, words, folder, model, prompts, progress);
    }

    /**
     * Loads everything a run needs and checks the configuration against the model: the backend ({@code backend}, the
     * choice and why reported to {@code progress}), the transformer on it (with the LoRA attached), the T5 tokenizer,
     * the scheduler settings, the concept images (encoded once by the latent codec, then released), the words, with
     * {@code preserve: irrelevant} the preservation images (generated into the output folder when it does not hold
     * them yet, by the run's model with its LoRA held at zero; {@code progress} hears about it), and, when
     * {@code resume} is not null, the checkpoint's LoRA and optimizer state. Text encoders load on the first prompt
     * that {@code cache} (may be null) does not hold.
     */
    public static Trainer open(RunConfig cfg, Path hubCache, PromptCache cache, Checkpoint.State resume,
                               Consumer<String> warnings, Consumer<String> progress) {
        return open(cfg, hubCache, cache, resume, warnings, progress, Backends::gpu);
    }

    /**
     * {@link #open(RunConfig, Path, PromptCache, Checkpoint.State, Consumer, Consumer)} with the GPU backend, should the
     * run's backend be cuda or auto, made by {@code gpu} (a test's stand-in) instead of {@link Backends#gpu}.
     */
    public static Trainer open(RunConfig cfg, Path hubCache, PromptCache cache, Checkpoint.State resume,
                               Consumer<String> warnings, Consumer<String> progress, Supplier<Backend> gpu) {
        // before anything heavy loads: a key_word_sense WordNet does not have is reported at once
        Words words = resume != null ? resume.words() : Words.choose(cfg);
        ModelFolder m = ModelFolder.resolve(cfg.model(), path(cfg.transformer()), path(cfg.vae()), hubCache);
        PromptEncoder.requireFolders(m);
        Backend be = Backends.open(cfg.backend(), progress, gpu);
        FluxWeights w = null;
        PromptEncoder enc = null;
        try {
            w = m.openTransformer();
            // on a device the text encoders' weights sit beside the transformer's once a prompt misses the cache
            requireMemory(cfg, m.transformerConfig(), m.openCodec(), be, w.byteSize() + PromptEncoder.weightBytes(m));
            FluxConfig fc = w.config();
            FluxModel model = new FluxModel(w.to(be), be);
            model.setCheckpointing(cfg.gradientCheckpointing());
            model.setMlpActivations(cfg.activations().dtype());
            RunConfig rc = cfg.withAttentionBlocks(resolveBlocks(cfg.attentionBlocks(), fc.depth()));
            if (resume != null) {
                Checkpoint.requireCompatible(resume, rc);
            }
            Path schedulerConfig = m.path(Component.SCHEDULER);
            FlowMatchScheduler scheduler = schedulerConfig != null ? FlowMatchScheduler.read(schedulerConfig)
                    : fc.guidanceEmbed() ? FlowMatchScheduler.FLUX_DEV : FlowMatchScheduler.FLUX_SCHNELL;
            T5Tokenizer tok = T5Tokenizer.load(m.require(Component.TOKENIZER_2));
            checkPrompt(rc, tok);

            // the VAE encoder, on the run's backend, serves this setup only: it is closed once every image is encoded
            LatentCodec codec = m.openCodec(be, LatentCodec.Part.ENCODER);
            int factor = 2 * codec.downsampleFactor();
            RunConfig.require(rc.resolution() % factor == 0, "resolution", "must be a multiple of " + factor
                    + " (the VAE's factor " + codec.downsampleFactor() + " times the 2x2 packing), got "
                    + rc.resolution());
            Latents geometry = new Latents(rc.resolution(), rc.resolution(), codec.downsampleFactor(),
                    codec.latentChannels());
            if (geometry.tokenWidth() != fc.inChannels()) {
                throw new EraseException("the VAE's " + geometry.channels() + " latent channels pack to "
                        + geometry.tokenWidth() + " per token, the transformer takes in_channels " + fc.inChannels());
            }
            List<ConceptImages.Image> images = ConceptImages.load(Path.of(rc.instanceImages()), rc.resolution(),
                    rc.crop(), rc.seed());
            if (images.size() < 3 || images.size() > 5) {
                warnings.accept(RunConfig.describe("instance_images") + " has " + images.size()
                        + " PNG image(s); EraseAnything's authors train on 3-5 images of the concept");
            }
            if (resume != null) {
                Checkpoint.requireSameImages(resume, images.stream().map(i -> i.name() + " " + i.digest()).toList());
            }
            // every image is encoded once per run, packed as the transformer takes it
            Function<RgbImage, ImageLatent> encode = img -> ImageLatent.encode(codec, geometry, img, rc.latents());
            List<ImageLatent> latents = images.stream().map(img -> encode.apply(img.pixels())).toList();

            List<LoraModule> modules = new ArrayList<>();
            List<float[]> moments1 = new ArrayList<>();
            List<float[]> moments2 = new ArrayList<>();
            for (LoraModule host : LoraSet.create(fc, LoraSet.DEFAULT_TARGETS, rc.rank(), (float) rc.alpha(),
                    rc.seed(), LoraSet.Init.GAUSSIAN).modules()) {
                if (resume != null) {
                    restore(resume, host, moments1, moments2);
                } else if (rc.loraDtype() == RunConfig.LoraDtype.BF16) {
                    // peft draws A in f32 and then casts the adapter to the dtype of the bf16 base layer
                    for (long i = 0; i < host.a().numel(); i++) {
                        host.a().set(i, Floats.roundToBf16(host.a().get(i)));
                    }
                }
                // the factors live where the model computes (a copy on a GPU, these very tensors on the CPU), and
                // come back to the host only for checkpoints and saves
                modules.add(host.map(be::toDevice));
            }
            model.setLora(modules, 1f);
            List<Tensor> params = new ArrayList<>();
            for (LoraModule mod : modules) {
                params.add(mod.a());
                params.add(mod.b());
            }
            AdamW opt = new AdamW(be, new AdamW.Settings(ADAM_BETA1, ADAM_BETA2, ADAM_EPS, rc.weightDecay()), params,
                    rc.loraDtype().dtype());
            List<JsonNode> history = new ArrayList<>();
            int next = 0;
            if (resume != null) {
                opt.restore(resume.adamSteps(), moments1, moments2);
                history = Checkpoint.history(resume);
                next = resume.nextStep();
            }
            Passes passes = new Passes(model, geometry, rc.attentionBlocks());
            enc = new PromptEncoder(m, be, cache);
            PromptEncoder prompts = enc;
            List<PreserveImages.Item> preserveItems = List.of();
            List<ImageLatent> preserveLatents = List.of();
            if (rc.preserve() == RunConfig.Preserve.IRRELEVANT && rc.alternates() && rc.weightLora() > 0) {
                preserveItems = passes.frozen(() -> PreserveImages.prepare(rc, () -> Generator.around(m, model,
                        prompts), words.irrelevant(), progress));
                preserveLatents = preserveItems.stream().map(item -> encode.apply(item.pixels())).toList();
            }
            codec.close();
            ReleasedSampler released = rc.sampler() == RunConfig.Sampler.RELEASED
                    ? new ReleasedSampler(scheduler, rc.samplingSteps()) : null;
            return new Trainer(rc, m, w, model, passes, schedule(scheduler, rc.samplingSteps(), geometry), released,
                    scheduler.numTrainTimesteps(), tok, enc, images, latents, preserveItems, preserveLatents, words,
                    modules, opt, history, next, progress);
        } catch (RuntimeException e) {
            if (enc != null) {
                enc.close();
            }
            if (w != null) {
                w.close();
            }
            be.close();
            throw e;
        }
    }

    /** The sampler's sigmas and transformer timestep inputs, as {@code EulerSampler} uses them. */
    private static Passes.Schedule schedule(FlowMatchScheduler scheduler, int steps, Latents geometry) {
        float[] sigmas = scheduler.sigmas(steps, geometry.tokens());
        float[] timesteps = scheduler.timesteps(sigmas);
        double[] inputs = new double[timesteps.length];
        for (int k = 0; k < inputs.length; k++) {
            inputs[k] = scheduler.modelSigma(timesteps[k]);
        }
        return Passes.Schedule.of(sigmas, inputs);
    }

    private static Path path(String p) {
        return p == null ? null : Path.of(p);
    }

    /**
     * Refuses, before any weight is read, a run that cannot fit where its big buffers will live: on a host backend the
     * Java heap ({@link #requireHeap}; the weights are mapped, not on the heap), on a device its free memory
     * ({@link Backend#freeMemory}), which also holds the weights ({@code weightBytes}: the transformer's and the text
     * encoders').
     */
    static void requireMemory(RunConfig c, FluxConfig fc, LatentCodec codec, Backend be, long weightBytes) {
        OptionalLong free = be.freeMemory();
        if (free.isEmpty()) {
            requireHeap(c, fc, codec, Runtime.getRuntime().maxMemory());
        } else {
            requireDevice(c, fc, codec, weightBytes, free.getAsLong(), be.name());
        }
    }

    /**
     * Refuses a run whose transformer activations and LoRA state cannot fit in {@code heapLimit} bytes
     * ({@link MemoryEstimate#fits}, as for generate): the estimate of {@link FluxModel#trainingBytes} at the run's
     * resolution and T5 length, and what turning gradient checkpointing on would need.
     */
    static void requireHeap(RunConfig c, FluxConfig fc, LatentCodec codec, long heapLimit) {
        require(c, fc, codec, 0, heapLimit, "of Java heap for the transformer's activations and the LoRA state, more "
                + "than the Java heap's " + MemoryEstimate.bytes(heapLimit), MemoryEstimate.RAISE_LIMIT);
    }

    /**
     * The same on a device with {@code free} bytes free ({@code device} names it), which holds the weights as well
     * (the transformer's and the text encoders'). Not counted: the backend's scratch (bf16 copies of GEMM operands, the
     * GEMM workspace) and the VAE's f32 parameters (335 MB for FLUX's, the encoder's only during setup), which the
     * tenth of headroom covers.
     */
    static void requireDevice(RunConfig c, FluxConfig fc, LatentCodec codec, long weightBytes, long free,
                              String device) {
        require(c, fc, codec, weightBytes, free, "of device memory for the weights ("
                + MemoryEstimate.bytes(weightBytes) + ": the transformer's and the text encoders'), the transformer's "
                + "activations and the LoRA state, more than the "
                + MemoryEstimate.bytes(free) + " free on " + device, "free memory on the GPU (nvidia-smi lists the "
                + "processes that hold it)");
    }

    /** Refuses a run needing more than {@code limit} bytes: {@code fixed}, the activations and the LoRA state. */
    private static void require(RunConfig c, FluxConfig fc, LatentCodec codec, long fixed, long limit, String what,
                                String raise) {
        if (c.resolution() % (2 * codec.downsampleFactor()) != 0) {
            return;
        }
        long tokens = new Latents(c.resolution(), c.resolution(), codec.downsampleFactor(), codec.latentChannels())
                .tokens();
        int maps = resolveBlocks(c.attentionBlocks(), fc.depth()).size();
        // A, B, their gradients and the two AdamW moments of add_q_proj and add_k_proj on every double block
        long lora = 4L * 6 * 2 * fc.depth() * c.rank() * fc.hiddenSize();
        DType mlp = c.activations().dtype();
        long need = fixed + FluxModel.trainingBytes(fc, 1, c.t5Length(), tokens, c.gradientCheckpointing(), maps, mlp)
                + lora;
        if (MemoryEstimate.fits(need, limit)) {
            return;
        }
        String other = c.gradientCheckpointing() ? "" : " (with " + RunConfig.describe("gradient_checkpointing")
                + ": about " + MemoryEstimate.bytes(fixed + FluxModel.trainingBytes(fc, 1, c.t5Length(), tokens, true,
                maps, mlp) + lora) + ")";
        throw new EraseException("a " + c.resolution() + "x" + c.resolution() + " run needs about "
                + MemoryEstimate.bytes(need) + " " + what + other + "; " + (c.gradientCheckpointing() ? ""
                : "turn gradient checkpointing on, ") + "use a smaller resolution, or " + raise);
    }

    static List<Integer> resolveBlocks(List<Integer> blocks, int depth) {
        if (depth == 0) {
            throw new EraseException("the transformer has no double blocks to put the LoRA on");
        }
        if (blocks == null) {
            return List.of(depth - 1);
        }
        for (int b : blocks) {
            RunConfig.require(b < depth, "attention_blocks", "names double block " + b + "; the model has " + depth
                    + " (0.." + (depth - 1) + ")");
        }
        return blocks;
    }

    /** The instance prompt fits the T5 length, and the attention losses find the concept in it. */
    private static void checkPrompt(RunConfig c, T5Tokenizer tok) {
        int tokens = tok.ids(c.instancePrompt()).length;
        RunConfig.require(tokens <= c.t5Length(), "instance_prompt", "is " + (tokens - 1) + " T5 tokens; t5_length "
                + c.t5Length() + " leaves room for " + (c.t5Length() - 1));
        int[] p = c.mode() == Mode.PAPER ? conceptPositions(tok, c.instancePrompt(), c.keyWord(), c.t5Length())
                : tok.releasedCodePositions(c.instancePrompt(), c.keyWord(), c.t5Length());
        RunConfig.require(p.length > 0, "key_word", "\"" + c.keyWord() + "\" has no " + (c.mode() == Mode.PAPER
                ? "whole-word occurrence" : "T5 token match (the released code's rule)") + " in instance_prompt \""
                + c.instancePrompt() + "\"");
    }

    /** Puts a checkpoint's A and B into a new module's host tensors and adds their AdamW moments to m and v. */
    private static void restore(Checkpoint.State s, LoraModule host, List<float[]> m, List<float[]> v) {
        for (String f : new String[]{"lora_A", "lora_B"}) {
            Tensor t = f.equals("lora_A") ? host.a() : host.b();
            float[] values = s.tensor(Checkpoint.name(host.module(), f));
            if (values.length != t.numel()) {
                throw new EraseException(s.file() + ": tensor " + Checkpoint.name(host.module(), f) + " has "
                        + values.length + " values, the LoRA " + t.numel());
            }
            MemorySegment.copy(MemorySegment.ofArray(values), 0, t.data(), 0, t.byteSize());
            m.add(s.tensor(Checkpoint.name(host.module(), f + ".adam_m")));
            v.add(s.tensor(Checkpoint.name(host.module(), f + ".adam_v")));
        }
    }

    // ---- the schedule ---------------------------------------------------------------------------------------------------

    /** Erasure on even steps, preservation on odd ones; erasure always when both preservation weights are 0. */
    public static Kind kind(RunConfig c, int step) {
        return !c.alternates() || step % 2 == 0 ? Kind.ERASE : Kind.PRESERVE;
    }

    /** The learning rate of a step: lr_erase on erasure steps, lr_preserve on preservation steps. */
    public static double lr(RunConfig c, int step) {
        return kind(c, step) == Kind.ERASE ? c.lrErase() : c.lrPreserve();
    }

    public RunConfig config() {
        return config;
    }

    public Words words() {
        return words;
    }

    Passes passes() {
        return passes;
    }

    Passes.Schedule schedule() {
        return schedule;
    }

    /** A prompt's conditioning, kept for the run (as the anchor, synonym and irrelevant prompts are). */
    Passes.Cond condition(String prompt) {
        return fixed(prompt);
    }

    /** The LoRA being trained (live tensors, on the backend's device). */
    public LoraSet lora() {
        return LoraSet.of(modules);
    }

    /** A host copy of the LoRA, for the files: the only time its factors leave the device. */
    private LoraSet hostLora() {
        return LoraSet.of(modules.stream().map(m -> m.map(be::toHost)).toList());
    }

    // ---- running ------------------------------------------------------------------------------------------------------

    /**
     * Runs the remaining steps, checkpointing before the first step of a new run, every {@code checkpoint_every} steps
     * and at the end, then saves.
     */
    public void run(Listener listener) {
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new EraseException(RunConfig.describe("output") + " " + out + ": cannot create: " + e.getMessage(), e);
        }
        listener.onStart(nextStep, config.steps());
        startLog();
        if (nextStep == 0) {
            // a run killed before its first periodic checkpoint must still be resumable, from where it began
            checkpoint();
        }
        validation.start(nextStep);
        while (nextStep < config.steps()) {
            StepRecord r = step(nextStep);
            if (!Double.isFinite(r.loss())) {
                // the AdamW step has already spread it into the LoRA, so nothing of this state may reach the disk
                throw new EraseException("step " + (nextStep + 1) + "/" + config.steps() + " (" + r.kind().name()
                        .toLowerCase(Locale.ROOT) + "): the loss is " + r.loss() + " " + r.toJson().get("losses")
                        + "; stopped without saving anything of it (the output folder keeps its last checkpoint, if "
                        + "any)");
            }
            history.add(r.toJson());
            appendLog(r.toJson());
            nextStep++;
            if (config.saveEvery() > 0 && nextStep % config.saveEvery() == 0) {
                hostLora().save(snapshot(nextStep), config.loraDtype().dtype());
            }
            listener.onStep(r, config.steps());
            if (validation.due(nextStep)) {
                validation.write(nextStep);
            }
            if (nextStep % config.checkpointEvery() == 0 || nextStep == config.steps()) {
                checkpoint();
            }
        }
        hostLora().save(out.resolve(LORA_FILE), config.loraDtype().dtype());
        writeRecord(true);
    }

    /**
     * log.jsonl, one line per step, starts as the history the checkpoint holds (a killed run may have logged steps
     * after its last checkpoint, which the resumed run takes again), and snapshots and validation grids of steps after
     * it are removed for the same reason; the run then appends a line per step.
     */
    private void startLog() {
        StringBuilder sb = new StringBuilder();
        history.forEach(h -> sb.append(h).append('\n'));
        AtomicFiles.writeText(out.resolve(LOG_FILE), sb.toString());
        removeAfterCheckpoint(SNAPSHOTS, SNAPSHOT);
        removeAfterCheckpoint(Validation.DIR, Validation.GRID);
    }

    /**
     * Deletes the files of {@code dir} whose name (group 1: the step) is of a step after the checkpoint, and the
     * temporaries a killed writer left there (the run holds the folder's lock, so no writer of ours is at work).
     */
    private void removeAfterCheckpoint(String dir, Pattern name) {
        Path d = out.resolve(dir);
        if (!Files.isDirectory(d)) {
            return;
        }
        try (Stream<Path> s = Files.list(d)) {
            for (Path p : s.toList()) {
                Matcher m = name.matcher(p.getFileName().toString());
                if (m.matches() && Integer.parseInt(m.group(1)) > nextStep) {
                    Files.delete(p);
                }
            }
        } catch (IOException e) {
            throw new EraseException(d + ": cannot clean: " + e.getMessage(), e);
        }
        StaleTemporaries.remove(d, Duration.ZERO);
    }

    private void appendLog(JsonNode step) {
        try {
            Files.writeString(out.resolve(LOG_FILE), step + "\n", StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new EraseException(out.resolve(LOG_FILE) + ": cannot append: " + e.getMessage(), e);
        }
    }

    private Path snapshot(int step) {
        Path dir = out.resolve(SNAPSHOTS);
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new EraseException(dir + ": cannot create: " + e.getMessage(), e);
        }
        return dir.resolve(String.format(Locale.ROOT, "lora-step-%06d.safetensors", step));
    }

    private void writeRecord(boolean finished) {
        RunRecord.write(out.resolve(RECORD_FILE), finished, nextStep, folder.describe(), be.name(), config, words,
                imageIds, modules.size(), history, validation.toJson());
    }

    private void checkpoint() {
        ArrayNode h = JsonNodeFactory.instance.arrayNode();
        history.forEach(h::add);
        Checkpoint.write(out, nextStep, be, modules, optimizer, config, words, imageIds, h);
        writeRecord(false);
    }

    /** One training step: draws its randomness, computes its losses with gradients, takes the AdamW step. */
    StepRecord step(int s) {
        long t0 = System.nanoTime();
        Kind kind = kind(config, s);
        Random rng = RunRandom.step(config.seed(), s);
        Time time = kind == Kind.ERASE ? drawTime(rng) : drawTime(RunRandom.step(config.seed(), s - 1));
        int image = image(s);
        Augment a = Augment.draw(config.instancePrompt(), config.keyWord(), words.synonyms(), config.shuffleP(),
                config.synonymP(), rng);
        int[] posUn = positionsUn(a);
        Passes.Cond cUn = passes.condition(prompts.encode(a.prompt(), config.t5Length()));
        try {
            Random posterior = RunRandom.posterior(config.seed(), s);
            float[] x0 = latents.get(image).draw(posterior);
            grads.zero(be);
            Double esd = null;
            Double attn = null;
            Double lora = null;
            Double contrast = null;
            String preserveImage = null;
            double loss;
            int samplingStep;
            if (kind == Kind.ERASE) {
                float[] zT = RunRandom.gaussian(rng, x0.length);
                float[] eps = RunRandom.gaussian(rng, x0.length);
                Passes.Schedule sampling = samplingCalls(rng, s, 1).getFirst();
                if (config.weightEsd() > 0) {
                    esd = esd(cUn, zT, time, sampling);
                }
                if (config.weightAttn() > 0) {
                    attn = passes.attention(noisy(x0, eps, time.sigma()), cUn, time.sigma(), config.guidanceTrain(),
                            attentionColumns(config.mode(), posUn), config.weightAttn(), grads);
                }
                loss = config.weightEsd() * orZero(esd) + config.weightAttn() * orZero(attn);
                samplingStep = time.tEnc();
            } else {
                float[] eps = RunRandom.gaussian(rng, x0.length);
                float[] z0 = RunRandom.gaussian(rng, x0.length);
                samplingStep = rng.nextInt(schedule.steps());
                List<Passes.Schedule> sampling = samplingCalls(rng, s, 1 + words.irrelevant().size());
                Map<Integer, double[]> syn = null;
                Map<Integer, List<double[]>> irrelevant = null;
                boolean rsc = config.weightRsc() > 0 && posUn.length > 0;
                if (rsc) {
                    syn = passes.features(z0, fixed(a.synonym()), sampling.getFirst(), samplingStep,
                            config.guidanceSample(), positionsBare(a, a.synonym()));
                    irrelevant = new HashMap<>();
                    for (int w = 0; w < words.irrelevant().size(); w++) {
                        String word = words.irrelevant().get(w);
                        Map<Integer, double[]> f = passes.features(z0, fixed(word), sampling.get(1 + w), samplingStep,
                                config.guidanceSample(), positionsBare(a, word));
                        for (Map.Entry<Integer, double[]> e : f.entrySet()) {
                            irrelevant.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(e.getValue());
                        }
                    }
                }
                if (preserveLatents.isEmpty()) {
                    Passes.Preservation p = passes.preservation(noisy(x0, eps, time.sigma()), cUn, time.sigma(),
                            config.guidanceTrain(), target(eps, x0), posUn, syn, irrelevant, config.tau(),
                            config.weightLora(), config.weightRsc(), grads);
                    lora = config.weightLora() > 0 ? p.lora() : null;
                    contrast = rsc ? p.rsc() : null;
                } else {
                    // preserve = irrelevant: L_lora on a frozen-model image of an irrelevant concept with its prompt;
                    // the RSC feature of the concept still comes from the concept image under the instance prompt
                    int j = rng.nextInt(preserveLatents.size());
                    PreserveImages.Item item = preserveItems.get(j);
                    float[] xp = preserveLatents.get(j).draw(posterior);
                    preserveImage = item.name();
                    lora = passes.preservation(noisy(xp, eps, time.sigma()), fixed(item.prompt()), time.sigma(),
                            config.guidanceTrain(), target(eps, xp), new int[0], null, null, config.tau(),
                            config.weightLora(), 0, grads).lora();
                    if (rsc) {
                        contrast = passes.preservation(noisy(x0, eps, time.sigma()), cUn, time.sigma(),
                                config.guidanceTrain(), target(eps, x0), posUn, syn, irrelevant, config.tau(), 0,
                                config.weightRsc(), grads).rsc();
                    }
                }
                loss = config.weightLora() * orZero(lora) + config.weightRsc() * orZero(contrast);
            }
            List<Tensor> g = new ArrayList<>();
            for (LoraModule mod : modules) {
                g.add(grads.loraA(mod.module()));
                g.add(grads.loraB(mod.module()));
            }
            optimizer.step(g, lr(config, s));
            return new StepRecord(s, kind, lr(config, s), imageNames.get(image), preserveImage, a.prompt(), a.synonym(),
                    a.swapped(), posUn, samplingStep, time.sigma(), esd, attn, lora, contrast, loss,
                    (System.nanoTime() - t0) / 1e9);
        } finally {
            passes.release(cUn);
        }
    }

    private static float[] target(float[] eps, float[] x0) {
        float[] target = new float[x0.length];
        for (int i = 0; i < target.length; i++) {
            target[i] = eps[i] - x0[i];
        }
        return target;
    }

    private static double orZero(Double d) {
        return d == null ? 0 : d;
    }

    /**
     * The schedules of step s's {@code count} sampling calls (an erasure step's ESD latent; a preservation step's
     * synonym run, then one per irrelevant concept): FLUX's schedule for each, or with the released sampler, the calls
     * that follow those of the steps before, each with its own timesteps drawn from the step's generator.
     */
    private List<Passes.Schedule> samplingCalls(Random rng, int s, int count) {
        if (releasedSampler == null) {
            return Collections.nCopies(count, schedule);
        }
        long first = ReleasedSampler.callsBefore(config, words.irrelevant().size(), s);
        List<Passes.Schedule> calls = new ArrayList<>();
        for (int c = 0; c < count; c++) {
            calls.add(releasedSampler.call(first + c, releasedSampler.timesteps(rng)));
        }
        return calls;
    }

    /**
     * L_esd with its gradient. Paper mode: x_t from t_enc Euler steps of the live model under the concept prompt
     * from zT; teacher = frozen model (LoRA B at 0) at σ_{t_enc}. Released mode: x from a full sampling run; the live
     * model under stop-gradient is the teacher, at the unrelated timestep σ.
     */
    private double esd(Passes.Cond cUn, float[] zT, Time time, Passes.Schedule sampling) {
        Passes.Cond cA = fixed(config.promptB());
        double gs = config.guidanceSample();
        double sigma = time.sigma();
        if (config.mode() == Mode.PAPER) {
            float[] z = passes.sample(zT, cUn, sampling, time.tEnc(), gs);
            float[] e0 = passes.frozenVelocity(z, cA, sigma, gs);
            float[] ep = passes.frozenVelocity(z, cUn, sigma, gs);
            return passes.esd(z, cUn, sigma, gs, Losses.esdTarget(e0, ep, config.eta()), config.weightEsd(), grads);
        }
        float[] z = passes.sample(zT, cUn, sampling, sampling.steps(), gs);
        float[] e0 = passes.velocity(z, cA, sigma, gs);
        return passes.esdLive(z, cUn, sigma, gs, e0, config.eta(), config.weightEsd(), grads).loss();
    }

    /** x_t = (1 − σ)·x0 + σ·ε in float32. */
    static float[] noisy(float[] x0, float[] eps, double sigma) {
        float t = (float) sigma;
        float[] x = new float[x0.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = (1 - t) * x0[i] + t * eps[i];
        }
        return x;
    }

    /**
     * Paper: t_enc ~ U{0..n−1} and σ = the schedule's σ_{t_enc}. Released: the code's two-stage draw, t_enc ~ U{0..n−1},
     * then t ~ U{round(1000·t_enc/n) .. round(1000·(t_enc+1)/n) − 1}, σ = t/1000.
     */
    Time drawTime(Random rng) {
        int n = schedule.steps();
        int tEnc = rng.nextInt(n);
        if (config.mode() == Mode.PAPER) {
            return new Time(tEnc, schedule.inputs()[tEnc]);
        }
        int lo = (int) Math.rint((double) trainTimesteps * tEnc / n);
        int hi = (int) Math.rint((double) trainTimesteps * (tEnc + 1) / n);
        int t = hi > lo ? lo + rng.nextInt(hi - lo) : lo;
        return new Time(tEnc, t / (double) trainTimesteps);
    }

    /** The image of step s: epoch s / N visits the N images in an order shuffled by (seed, epoch). */
    private int image(int s) {
        int n = latents.size();
        int epoch = s / n;
        if (epoch != permutationEpoch) {
            List<Integer> p = new ArrayList<>(IntStream.range(0, n).boxed().toList());
            Collections.shuffle(p, RunRandom.epoch(config.seed(), epoch));
            permutation = p;
            permutationEpoch = epoch;
        }
        return permutation.get(s % n);
    }

    /**
     * The key columns L_attn sums over. The released code builds a mask from its positions, so a position its
     * find_token lists twice (a keyword with a repeated sub-token, "bye bye") counts once there; paper mode keeps the
     * positions as found, each occurrence of the keyword's tokens its own column.
     */
    static int[] attentionColumns(Mode mode, int[] positions) {
        return mode == Mode.RELEASED ? IntStream.of(positions).distinct().toArray() : positions;
    }

    /** The concept's positions in the augmented prompt (paper: recomputed; released: the code's, before the swap). */
    private int[] positionsUn(Augment a) {
        if (config.mode() == Mode.PAPER) {
            return conceptPositions(tokenizer, a.prompt(), a.conceptInPrompt(config.keyWord()), config.t5Length());
        }
        return tokenizer.releasedCodePositions(a.shuffled(), config.keyWord(), config.t5Length());
    }

    /**
     * Positions in a bare synonym or irrelevant-concept prompt: paper mode, all of its content tokens (the prompt is the
     * word); released mode, the instance prompt's positions reused, as the code does (§7.9).
     */
    private int[] positionsBare(Augment a, String word) {
        if (config.mode() == Mode.RELEASED) {
            return tokenizer.releasedCodePositions(a.shuffled(), config.keyWord(), config.t5Length());
        }
        int content = Math.min(tokenizer.ids(word).length - 1, config.t5Length() - 1);
        return IntStream.range(0, content).toArray();
    }

    /** The T5 positions of every token of the words of {@code concept} in the prompt (each word matched whole). */
    static int[] conceptPositions(T5Tokenizer tok, String prompt, String concept, int length) {
        TreeSet<Integer> p = new TreeSet<>();
        for (String w : concept.strip().split("\\s+")) {
            for (int i : tok.keywordPositions(prompt, w, length)) {
                p.add(i);
            }
        }
        return p.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The conditioning of a prompt that every step may use again (anchor, synonyms, irrelevant words). */
    private Passes.Cond fixed(String prompt) {
        Passes.Cond c = fixedPrompts.get(prompt);
        if (c == null) {
            c = passes.condition(prompts.encode(prompt, config.t5Length()));
            fixedPrompts.put(prompt, c);
        }
        return c;
    }

    @Override
    public void close() {
        prompts.close();
        weights.close();
        be.close();
    }
}
