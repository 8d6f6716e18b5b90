package dev.fluxerase.pipeline;

import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.flux.FluxModel;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.vae.LatentCodec;

import java.util.Locale;

/**
 * The Java heap that sampling and decoding a batch holds at its peak, from the shapes alone, so that a size that cannot
 * fit is refused before any model loads instead of ending in an OutOfMemoryError after minutes of work. On a host
 * backend the transformer's buffers ({@link FluxModel#inferenceBytes}) stay allocated while the VAE decodes, so the two
 * add up; on a device backend both live in device memory, and what is left on the heap is the decoded images
 * ({@link LatentCodec#decodeFootprint} of a codec opened on that backend). The mapped weights are not on the heap and
 * are not counted.
 */
public record MemoryEstimate(long transformerBytes, LatentCodec.Footprint decoder) {
    /** The most elements one Java array may have (the JDK's own limit, below Integer.MAX_VALUE). */
    static final long MAX_ARRAY = Integer.MAX_VALUE - 8;

    /** {@code transformerOnHeap}: false when the transformer runs on a GPU, whose buffers are not on the heap. */
    public static MemoryEstimate of(FluxConfig config, LatentCodec codec, Latents geometry, int t5Length, int batch,
                                    boolean transformerOnHeap) {
        // F32 MLP activations: an upper bound of the BF16 mode's
        return new MemoryEstimate(transformerOnHeap ? FluxModel.inferenceBytes(config, batch, t5Length,
                geometry.tokens(), DType.F32) : 0, codec.decodeFootprint(batch, geometry.latentHeight(), geometry.latentWidth()));
    }

    public long totalBytes() {
        return transformerBytes + decoder.peakBytes();
    }

    /**
     * Refuses {@code what} (for example "a 8192x8192 image") when one of its arrays is larger than a Java array can be,
     * or when the total and a tenth for the collector's headroom exceed {@code heapLimit} bytes; says which and by how
     * much.
     */
    public void require(String what, long heapLimit) {
        if (decoder.largestArray() > MAX_ARRAY) {
            throw new PipelineException(what + " needs a decoder feature map of " + decoder.largestArray() + " floats, "
                    + "more than one Java array holds (" + MAX_ARRAY + "); use a smaller size");
        }
        if (!fits(totalBytes(), heapLimit)) {
            throw new PipelineException(what + " needs about " + bytes(totalBytes()) + " of Java heap (transformer "
                    + bytes(transformerBytes) + ", decoder " + bytes(decoder.peakBytes()) + "), more than the Java "
                    + "heap's " + bytes(heapLimit) + "; " + RAISE);
        }
    }

    /**
     * Whether an estimate of {@code need} bytes fits {@code heapLimit} with a tenth to spare: the collector needs room to
     * move humongous arrays (a toy 1024² image holds 1.56 GB live against an estimate of 1.50 GB and does not finish
     * in a 1.5 GB heap).
     */
    public static boolean fits(long need, long heapLimit) {
        return need + need / 10 <= heapLimit;
    }

    /** How to give the JVM more heap. */
    public static final String RAISE_LIMIT = "raise the limit (FLUX_ERASE_JAVA_OPTS=-Xmx<size> for tools/flux-erase, at "
            + "most the machine's memory)";

    /** The advice for a too small heap, shared with the message for an OutOfMemoryError that happens anyway. */
    public static final String RAISE = "use a smaller size or batch, or " + RAISE_LIMIT;

    /** 1.5 GiB, 48 MiB: a size that reads at a glance. */
    public static String bytes(long n) {
        return n >= 1L << 30 ? String.format(Locale.ROOT, "%.1f GiB", n / (double) (1L << 30)) : (n >> 20) + " MiB";
    }
}
