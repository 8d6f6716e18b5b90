package dev.fluxerase.pipeline;

import dev.fluxerase.vae.LatentCodec;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The refusals and their wording; the byte counts themselves are checked where they are computed. */
class MemoryEstimateTest {
    private static final long GIB = 1L << 30;

    @Test
    void aFeatureMapLargerThanAJavaArrayIsRefusedWhateverTheHeap() {
        MemoryEstimate e = new MemoryEstimate(GIB, new LatentCodec.Footprint(GIB, 4_294_967_296L));
        PipelineException x = assertThrows(PipelineException.class, () -> e.require("a 4096x4096 image", Long.MAX_VALUE));
        assertEquals("a 4096x4096 image needs a decoder feature map of 4294967296 floats, more than one Java array holds "
                + "(2147483639); use a smaller size", x.getMessage());
    }

    @Test
    void theTotalWithATenthOfHeadroomMustFitTheHeap() {
        MemoryEstimate e = new MemoryEstimate(6 * GIB, new LatentCodec.Footprint(4 * GIB, 1000));
        e.require("fits", 11 * GIB);
        PipelineException x = assertThrows(PipelineException.class, () -> e.require("a 1024x1024 image", 11 * GIB - 1));
        assertEquals("a 1024x1024 image needs about 10.0 GiB of Java heap (transformer 6.0 GiB, decoder 4.0 GiB), more "
                + "than the Java heap's 11.0 GiB; use a smaller size or batch, or raise the limit "
                + "(FLUX_ERASE_JAVA_OPTS=-Xmx<size> for tools/flux-erase, at most the machine's memory)", x.getMessage());
    }
}
