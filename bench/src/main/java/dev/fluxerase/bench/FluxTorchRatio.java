package dev.fluxerase.bench;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/**
 * The Java side of bench/torch_cpu_compare.py: sets up {@link FluxModelBench} with the config given as the first argument
 * (dev1 by default), then reads commands {@code forward} or {@code forwardBackward} from stdin, runs that once and answers
 * the seconds on one line. One warm JVM for the whole run, so that the driver can alternate our runs with PyTorch's.
 */
public final class FluxTorchRatio {
    private FluxTorchRatio() {
    }

    public static void main(String[] args) throws Exception {
        FluxModelBench b = new FluxModelBench();
        b.config = args.length > 0 ? args[0] : "dev1";
        b.packCache = true;
        b.checkpointing = false;
        long t0 = System.nanoTime();
        b.setup();
        System.out.printf("ready config %s, %d processors, Java %s, setup %.1f s%n", b.config,
                Runtime.getRuntime().availableProcessors(), Runtime.version(), (System.nanoTime() - t0) / 1e9);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        try {
            for (String line; (line = in.readLine()) != null; ) {
                long s = System.nanoTime();
                float sink = switch (line.trim()) {
                    case "forward" -> b.forward();
                    case "forwardBackward" -> b.forwardBackward();
                    default -> Float.NaN;
                };
                double sec = (System.nanoTime() - s) / 1e9;
                // The sink is printed so the result is used; a NaN from an unknown command tells the driver.
                System.out.println(line.trim().equals("forward") || line.trim().equals("forwardBackward")
                        ? sec + " " + sink : "error: unknown command '" + line + "'");
            }
        } finally {
            b.tearDown();
        }
    }
}
