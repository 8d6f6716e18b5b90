package dev.fluxerase.bench;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The Java side of bench/gemm_vs_openblas.py: reads commands {@code <MxKxN> <kind> <reps>} from stdin, runs that GEMM reps
 * times and answers {@code <best seconds> <median seconds>} on one line, keeping each case (and the warm JIT) between
 * commands so that the driver can interleave our runs with numpy's in one process pair. Kinds as in {@link GemmCase}.
 */
public final class GemmRatio {
    private GemmRatio() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, GemmCase> cases = new HashMap<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        System.out.println("ready " + Runtime.getRuntime().availableProcessors() + " processors, Java "
                + Runtime.version());
        for (String line; (line = in.readLine()) != null; ) {
            String[] w = line.trim().split("\\s+");
            if (w.length != 3) {
                System.out.println("error: expected <MxKxN> <kind> <reps>, got '" + line + "'");
                continue;
            }
            GemmCase g = cases.computeIfAbsent(w[0] + " " + w[1], key -> new GemmCase(w[0], w[1]));
            int reps = Integer.parseInt(w[2]);
            double[] t = new double[reps];
            for (int i = 0; i < reps; i++) {
                long t0 = System.nanoTime();
                g.run();
                t[i] = (System.nanoTime() - t0) / 1e9;
            }
            Arrays.sort(t);
            System.out.println(t[0] + " " + t[reps / 2]);
        }
        for (GemmCase g : cases.values()) {
            g.close();
        }
    }
}
