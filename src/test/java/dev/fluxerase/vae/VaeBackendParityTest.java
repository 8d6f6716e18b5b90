package dev.fluxerase.vae;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.cpu.NaiveBackend;
import dev.fluxerase.safetensors.SafetensorsFile;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Compare;
import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.function.BiFunction;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tiny golden VAE (g32) decoding and encoding the same inputs on the naive backend (the reference: plain loops,
 * double accumulation) and the CPU backend: a batch of two at a size that is neither square nor the goldens' own, so
 * that every conv, norm and attention block runs on shapes the goldens do not cover. Both are float32
 * implementations of one computation, and the CPU matches the float64 goldens to 1.4e-6, so they must agree to the
 * goldens' bound, 1e-5 rel_to_max (measured: see the printed lines).
 */
class VaeBackendParityTest {
    private static final double BOUND = VaeGoldenChecks.F32_BOUND;

    private static <T> T onBoth(Backend be, BiFunction<VaeWeights, Backend, T> load) {
        try (TensorSource s = SafetensorsFile.open(VaeGolden.TINY.resolve("weights_diffusers.safetensors"));
             VaeWeights w = VaeWeights.of(s, AutoencoderConfig.read(VaeGolden.TINY.resolve("config_g32.json")))) {
            return load.apply(w, be);
        }
    }

    private static Tensor gaussian(long seed, double scale, long... shape) {
        Random r = new Random(seed);
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (scale * r.nextGaussian());
        }
        return Tensor.of(v, shape);
    }

    private static void assertAgree(String what, Tensor naive, Tensor cpu) {
        assertArrayEquals(naive.shape(), cpu.shape(), what + " shape");
        double e = Compare.relToMax(VaeGolden.values(cpu), Compare.doubles(naive));
        System.out.printf("VAE parity %s: rel_to_max cpu vs naive %.2e%n", what, e);
        assertTrue(e <= BOUND, what + ": rel_to_max " + e + " > " + BOUND);
    }

    @Test
    void decoderAgreesWithTheReference() {
        Tensor z = gaussian(5, 1, 2, 16, 6, 10);
        try (VaeDecoder naive = onBoth(new NaiveBackend(), VaeDecoder::load);
             VaeDecoder cpu = onBoth(new CpuBackend(), VaeDecoder::load)) {
            assertAgree("decoded", naive.decode(z), cpu.decode(z));
        }
    }

    @Test
    void encoderAgreesWithTheReference() {
        Tensor image = gaussian(6, 0.5, 2, 3, 12, 20);
        try (VaeEncoder naive = onBoth(new NaiveBackend(), VaeEncoder::load);
             VaeEncoder cpu = onBoth(new CpuBackend(), VaeEncoder::load)) {
            LatentCodec.Moments a = naive.moments(image);
            LatentCodec.Moments b = cpu.moments(image);
            assertAgree("mean", a.mean(), b.mean());
            assertAgree("logvar", a.logvar(), b.logvar());
        }
    }
}
