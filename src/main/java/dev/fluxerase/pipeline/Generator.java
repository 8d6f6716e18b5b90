package dev.fluxerase.pipeline;

import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.flux.FluxModel;
import dev.fluxerase.flux.FluxWeights;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.pipeline.ModelFolder.Component;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.vae.LatentCodec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;

/**
 * Text to image with FLUX.1, as diffusers' FluxPipeline does it: encode the prompt (CLIP pooled + T5 states), start
 * from seeded noise or given packed latents, run the Euler sampler with the folder's scheduler settings, unpack, decode
 * with the folder's latent codec (FLUX's VAE: z/scaling + shift, then the decoder), and quantise to 8-bit RGB. The
 * transformer, the text encoders and the VAE all compute on the one backend the generator is opened with. One model
 * load serves many images.
 */
public final class Generator implements AutoCloseable {

    /** Per-image settings; FluxPipeline's defaults are 28 steps, guidance 3.5, 1024², T5 length 512. */
    public record Settings(int width, int height, int steps, double guidance, int t5Length) {
        public Settings {
            if (steps < 1) {
                throw new PipelineException("--steps must be at least 1, got " + steps);
            }
            if (!Double.isFinite(guidance)) {
                throw new PipelineException("--guidance must be a finite number, got " + guidance);
            }
        }

        /** What decides an image besides its prompt and seed, as index.csv records it. */
        public String describe(ModelFolder m, List<LoraStack.Entry> loras) {
            return String.format(Locale.ROOT, "%dx%d, %d steps, guidance %s, T5 length %d, model %s, LoRAs %s", width,
                    height, steps, guidance, t5Length, m.describe(), loras.isEmpty() ? "none"
                            : loras.stream().map(e -> e.file() + ":" + e.scale()).toList());
        }
    }

    /** The final packed latents, the decoded image [1, 3, H, W] in about [−1, 1] before clamping, and the 8-bit image. */
    public record Result(Latents geometry, float[] latents, Tensor decoded, RgbImage image) {
    }

    private final FluxWeights weights;
    private final FluxModel model;
    private final LatentCodec codec;
    private final FlowMatchScheduler scheduler;
    private final PromptEncoder prompts;
    private final List<String> warnings;

    private Generator(FluxWeights weights, FluxModel model, LatentCodec codec, FlowMatchScheduler scheduler,
                      PromptEncoder prompts, List<String> warnings) {
        this.weights = weights;
        this.model = model;
        this.codec = codec;
        this.scheduler = scheduler;
        this.prompts = prompts;
        this.warnings = warnings;
    }

    /**
     * Loads the transformer and the codec's decoder (on {@code backend}), the LoRAs and the scheduler settings of a
     * model folder; text encoders load, on the same backend, on the first prompt that misses {@code cache} (which may be
     * null).
     */
    public static Generator open(ModelFolder m, Backend backend, PromptCache cache, List<LoraStack.Entry> loras) {
        PromptEncoder.requireFolders(m);
        FluxWeights w = m.openTransformer();
        try {
            FluxModel model = new FluxModel(w.to(backend), backend);
            // sampling never runs a backward, so one block's activations at a time are enough: at 1024² FLUX.1-dev
            // holds 5.8 GiB instead of about 69 GiB (inferenceBytes)
            model.setCheckpointing(true);
            LoraStack.Attached lora = LoraStack.load(loras, w.config());
            if (!lora.modules().isEmpty()) {
                model.setLora(lora.modules(), lora.multiplier());
            }
            LatentCodec codec = m.openCodec(backend, LatentCodec.Part.DECODER);
            return new Generator(w, model, codec, scheduler(m, model), new PromptEncoder(m, backend, cache),
                    lora.warnings());
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    /**
     * Refuses, from the configs and file headers alone and before the model loads, a size whose sampling of
     * {@code images} at once does not fit: on the heap, the transformer's buffers and the decoder's maps on a host
     * backend, only the images that come back on a device; on a device, also its free memory ({@link #requireDevice}).
     */
    public static void requireMemory(ModelFolder m, Settings s, int images, Backend backend) {
        LatentCodec codec = m.openCodec(backend);
        Latents g = new Latents(s.width(), s.height(), codec.downsampleFactor(), codec.latentChannels());
        FluxConfig fc = m.transformerConfig();
        MemoryEstimate.of(fc, codec, g, s.t5Length(), images, backend.device() == Device.CPU)
                .require(describe(s, images), Runtime.getRuntime().maxMemory());
        OptionalLong free = backend.freeMemory();
        if (free.isPresent()) {
            long weights = FluxWeights.fileBytes(m.require(Component.TRANSFORMER)) + PromptEncoder.weightBytes(m);
            requireDevice(fc, codec, g, s, images, weights, free.getAsLong(), backend.name());
        }
    }

    private static String describe(Settings s, int images) {
        return "a " + s.width() + "x" + s.height() + (images == 1 ? " image" : " batch of " + images + " images");
    }

    /**
     * Refuses sampling {@code images} at once on a device with {@code free} bytes free ({@code device} names it): the
     * weights ({@code weightBytes}: the transformer's and the text encoders', which sit beside it once a prompt misses
     * the cache), the transformer's buffers (F32 MLP activations, an upper bound of BF16's) and the VAE's parameters
     * and maps while it decodes, with a tenth to spare ({@link MemoryEstimate#fits}) for what is not counted (the
     * backend's scratch, the GEMM workspace). The message gives the largest batch that would fit, if any.
     */
    static void requireDevice(FluxConfig fc, LatentCodec codec, Latents g, Settings s, int images, long weightBytes,
                              long free, String device) {
        long need = deviceBytes(fc, codec, g, s, images, weightBytes);
        if (MemoryEstimate.fits(need, free)) {
            return;
        }
        int fits = images - 1;
        while (fits > 0 && !MemoryEstimate.fits(deviceBytes(fc, codec, g, s, fits, weightBytes), free)) {
            fits--;
        }
        long activations = FluxModel.inferenceBytes(fc, images, s.t5Length(), g.tokens(), DType.F32);
        throw new PipelineException(describe(s, images) + " needs about " + MemoryEstimate.bytes(need) + " of device "
                + "memory (weights " + MemoryEstimate.bytes(weightBytes) + ", transformer buffers "
                + MemoryEstimate.bytes(activations) + ", VAE decode " + MemoryEstimate.bytes(codec.deviceDecodeBytes(
                images, g.latentHeight(), g.latentWidth())) + "), more than the " + MemoryEstimate.bytes(free)
                + " free on " + device + "; " + (fits > 0 ? "--batch-size " + fits + " would fit, or " : "")
                + "use a smaller size, or free memory on the GPU (nvidia-smi lists the processes that hold it)");
    }

    private static long deviceBytes(FluxConfig fc, LatentCodec codec, Latents g, Settings s, int images,
                                    long weightBytes) {
        return weightBytes + FluxModel.inferenceBytes(fc, images, s.t5Length(), g.tokens(), DType.F32)
                + codec.deviceDecodeBytes(images, g.latentHeight(), g.latentWidth());
    }

    /**
     * A generator around a model its caller owns and keeps using (an erase run's, whose LoRA is read by reference, so
     * it draws with the LoRA as trained so far), with the folder's codec decoder (on the model's backend) and scheduler
     * settings and the caller's prompt encoder. Closing it closes the decoder and leaves the model and the encoder to
     * their owner.
     */
    public static Generator around(ModelFolder m, FluxModel model, PromptEncoder prompts) {
        return new Generator(null, model, m.openCodec(model.backend(), LatentCodec.Part.DECODER), scheduler(m, model),
                prompts, List.of());
    }

    private static FlowMatchScheduler scheduler(ModelFolder m, FluxModel model) {
        Path sched = m.path(Component.SCHEDULER);
        return sched != null ? FlowMatchScheduler.read(sched)
                : model.config().guidanceEmbed() ? FlowMatchScheduler.FLUX_DEV : FlowMatchScheduler.FLUX_SCHNELL;
    }

    public FluxModel model() {
        return model;
    }

    public FlowMatchScheduler scheduler() {
        return scheduler;
    }

    public PromptEncoder prompts() {
        return prompts;
    }

    /** Things worth showing the user (ignored LoRA tensors and the like). */
    public List<String> warnings() {
        return warnings;
    }

    /** The latent geometry of a width × height image for this model's codec. */
    public Latents geometry(int width, int height) {
        return new Latents(width, height, codec.downsampleFactor(), codec.latentChannels());
    }

    /**
     * Generates one image. {@code initial} (packed [L, 4C]) replaces the seeded noise when not null; the listener sees
     * every step.
     */
    public Result generate(String prompt, Settings s, long seed, float[] initial, EulerSampler.Listener listener) {
        Latents g = geometry(s.width(), s.height());
        PromptEmbeddings e = prompts.encode(prompt, s.t5Length());
        float[] x0 = initial != null ? initial : g.noise(seed);
        float[] latents = new EulerSampler(model, scheduler).sample(e, g, x0, s.steps(), s.guidance(), listener);
        return decode(g, latents);
    }

    /**
     * Generates one image per seed from one prompt, all of them in each transformer call ({@link EulerSampler}'s batched
     * sample); each result is the one {@link #generate(String, Settings, long, float[], EulerSampler.Listener)} gives for
     * its seed. Memory grows with the batch like the transformer's activations: B times those of one image.
     */
    public List<Result> generate(String prompt, Settings s, long[] seeds, EulerSampler.Listener listener) {
        Latents g = geometry(s.width(), s.height());
        PromptEmbeddings e = prompts.encode(prompt, s.t5Length());
        float[][] x0 = new float[seeds.length][];
        for (int i = 0; i < seeds.length; i++) {
            x0[i] = g.noise(seeds[i]);
        }
        float[][] latents = new EulerSampler(model, scheduler).sample(e, g, x0, s.steps(), s.guidance(), listener);
        List<Result> out = new ArrayList<>();
        for (float[] l : latents) {
            out.add(decode(g, l));
        }
        return out;
    }

    /** Unpacks final latents and decodes them: [1, 3, H, W] and the 8-bit image. */
    public Result decode(Latents g, float[] latents) {
        Tensor z = Tensor.of(g.unpack(latents), 1, g.channels(), g.latentHeight(), g.latentWidth());
        Tensor decoded = codec.decode(z);
        return new Result(g, latents, decoded, RgbImage.fromTensor(decoded, 0));
    }

    @Override
    public void close() {
        codec.close();
        // a generator around someone else's model (no weights of its own) has no more of its own to release
        if (weights != null) {
            prompts.close();
            weights.close();
        }
    }
}
