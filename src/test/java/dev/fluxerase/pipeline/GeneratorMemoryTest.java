package dev.fluxerase.pipeline;

import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.flux.FluxModel;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.vae.LatentCodec;
import dev.fluxerase.vae.LatentScaling;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** generate's device-memory preflight ({@link Generator#requireDevice}) at FLUX.1-dev's size, by hand-worked bytes. */
class GeneratorMemoryTest {
    private static final long GIB = 1L << 30;
    /** A device codec of FLUX's geometry whose decode takes a fixed 1 GiB per image. */
    private static final LatentCodec CODEC = new LatentCodec() {
        @Override
        public String kind() {
            return "test";
        }

        @Override
        public int downsampleFactor() {
            return 8;
        }

        @Override
        public int latentChannels() {
            return 16;
        }

        @Override
        public LatentScaling scaling() {
            throw new UnsupportedOperationException();
        }

        @Override
        public Moments moments(Tensor image) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Tensor decode(Tensor latents) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Footprint decodeFootprint(int batch, int h, int w) {
            return new Footprint(0, 0);
        }

        @Override
        public long deviceDecodeBytes(int batch, int h, int w) {
            return batch * GIB;
        }
    };
    private static final Generator.Settings AT_1024 = new Generator.Settings(1024, 1024, 28, 3.5, 512);
    private static final Latents G = new Latents(1024, 1024, 8, 16);
    private static final long WEIGHTS = 33 * GIB;

    private static long need(int images) {
        return WEIGHTS + FluxModel.inferenceBytes(FluxConfig.FLUX_DEV, images, 512, G.tokens(), DType.F32)
                + images * GIB;
    }

    @Test
    void aBatchThatFitsPassesAndOneThatDoesNotNamesTheBatchThatWould() {
        long free = need(2) + need(2) / 10;
        Generator.requireDevice(FluxConfig.FLUX_DEV, CODEC, G, AT_1024, 2, WEIGHTS, free, "cuda:H100");
        PipelineException e = assertThrows(PipelineException.class, () -> Generator.requireDevice(FluxConfig.FLUX_DEV,
                CODEC, G, AT_1024, 4, WEIGHTS, free, "cuda:H100"));
        String m = e.getMessage();
        assertTrue(m.startsWith("a 1024x1024 batch of 4 images needs about " + MemoryEstimate.bytes(need(4))
                + " of device memory (weights 33.0 GiB"), m);
        assertTrue(m.contains("VAE decode 4.0 GiB"), m);
        assertTrue(m.contains("free on cuda:H100; --batch-size 2 would fit"), m);
    }

    @Test
    void whenNoBatchFitsTheMessageSaysSo() {
        PipelineException e = assertThrows(PipelineException.class, () -> Generator.requireDevice(FluxConfig.FLUX_DEV,
                CODEC, G, AT_1024, 1, WEIGHTS, 30 * GIB, "cuda:H100"));
        assertFalse(e.getMessage().contains("--batch-size"), e.getMessage());
        assertTrue(e.getMessage().contains("more than the 30.0 GiB free on cuda:H100; use a smaller size"),
                e.getMessage());
        assertTrue(need(1) + need(1) / 10 > 30 * GIB, "one image needs more than 30 GiB with headroom");
    }
}
