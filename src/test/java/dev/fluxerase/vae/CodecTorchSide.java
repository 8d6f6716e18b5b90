package dev.fluxerase.vae;

import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.text.T5Encoder;
import dev.fluxerase.text.T5EncoderTiming;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * TIMING SERVER, not a unit test: the Java side of bench/torch_cpu_codecs.py. Sets up the mid-size T5 of
 * {@link T5EncoderTiming} (random BF16 weights, marked frozen as a file's are) and FLUX.1's VAE decoder (random F32
 * weights, {@link FluxVaeCheckpoint}) on the CPU backend, then answers each stdin line {@code t5 TOKENS} or
 * {@code vae LATENT_SIDE} with the seconds of one encode or decode and a checksum. One warm JVM for the whole run, so
 * that the driver can alternate our calls with PyTorch's.
 */
public final class CodecTorchSide {
    private CodecTorchSide() {
    }

    public static void main(String[] args) throws Exception {
        long t0 = System.nanoTime();
        try (TensorSource t5Weights = T5EncoderTiming.randomWeights(T5EncoderTiming.MID, 42);
             FluxVaeCheckpoint ckpt = new FluxVaeCheckpoint(42L);
             VaeWeights vw = VaeWeights.of(new VaeGolden.MapSource("flux-ae-random", ckpt.tensors()),
                     AutoencoderConfig.FLUX);
             VaeDecoder decoder = VaeDecoder.load(vw, VaeGolden.CPU)) {
            T5Encoder t5 = new T5Encoder(T5EncoderTiming.MID, t5Weights, VaeGolden.CPU);
            long decoderParams = ckpt.tensors().entrySet().stream().filter(e -> e.getKey().startsWith("decoder."))
                    .mapToLong(e -> e.getValue().numel()).sum();
            System.out.printf("ready: T5 mid-size and FLUX VAE decoder (%d parameters) on %s, %d processors, Java %s,"
                            + " setup %.1f s%n", decoderParams, VaeGolden.CPU.name(), Runtime.getRuntime().availableProcessors(), Runtime.version(),
                    (System.nanoTime() - t0) / 1e9);
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            for (String line; (line = in.readLine()) != null; ) {
                String[] w = line.trim().split("\\s+");
                int n = w.length == 2 ? Integer.parseInt(w[1]) : -1;
                SplittableRandom r = new SplittableRandom(n);
                long s = System.nanoTime();
                Tensor out;
                if (w[0].equals("t5") && n > 0) {
                    int[][] ids = new int[1][n];
                    for (int i = 0; i < n; i++) {
                        ids[0][i] = r.nextInt(T5EncoderTiming.MID.vocabSize());
                    }
                    out = t5.encode(ids);
                } else if (w[0].equals("vae") && n > 0) {
                    float[] z = new float[16 * n * n];
                    for (int i = 0; i < z.length; i++) {
                        z[i] = (float) r.nextGaussian();
                    }
                    out = decoder.decode(Tensor.of(z, 1, 16, n, n));
                } else {
                    System.out.println("error: unknown command '" + line + "'");
                    continue;
                }
                double sec = (System.nanoTime() - s) / 1e9;
                // the checksum uses the result, so the work cannot be skipped
                float[] v = VaeGolden.values(out);
                System.out.println(sec + " " + v[v.length / 2]);
            }
        }
    }
}
