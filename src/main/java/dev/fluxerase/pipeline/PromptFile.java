package dev.fluxerase.pipeline;

import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.safetensors.TensorInfo;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Prompt embeddings as a safetensors file (what {@code encode-prompt} writes and the prompt cache stores):
 * {@code t5_ids} [1, N] I64, {@code clip_ids} [1, 77] I64, {@code t5} [1, N, d_model] F32 and {@code clip_pooled}
 * [1, hidden] F32, ids as transformers' {@code input_ids} (int64). The metadata carries the prompt and its origin.
 */
public final class PromptFile {
    public static final String T5_IDS = "t5_ids";
    public static final String CLIP_IDS = "clip_ids";
    public static final String T5 = "t5";
    public static final String CLIP_POOLED = "clip_pooled";

    private PromptFile() {
    }

    /** Writes atomically (temp file, then rename). */
    public static void write(Path file, PromptEmbeddings e, Map<String, String> metadata) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put(T5_IDS, i64(e.t5Ids()));
        t.put(CLIP_IDS, i64(e.clipIds()));
        t.put(T5, e.t5());
        t.put(CLIP_POOLED, e.clipPooled());
        SafetensorsWriter.write(file, t, metadata);
    }

    /** The embeddings and the file's metadata. */
    public record Read(PromptEmbeddings embeddings, Map<String, String> metadata) {
    }

    /** Reads a file written by {@link #write}; every problem is one line naming the file and tensor. */
    public static Read read(Path file) {
        try (TensorSource s = Safetensors.open(file)) {
            int[] t5Ids = ids(s, T5_IDS);
            int[] clipIds = ids(s, CLIP_IDS);
            Tensor t5 = floats(s, T5, 3);
            Tensor pooled = floats(s, CLIP_POOLED, 2);
            if (t5.dim(0) != 1 || t5.dim(1) != t5Ids.length || pooled.dim(0) != 1) {
                throw new PipelineException(s.describe() + ": tensor " + T5 + " " + Arrays.toString(t5.shape()) + " and "
                        + CLIP_POOLED + " " + Arrays.toString(pooled.shape()) + " do not fit " + T5_IDS + " [1, "
                        + t5Ids.length + "] (expected [1, " + t5Ids.length + ", d] and [1, h])");
            }
            return new Read(new PromptEmbeddings(t5Ids, clipIds, t5, pooled), Map.copyOf(s.metadata()));
        }
    }

    private static Tensor i64(int[] ids) {
        MemorySegment seg = MemorySegment.ofArray(new long[ids.length]);
        for (int i = 0; i < ids.length; i++) {
            seg.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i, ids[i]);
        }
        return Tensor.wrap(DType.I64, seg, 1, ids.length);
    }

    private static TensorInfo require(TensorSource s, String name) {
        if (!s.contains(name)) {
            throw new PipelineException(s.describe() + ": tensor " + name + " missing (a prompt file has " + T5_IDS + ", "
                    + CLIP_IDS + ", " + T5 + ", " + CLIP_POOLED + ")");
        }
        return s.info(name);
    }

    private static int[] ids(TensorSource s, String name) {
        TensorInfo info = require(s, name);
        if (info.rank() != 2 || info.dim(0) != 1 || (info.dtype() != DType.I64 && info.dtype() != DType.I32)) {
            throw new PipelineException(s.describe() + ": tensor " + name + ": expected [1, N] I64 or I32, got "
                    + Arrays.toString(info.shape()) + " " + info.dtype());
        }
        Tensor t = s.tensor(name);
        int[] out = new int[(int) info.dim(1)];
        for (int i = 0; i < out.length; i++) {
            out[i] = info.dtype() == DType.I64
                    ? Math.toIntExact(t.data().getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i))
                    : t.data().getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i);
        }
        return out;
    }

    private static Tensor floats(TensorSource s, String name, int rank) {
        TensorInfo info = require(s, name);
        if (info.rank() != rank || !info.dtype().isFloat()) {
            throw new PipelineException(s.describe() + ": tensor " + name + ": expected a rank-" + rank
                    + " float tensor, got " + Arrays.toString(info.shape()) + " " + info.dtype());
        }
        return Tensor.of(Floats.toF32(s.tensor(name)), info.shape());
    }
}
