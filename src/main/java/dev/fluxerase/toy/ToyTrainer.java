package dev.fluxerase.toy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.flux.FluxGradients;
import dev.fluxerase.flux.FluxInputs;
import dev.fluxerase.flux.FluxLayout;
import dev.fluxerase.flux.FluxLayout.Param;
import dev.fluxerase.flux.FluxModel;
import dev.fluxerase.flux.FluxWeights;
import dev.fluxerase.optim.AdamW;
import dev.fluxerase.pipeline.Latents;
import dev.fluxerase.pipeline.ModelFolder;
import dev.fluxerase.pipeline.PromptEmbeddings;
import dev.fluxerase.pipeline.PromptEncoder;
import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.vae.LatentCodec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Full-parameter rectified-flow training of the toy transformer on {@link ShapeWorld}, with FluxModel's own backward
 * and AdamW, on any backend. Each step draws a batch of dataset images by index (step·batch + i), so the data needs no
 * state; every other random number of step s comes from one generator seeded by (seed, s). A checkpoint (parameters,
 * AdamW moments, EMA) written every few steps therefore resumes bit for bit.
 *
 * <p>Per sample: x0 = the codec's latent, packed; the caption, or "" with probability {@code captionDropout} (the
 * unconditional model that ESD's anchor prompt needs); σ = sigmoid(N(0, 1)) (SD3's logit-normal); ε ~ N(0, I);
 * x_t = (1 − σ)·x0 + σ·ε; target ε − x0; the guidance input uniform in [guidanceMin, guidanceMax] (the toy is not
 * guidance-distilled, so it learns to ignore it); and the CLIP pooled vector of the <em>next</em> sample's caption.
 * That last choice decorrelates the pooled vector from the image: EraseAnything's LoRA acts on the T5 tokens' queries
 * and keys only, and in FLUX.1-dev the concept reaches the image mostly through those tokens; a toy model free to read
 * the shape from the global pooled vector would keep drawing it whatever the LoRA does (README.md of the toy folder).
 *
 * <p>Loss: mean squared error over every latent value; gradients clipped to a global norm; AdamW with linear warm-up
 * and an optional final linear decay; an exponential moving average of the parameters is what gets exported (bf16).
 */
public final class ToyTrainer implements AutoCloseable {
    static final String CHECKPOINT = "checkpoint.safetensors";
    static final String FORMAT = "flux-erase-toy-checkpoint-1";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Everything that decides the trained weights. */
    public record Settings(long seed, int steps, int batch, double lr, int warmup, int decay, double emaDecay,
                           double captionDropout, double guidanceMin, double guidanceMax, double clipNorm,
                           double weightDecay) {
        public static final Settings DEFAULT = new Settings(0, 36000, 64, 1e-3, 200, 12000, 0.999, 0.1, 1.0, 5.0,
                1.0, 0.0);

        public Settings {
            if (steps < 1 || batch < 2 || warmup < 0 || decay < 0 || decay > steps) {
                throw new IllegalArgumentException("toy-train: steps must be ≥ 1, batch ≥ 2, warm-up ≥ 0 and decay "
                        + "between 0 and steps, got steps " + steps + ", batch " + batch + ", warm-up " + warmup
                        + ", decay " + decay);
            }
            if (!(lr > 0) || !(emaDecay >= 0 && emaDecay < 1) || !(captionDropout >= 0 && captionDropout <= 1)
                    || !(guidanceMax >= guidanceMin) || !(clipNorm > 0) || !(weightDecay >= 0)) {
                throw new IllegalArgumentException("toy-train: invalid setting (lr " + lr + ", ema " + emaDecay
                        + ", caption dropout " + captionDropout + ", guidance " + guidanceMin + ".." + guidanceMax
                        + ", clip norm " + clipNorm + ", weight decay " + weightDecay + ")");
            }
        }

        public Settings withSteps(int n) {
            return withSchedule(n, decay);
        }

        public Settings withSchedule(int n, int decaySteps) {
            return new Settings(seed, n, batch, lr, warmup, decaySteps, emaDecay, captionDropout, guidanceMin,
                    guidanceMax, clipNorm, weightDecay);
        }

        /**
         * Learning rate of step s: linear warm-up over the first {@code warmup} steps, constant, then linear decay
         * towards zero over the last {@code decay} steps (the last step still moves, by lr/decay).
         */
        public double lr(int s) {
            double f = warmup == 0 ? 1 : Math.min(1.0, (s + 1.0) / warmup);
            if (decay > 0 && s >= steps - decay) {
                f = Math.min(f, (steps - (double) s) / decay);
            }
            return lr * f;
        }

        public ObjectNode toJson() {
            ObjectNode n = JsonNodeFactory.instance.objectNode();
            n.put("seed", seed);
            n.put("steps", steps);
            n.put("batch", batch);
            n.put("lr", lr);
            n.put("warmup", warmup);
            n.put("decay", decay);
            n.put("ema_decay", emaDecay);
            n.put("caption_dropout", captionDropout);
            n.put("guidance_min", guidanceMin);
            n.put("guidance_max", guidanceMax);
            n.put("clip_norm", clipNorm);
            n.put("weight_decay", weightDecay);
            return n;
        }

        static Settings fromJson(JsonNode n) {
            return new Settings(n.get("seed").asLong(), n.get("steps").asInt(), n.get("batch").asInt(),
                    n.get("lr").asDouble(), n.get("warmup").asInt(), n.path("decay").asInt(0),
                    n.get("ema_decay").asDouble(),
                    n.get("caption_dropout").asDouble(), n.get("guidance_min").asDouble(),
                    n.get("guidance_max").asDouble(), n.get("clip_norm").asDouble(), n.get("weight_decay").asDouble());
        }

        /**
         * Whether {@code o} continues a run of these settings after {@code done} steps: equal in everything but the
         * schedule's length and decay, and with the same learning rate for every step already taken, so that the
         * resumed run ends where a fresh run of {@code o} would (e.g. a constant-rate run extended with a decay).
         */
        boolean continuedBy(Settings o, int done) {
            if (!withSchedule(1, 0).equals(o.withSchedule(1, 0))) {
                return false;
            }
            for (int s = 0; s < done; s++) {
                if (lr(s) != o.lr(s)) {
                    return false;
                }
            }
            return true;
        }
    }

    /** One finished step. */
    public record Step(int step, double loss, double gradNorm, double lr) {
    }

    private final Settings settings;
    private final Backend be;
    private final FluxConfig config = ToyModel.TRANSFORMER;
    private final FluxLayout layout = FluxLayout.of(config);
    private final List<Param> paramList;
    private final FluxGradients gradients;
    private final Map<String, Tensor> params = new LinkedHashMap<>();
    private final Map<String, Tensor> ema = new LinkedHashMap<>();
    private final FluxModel model;
    private final AdamW opt;
    private final PromptEncoder text;
    private final LatentCodec codec;
    private final Latents geometry;
    private final Map<String, PromptEmbeddings> prompts = new HashMap<>();
    private final double[][] imgIds;
    private final double[][] txtIds;
    private int nextStep;

    /**
     * A fresh run (seeded initialisation) or, with {@code resume}, the state of {@code checkpoint}; {@code folder} is
     * a toy model folder (at least {@link ToyModel#writeFrame}) whose text encoders and codec the run uses.
     */
    public ToyTrainer(Settings settings, Path folder, Backend backend, Path checkpoint, boolean resume) {
        this.settings = settings;
        this.be = backend;
        this.paramList = layout.params();
        ModelFolder m = ModelFolder.resolve(folder.toString(), null, null);
        this.codec = m.openCodec(backend, LatentCodec.Part.ENCODER);
        this.geometry = new Latents(ToyModel.IMAGE_SIZE, ToyModel.IMAGE_SIZE, codec.downsampleFactor(),
                codec.latentChannels());
        if (geometry.tokenWidth() != config.inChannels()) {
            throw new IllegalArgumentException(folder + ": the codec's " + codec.latentChannels() + " latent channels"
                    + " pack to " + geometry.tokenWidth() + ", the toy transformer takes " + config.inChannels());
        }
        this.text = new PromptEncoder(m, backend, null);
        Map<String, float[]> restored = resume ? read(checkpoint) : null;
        Random init = new Random(RandomStreams.mix(settings.seed(), RandomStreams.INIT, 0));
        for (Param p : paramList) {
            float[] v = restored != null ? restored.get(p.name()) : initial(p, layout, init);
            params.put(p.name(), be.upload(v, p.shape()));
            ema.put(p.name(), be.upload(restored != null ? restored.get("ema." + p.name()) : v, p.shape()));
        }
        this.model = new FluxModel(FluxWeights.of(config, "toy transformer (training)", p -> params.get(p.name())),
                backend);
        this.gradients = model.newGradients(true, false);
        this.opt = new AdamW(backend, new AdamW.Settings(0.9f, 0.999f, 1e-8f, (float) settings.weightDecay()),
                new ArrayList<>(params.values()));
        if (restored != null) {
            List<float[]> first = new ArrayList<>();
            List<float[]> second = new ArrayList<>();
            for (Param p : paramList) {
                first.add(restored.get("adam_m." + p.name()));
                second.add(restored.get("adam_v." + p.name()));
            }
            opt.restore(nextStep, first, second);
        }
        this.imgIds = new double[][]{geometry.imageIds()};
        this.txtIds = new double[][]{Latents.textIds(ToyModel.T5_LENGTH)};
    }

    /**
     * PyTorch's default Linear initialisation, U(±1/√fan_in) for weights and biases, except adaLN-Zero: every
     * modulation and the output projection start at zero, so each block starts as the identity (DiT's recipe, which
     * trains faster from scratch); RMSNorm scales start at one.
     */
    private static float[] initial(Param p, FluxLayout layout, Random rng) {
        long[] shape = p.shape();
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        String n = p.name();
        if (n.endsWith("norm_q.weight") || n.endsWith("norm_k.weight") || n.endsWith("norm_added_q.weight")
                || n.endsWith("norm_added_k.weight")) {
            Arrays.fill(v, 1f);
            return v;
        }
        boolean zero = n.contains("norm1.linear") || n.contains("norm1_context.linear") || n.contains(".norm.linear")
                || n.startsWith("norm_out.linear") || n.startsWith("proj_out.");
        if (zero) {
            return v;
        }
        long[] weight = n.endsWith(".bias")
                ? layout.param(n.substring(0, n.length() - "bias".length()) + "weight").shape() : shape;
        long fanIn = weight[weight.length - 1];
        double bound = 1 / Math.sqrt(fanIn);
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
        }
        return v;
    }

    public Settings settings() {
        return settings;
    }

    public int nextStep() {
        return nextStep;
    }

    /** Runs step {@link #nextStep()} and advances. */
    public Step step() {
        int s = nextStep;
        int b = settings.batch();
        int tokens = geometry.tokens();
        int width = geometry.tokenWidth();
        int per = tokens * width;
        Random rng = new Random(RandomStreams.mix(settings.seed(), RandomStreams.STEP, s));
        String[] captions = new String[b];
        float[] x0 = new float[b * per];
        float[] xt = new float[b * per];
        float[] target = new float[b * per];
        double[] sigma = new double[b];
        double[] guidance = new double[b];
        for (int i = 0; i < b; i++) {
            ShapeWorld.Sample smp = ShapeWorld.sample(settings.seed(), (long) s * b + i);
            captions[i] = rng.nextDouble() < settings.captionDropout() ? "" : smp.caption();
            float[] lat = geometry.pack(Floats.toF32(codec.encode(smp.image().toTensor())));
            System.arraycopy(lat, 0, x0, i * per, per);
            sigma[i] = 1 / (1 + Math.exp(-rng.nextGaussian()));
            guidance[i] = settings.guidanceMin() + (settings.guidanceMax() - settings.guidanceMin()) * rng.nextDouble();
            float sg = (float) sigma[i];
            for (int j = i * per; j < (i + 1) * per; j++) {
                float eps = (float) rng.nextGaussian();
                xt[j] = (1 - sg) * x0[j] + sg * eps;
                target[j] = eps - x0[j];
            }
        }
        int n = ToyModel.T5_LENGTH;
        float[] txt = new float[b * n * config.contextInDim()];
        float[] y = new float[b * config.vecInDim()];
        for (int i = 0; i < b; i++) {
            float[] t5 = Floats.toF32(embed(captions[i]).t5());
            System.arraycopy(t5, 0, txt, i * t5.length, t5.length);
            float[] pooled = Floats.toF32(embed(captions[(i + 1) % b]).clipPooled());
            System.arraycopy(pooled, 0, y, i * pooled.length, pooled.length);
        }
        FluxInputs in = new FluxInputs(be.upload(xt, b, tokens, width), be.upload(txt, b, n, config.contextInDim()),
                be.upload(y, b, config.vecInDim()), imgIds, txtIds, sigma, guidance);
        float[] v = be.download(model.forward(in, false));
        double loss = 0;
        float[] dv = new float[v.length];
        float k = 2f / v.length;
        for (int j = 0; j < v.length; j++) {
            float d = v[j] - target[j];
            loss += (double) d * d;
            dv[j] = k * d;
        }
        loss /= v.length;
        FluxGradients g = gradients;
        g.zero(be);
        model.backward(be.upload(dv, b, tokens, width), g);
        List<Tensor> gl = new ArrayList<>(g.params().values());
        double norm = 0;
        for (Tensor t : gl) {
            norm += be.dot(t, t);
        }
        norm = Math.sqrt(norm);
        if (norm > settings.clipNorm()) {
            float c = (float) (settings.clipNorm() / norm);
            for (Tensor t : gl) {
                be.scale(t, c);
            }
        }
        double lr = settings.lr(s);
        opt.step(gl, (float) lr);
        float d = (float) settings.emaDecay();
        for (Map.Entry<String, Tensor> e : ema.entrySet()) {
            be.scale(e.getValue(), d);
            be.axpy(1 - d, params.get(e.getKey()), e.getValue());
        }
        nextStep = s + 1;
        return new Step(s, loss, norm, lr);
    }

    private PromptEmbeddings embed(String caption) {
        return prompts.computeIfAbsent(caption, c -> text.encode(c, ToyModel.T5_LENGTH));
    }

    /** The EMA parameters' F32 values by internal name (what gets exported and evaluated). */
    public Map<String, float[]> emaValues() {
        Map<String, float[]> out = new LinkedHashMap<>();
        ema.forEach((k, t) -> out.put(k, be.download(t)));
        return out;
    }

    /** Writes the state after {@link #nextStep()} steps, atomically, with {@code log} (JSON lines so far). */
    public void writeCheckpoint(Path file, String log) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        for (int i = 0; i < paramList.size(); i++) {
            String n = paramList.get(i).name();
            t.put(n, params.get(n));
            t.put("ema." + n, ema.get(n));
            t.put("adam_m." + n, opt.firstMoments().get(i));
            t.put("adam_v." + n, opt.secondMoments().get(i));
        }
        Map<String, Tensor> host = new LinkedHashMap<>();
        t.forEach((k, v) -> host.put(k, Tensor.of(be.download(v), v.shape())));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("next_step", Integer.toString(nextStep));
        meta.put("settings", settings.toJson().toString());
        meta.put("log", log);
        SafetensorsWriter.write(file, host, meta);
    }

    /** Reads a checkpoint's tensors and sets the next step; one line naming the file when it does not fit. */
    private Map<String, float[]> read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("--resume: no " + file + " (nothing to resume)");
        }
        try (TensorSource src = Safetensors.open(file)) {
            Map<String, String> meta = src.metadata();
            if (!FORMAT.equals(meta.get("format"))) {
                throw new IllegalArgumentException(file + ": not a toy-train checkpoint (format " + meta.get("format")
                        + ", expected " + FORMAT + ")");
            }
            Settings saved = Settings.fromJson(JSON.readTree(meta.get("settings")));
            int done = Integer.parseInt(meta.get("next_step"));
            if (!saved.continuedBy(settings, done)) {
                throw new IllegalArgumentException(file + ": the checkpoint was trained with " + saved.toJson()
                        + "; resuming needs the same settings (steps and decay may change where they leave the "
                        + "learning rate of the " + done + " steps taken unchanged), got " + settings.toJson());
            }
            nextStep = done;
            Map<String, float[]> out = new HashMap<>();
            for (Param p : paramList) {
                for (String prefix : new String[]{"", "ema.", "adam_m.", "adam_v."}) {
                    String n = prefix + p.name();
                    if (!src.contains(n)) {
                        throw new IllegalArgumentException(file + ": tensor " + n + " missing");
                    }
                    Tensor t = src.tensor(n);
                    if (!Arrays.equals(t.shape(), p.shape()) || t.dtype() != DType.F32) {
                        throw new IllegalArgumentException(file + ": tensor " + n + ": expected "
                                + Arrays.toString(p.shape()) + " F32, got " + Arrays.toString(t.shape()) + " "
                                + t.dtype());
                    }
                    out.put(n, Floats.toF32(t));
                }
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read the settings: " + e.getMessage(), e);
        }
    }

    /** The log stored in a checkpoint (JSON lines), or "" for none. */
    public static String log(Path file) {
        try (TensorSource src = Safetensors.open(file)) {
            return src.metadata().getOrDefault("log", "");
        }
    }

    @Override
    public void close() {
        text.close();
        codec.close();
    }
}
