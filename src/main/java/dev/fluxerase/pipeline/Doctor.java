package dev.fluxerase.pipeline;

import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.flux.FluxWeights;
import dev.fluxerase.pipeline.ModelFolder.Component;
import dev.fluxerase.safetensors.CheckpointKind;
import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.TensorInfo;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.text.ClipTextConfig;
import dev.fluxerase.text.ClipTokenizer;
import dev.fluxerase.text.T5Config;
import dev.fluxerase.text.T5Tokenizer;
import dev.fluxerase.vae.AutoencoderConfig;
import dev.fluxerase.vae.LatentCodec;
import dev.fluxerase.vae.PixelCodec;
import dev.fluxerase.vae.VaeWeights;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Checks a resolved {@link ModelFolder} without running anything: for each component, what was found (path, kind or
 * naming, dtypes, parameter count, the sizes that must agree) read from configs and safetensors headers, then whether the
 * parts fit together (T5 width = the transformer's joint_attention_dim, CLIP width = pooled_projection_dim, 4 × the
 * latent codec's channels = in_channels; the codec is FLUX's VAE or a weightless pixel codec). The transformer is also
 * opened the way generation opens it, so every tensor's presence and shape is checked.
 */
public final class Doctor {

    /** One component's line: its name, whether it is usable, and what was found (or why not). */
    public record Line(Component component, boolean ok, String text) {
    }

    /**
     * Every component's line and every problem (missing parts, bad files, mismatches); ok when there is none.
     * {@code defaults} describes the folder's {@link ModelDefaults}, null when it sets none.
     */
    public record Report(String model, String defaults, List<Line> lines, List<String> problems) {
        public boolean ok() {
            return problems.isEmpty();
        }
    }

    private final ModelFolder m;
    private final List<Line> lines = new ArrayList<>();
    private final List<String> problems = new ArrayList<>();
    private FluxConfig flux;
    private Integer clipHidden;
    private Integer t5Width;
    private LatentCodec codec;
    private String defaults;

    private Doctor(ModelFolder m) {
        this.m = m;
    }

    public static Report check(ModelFolder m) {
        Doctor d = new Doctor(m);
        d.run();
        return new Report(m.describe(), d.defaults, List.copyOf(d.lines), List.copyOf(d.problems));
    }

    private void run() {
        try {
            ModelDefaults md = m.defaults();
            defaults = md.equals(ModelDefaults.NONE) ? null : md.describe();
        } catch (RuntimeException e) {
            problems.add(oneLine(e));
        }
        for (Component c : Component.values()) {
            Path p = m.path(c);
            if (p == null) {
                if (c == Component.SCHEDULER) {
                    lines.add(new Line(c, true, "not found (" + m.lookedFor(c) + "): FLUX.1-dev's settings are used"));
                } else {
                    lines.add(new Line(c, false, "MISSING: looked for " + m.lookedFor(c)));
                    problems.add(c.folder() + " is missing");
                }
                continue;
            }
            String origin = m.origin(c);
            String where = origin.startsWith(c.folder() + "/") ? p.toString() : p + " (" + origin + ")";
            try {
                lines.add(new Line(c, true, where + ": " + describe(c, p)));
            } catch (RuntimeException e) {
                String msg = oneLine(e);
                lines.add(new Line(c, false, where + ": BROKEN: " + msg));
                problems.add(c.folder() + ": " + msg);
            }
        }
        mismatches();
    }

    private String describe(Component c, Path p) {
        return switch (c) {
            case TRANSFORMER -> transformer(p);
            case TEXT_ENCODER -> clip(p);
            case TEXT_ENCODER_2 -> t5(p);
            case TOKENIZER -> clipTokenizer(p);
            case TOKENIZER_2 -> t5Tokenizer(p);
            case VAE -> vae(p);
            case SCHEDULER -> scheduler(p);
        };
    }

    private String transformer(Path p) {
        Header h;
        CheckpointKind kind;
        try (TensorSource src = Safetensors.open(p)) {
            h = Header.of(src);
            kind = CheckpointKind.detect(src);
        }
        if (!(kind instanceof CheckpointKind.BflTransformer) && !(kind instanceof CheckpointKind.DiffusersTransformer)) {
            throw new PipelineException("not a FLUX transformer (neither BFL img_in.weight nor diffusers"
                    + " x_embedder.weight), " + h);
        }
        String naming = kind instanceof CheckpointKind.BflTransformer ? "BFL naming" : "diffusers naming";
        try (FluxWeights w = m.openTransformer()) {
            flux = w.config();
        }
        FluxConfig c = flux;
        return String.format(Locale.ROOT, "FLUX transformer, %s, %s; in_channels %d, hidden %d (%d heads of %d),"
                        + " joint_attention_dim %d, pooled_projection_dim %d, blocks %d double + %d single, rope axes %s,"
                        + " guidance embedding %s", naming, h, c.inChannels(), c.hiddenSize(), c.numHeads(), c.headDim(),
                c.contextInDim(), c.vecInDim(), c.depth(), c.depthSingleBlocks(), Arrays.toString(c.axesDim()),
                c.guidanceEmbed() ? "yes (dev)" : "no (schnell)");
    }

    private static String clipTokenizer(Path p) {
        ClipTokenizer t = ClipTokenizer.load(p);
        return "CLIP BPE tokenizer (vocab.json, merges.txt), BOS " + t.bosId() + ", EOS " + t.eosId();
    }

    private static String t5Tokenizer(Path p) {
        T5Tokenizer t = T5Tokenizer.load(p);
        return "T5 Unigram tokenizer (" + Path.of(t.source()).getFileName() + "), pad id " + t.padId();
    }

    private String clip(Path p) {
        ClipTextConfig c = ClipTextConfig.read(p.resolve("config.json"));
        Header h;
        try (TensorSource src = Safetensors.open(p)) {
            h = Header.of(src);
            expect(src, "text_model.embeddings.token_embedding.weight", c.vocabSize(), c.hiddenSize());
        }
        clipHidden = c.hiddenSize();
        return String.format(Locale.ROOT, "CLIPTextModel, %s; hidden %d, %d layers, %d heads, vocab %d, %d positions",
                h, c.hiddenSize(), c.numHiddenLayers(), c.numAttentionHeads(), c.vocabSize(), c.maxPositionEmbeddings());
    }

    private String t5(Path p) {
        T5Config c = T5Config.read(p.resolve("config.json"));
        Header h;
        try (TensorSource src = Safetensors.open(p)) {
            h = Header.of(src);
            expect(src, src.contains("shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight", c.vocabSize(),
                    c.dModel());
        }
        t5Width = c.dModel();
        return String.format(Locale.ROOT, "T5EncoderModel, %s; d_model %d, %d layers, %d heads, d_ff %d, vocab %d",
                h, c.dModel(), c.numLayers(), c.numHeads(), c.dFf(), c.vocabSize());
    }

    private String vae(Path p) {
        LatentCodec c = m.openCodec();
        String geometry = String.format(Locale.ROOT, "latent channels %d, image = %d x latent, scaling_factor %s,"
                        + " shift_factor %s", c.latentChannels(), c.downsampleFactor(), c.scaling().scalingFactor(),
                c.scaling().shiftFactor());
        String text = c instanceof PixelCodec px
                ? String.format(Locale.ROOT, "%s (pixel space, no weights), patch_size %d, in_channels %d; %s",
                c.kind(), px.patchSize(), px.imageChannels(), geometry)
                : autoencoder(p, geometry);
        codec = c;
        return text;
    }

    private String autoencoder(Path p, String geometry) {
        Header h;
        AutoencoderConfig c;
        String naming;
        try (VaeWeights w = m.openVae()) {
            c = w.config();
            naming = w.naming().name().toLowerCase(Locale.ROOT);
        }
        try (TensorSource src = Safetensors.open(p)) {
            h = Header.of(src);
            int[] blocks = c.blockOutChannels();
            expect(src, "decoder.conv_in.weight", blocks[blocks.length - 1], c.latentChannels(), 3, 3);
        }
        return String.format(Locale.ROOT, "AutoencoderKL, %s naming, %s; block_out_channels %s, %s", naming, h,
                Arrays.toString(c.blockOutChannels()), geometry);
    }

    private String scheduler(Path p) {
        FlowMatchScheduler s = FlowMatchScheduler.read(p);
        return "FlowMatchEulerDiscreteScheduler, " + (s.useDynamicShifting()
                ? String.format(Locale.ROOT, "dynamic shift (%s) %s..%s over %d..%d image tokens",
                s.exponential() ? "exponential" : "linear", s.baseShift(), s.maxShift(), s.baseImageSeqLen(),
                s.maxImageSeqLen())
                : "static shift " + s.shift());
    }

    private void mismatches() {
        if (flux == null) {
            return;
        }
        if (t5Width != null && t5Width != flux.contextInDim()) {
            problems.add("mismatch: the transformer's joint_attention_dim is " + flux.contextInDim()
                    + " but the T5 encoder's d_model is " + t5Width);
        }
        if (clipHidden != null && clipHidden != flux.vecInDim()) {
            problems.add("mismatch: the transformer's pooled_projection_dim is " + flux.vecInDim()
                    + " but the CLIP text model's hidden size is " + clipHidden);
        }
        if (codec != null && 4 * codec.latentChannels() != flux.inChannels()) {
            problems.add("mismatch: the vae's " + codec.kind() + " has " + codec.latentChannels() + " latent channels,"
                    + " which pack to " + 4 * codec.latentChannels() + " per token, but the transformer's in_channels"
                    + " is " + flux.inChannels());
        }
    }

    private static void expect(TensorSource src, String name, long... shape) {
        if (!src.contains(name)) {
            throw new PipelineException(src.describe() + ": tensor " + name + " missing (expected "
                    + Arrays.toString(shape) + ")");
        }
        TensorInfo info = src.info(name);
        if (!Arrays.equals(info.shape(), shape)) {
            throw new PipelineException(src.describe() + ": tensor " + name + ": expected " + Arrays.toString(shape)
                    + " from the config, got " + Arrays.toString(info.shape()));
        }
    }

    private static String oneLine(RuntimeException e) {
        String s = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return s.replace('\n', ' ');
    }

    /** Tensor count, dtypes and parameter count of a checkpoint, from its header. */
    private record Header(long tensors, long parameters, Map<String, Long> dtypes) {
        static Header of(TensorSource src) {
            long params = 0;
            Map<String, Long> dtypes = new TreeMap<>();
            for (String n : src.names()) {
                TensorInfo i = src.info(n);
                params += i.numel();
                dtypes.merge(i.dtype().name(), 1L, Long::sum);
            }
            return new Header(src.names().size(), params, dtypes);
        }

        @Override
        public String toString() {
            String d = dtypes.size() == 1 ? dtypes.keySet().iterator().next()
                    : String.join(" + ", dtypes.entrySet().stream().map(e -> e.getValue() + " " + e.getKey()).toList());
            return String.format(Locale.ROOT, "%s, %,d parameters in %d tensors", d, parameters, tensors);
        }
    }
}
