package dev.fluxerase.pipeline;

import dev.fluxerase.pipeline.ModelFolder.Component;
import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.text.ClipTextModel;
import dev.fluxerase.text.ClipTokenizer;
import dev.fluxerase.text.T5Encoder;
import dev.fluxerase.text.T5Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Turns a prompt into FLUX's conditioning (FLUX.md §5.1) with a model folder's tokenizers and text encoders: CLIP ids
 * (77, padded with EOS) through the CLIP text model for the pooled vector, T5 ids (N, padded) through the T5 encoder for
 * the per-token states, no attention masks. Tokenizers and encoders are loaded on the first {@link #encode}, so a cache
 * hit never touches the weights. With a {@link PromptCache}, results are read from and written to disk.
 */
public final class PromptEncoder implements AutoCloseable {
    /** The folders the encoders read, in the order {@link #identity} lists them. */
    private static final List<Component> COMPONENTS = List.of(Component.TOKENIZER, Component.TOKENIZER_2,
            Component.TEXT_ENCODER, Component.TEXT_ENCODER_2);

    private final ModelFolder model;
    private final Backend backend;
    private final PromptCache cache;
    private String identity;
    private ClipTokenizer clipTokenizer;
    private T5Tokenizer t5Tokenizer;
    private ClipTextModel clip;
    private T5Encoder t5;

    /**
     * The encoders run on {@code backend} (the run's: their weights are copied to a device, read in place on the CPU);
     * {@code cache} may be null. The backend is the caller's to close, after this encoder.
     */
    public PromptEncoder(ModelFolder model, Backend backend, PromptCache cache) {
        this.model = model;
        this.backend = backend;
        this.cache = cache;
    }

    /**
     * Refuses, with the folder's one line, a model folder that lacks a tokenizer or text encoder: what a command checks
     * before it loads anything else, since the encoders themselves load only on the first prompt that misses the cache.
     */
    public static void requireFolders(ModelFolder model) {
        COMPONENTS.forEach(model::require);
    }

    /**
     * The bytes of the two text encoders' weights as stored: what a device backend holds for them once they have
     * loaded (copies in the stored dtype; the few LayerNorm scales widened to F32 rows are not counted).
     */
    public static long weightBytes(ModelFolder model) {
        long bytes = 0;
        for (Component c : List.of(Component.TEXT_ENCODER, Component.TEXT_ENCODER_2)) {
            bytes += Safetensors.tensorBytes(model.require(c));
        }
        return bytes;
    }

    public PromptCache cache() {
        return cache;
    }

    /**
     * What identifies the encoders' results: the real paths of the tokenizer and text-encoder folders, and the name,
     * size and modification time of every file in them. A changed or replaced weight file changes it.
     */
    public String identity() {
        if (identity == null) {
            StringBuilder sb = new StringBuilder();
            for (Component c : COMPONENTS) {
                Path dir = model.require(c);
                sb.append(c.folder()).append('=').append(realPath(dir)).append('\n');
                for (Path f : files(dir)) {
                    try {
                        sb.append("  ").append(f.getFileName()).append(' ').append(Files.size(f)).append(' ')
                                .append(Files.getLastModifiedTime(f).toMillis()).append('\n');
                    } catch (IOException e) {
                        throw new PipelineException(f + ": cannot read file attributes: " + e.getMessage(), e);
                    }
                }
            }
            identity = sb.toString();
        }
        return identity;
    }

    /** Encodes a prompt with T5 length {@code t5Length} (512 for FLUX.1-dev), through the cache when there is one. */
    public PromptEmbeddings encode(String prompt, int t5Length) {
        if (t5Length < 2) {
            throw new PipelineException("--t5-length must be at least 2 (content plus </s>), got " + t5Length);
        }
        if (cache == null) {
            return compute(prompt, t5Length);
        }
        return cache.get(identity(), prompt, t5Length, () -> compute(prompt, t5Length));
    }

    private PromptEmbeddings compute(String prompt, int t5Length) {
        load();
        int[] clipIds = clipTokenizer.inputIds(prompt);
        int[] t5Ids = t5Tokenizer.inputIds(prompt, t5Length);
        ClipTextModel.Output out = clip.encode(new int[][]{clipIds});
        float[] pooled = backend.download(out.pooled());
        backend.free(out.pooled());
        backend.free(out.lastHiddenState());
        Tensor t5Out = t5.encode(new int[][]{t5Ids});
        float[] states = backend.download(t5Out);
        backend.free(t5Out);
        return new PromptEmbeddings(t5Ids, clipIds, Tensor.of(states, 1, t5Length, states.length / t5Length),
                Tensor.of(pooled, 1, pooled.length));
    }

    private void load() {
        if (clip != null) {
            return;
        }
        clipTokenizer = ClipTokenizer.load(model.require(Component.TOKENIZER));
        t5Tokenizer = T5Tokenizer.load(model.require(Component.TOKENIZER_2));
        ClipTextModel c = ClipTextModel.load(model.require(Component.TEXT_ENCODER), backend);
        try {
            t5 = T5Encoder.load(model.require(Component.TEXT_ENCODER_2), backend);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        clip = c;
    }

    private static Path realPath(Path p) {
        try {
            return p.toRealPath();
        } catch (IOException e) {
            return p.toAbsolutePath().normalize();
        }
    }

    private static List<Path> files(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> out = new ArrayList<>(s.filter(Files::isRegularFile).toList());
            out.sort(null);
            return out;
        } catch (IOException e) {
            throw new PipelineException(dir + ": cannot list: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        if (clip != null) {
            clip.close();
            t5.close();
            clip = null;
            t5 = null;
        }
    }
}
