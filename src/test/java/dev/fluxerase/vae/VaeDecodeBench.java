package dev.fluxerase.vae;

import dev.fluxerase.safetensors.SafetensorsFile;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One cold decode with FLUX.1's VAE geometry and random weights (not part of the suite; its name matches no surefire
 * pattern):
 * {@code mvn -o test -Dtest=VaeDecodeBench -Dvae.bench=true [-Dvae.bench.latent=64] [-Dvae.bench.repeat=1]} (64 → a
 * 512×512 image). The first decode includes JIT warm-up of the Vector API loops (about 1 to 2 s); later ones do not.
 * {@code -Dvae.bench.tiny=N} times N decodes of the tiny golden VAE after N warm-up ones. Both run on the CPU backend.
 */
class VaeDecodeBench {

    @Test
    @EnabledIfSystemProperty(named = "vae.bench", matches = "true")
    void decodeFluxSize() {
        int side = Integer.getInteger("vae.bench.latent", 64);
        try (FluxVaeCheckpoint ckpt = new FluxVaeCheckpoint(42L)) {
            long t0 = System.nanoTime();
            VaeDecoder decoder;
            try (VaeWeights w = VaeWeights.of(new VaeGolden.MapSource("flux-ae-random", ckpt.tensors()),
                    AutoencoderConfig.FLUX)) {
                decoder = VaeDecoder.load(w, VaeGolden.CPU);
            }
            long t1 = System.nanoTime();
            Random r = new Random(1);
            float[] z = new float[16 * side * side];
            for (int i = 0; i < z.length; i++) {
                z[i] = (float) r.nextGaussian();
            }
            int repeat = Integer.getInteger("vae.bench.repeat", 1);
            Tensor image = null;
            for (int k = 0; k < repeat; k++) {
                long t2 = System.nanoTime();
                double c2 = cpuSeconds();
                image = decoder.decode(Tensor.of(z, 1, 16, side, side));
                System.out.printf("VAE decode %d: latent %d×%d → image %d×%d in %.2f s, %.2f s of CPU (%d cores)%n",
                        k + 1, side, side, image.dim(2), image.dim(3), (System.nanoTime() - t2) / 1e9,
                        cpuSeconds() - c2, Runtime.getRuntime().availableProcessors());
            }
            float[] v = VaeGolden.values(image);
            double sumSq = 0;
            for (float x : v) {
                assertTrue(Float.isFinite(x));
                sumSq += (double) x * x;
            }
            System.out.printf("VAE load %.2f s, output rms %.3f%n", (t1 - t0) / 1e9, Math.sqrt(sumSq / v.length));
        }
    }

    /** The tiny golden VAE (g32): {@code -Dvae.bench.tiny=N} decodes of its 8×8 latent, timed after N warm-up decodes. */
    @Test
    @EnabledIfSystemProperty(named = "vae.bench.tiny", matches = "\\d+")
    void decodeTiny() {
        int n = Integer.getInteger("vae.bench.tiny");
        VaeDecoder decoder;
        try (TensorSource s = SafetensorsFile.open(VaeGolden.TINY.resolve("weights_diffusers.safetensors"));
             VaeWeights w = VaeWeights.of(s, AutoencoderConfig.read(VaeGolden.TINY.resolve("config_g32.json")))) {
            decoder = VaeDecoder.load(w, VaeGolden.CPU);
        }
        Tensor z = VaeGolden.tensor(VaeGolden.TINY.resolve("inputs.safetensors"), "latent_z");
        for (int k = 0; k < n; k++) {
            decoder.decode(z);
        }
        long t0 = System.nanoTime();
        double c0 = cpuSeconds();
        for (int k = 0; k < n; k++) {
            decoder.decode(z);
        }
        System.out.printf("tiny VAE decode (8×8 latent → 16×16): %.3f ms each, %.3f ms of CPU, over %d%n",
                (System.nanoTime() - t0) / 1e6 / n, (cpuSeconds() - c0) * 1e3 / n, n);
    }

    /**
     * The JVM's CPU time so far (all threads, the collector's and the compiler's included): on a shared machine it
     * moves far less with other jobs' load than wall time does.
     */
    private static double cpuSeconds() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime() / 1e9;
    }
}
