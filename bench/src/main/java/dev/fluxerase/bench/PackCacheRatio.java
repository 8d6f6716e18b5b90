package dev.fluxerase.bench;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Frozen weights kept packed against packed per call, in one JVM, alternating: the mid FLUX forward of
 * {@link FluxModelBench} with {@code packCache} false and true, and the BF16 Linear y = x·Wᵀ of {@link GemmCase}
 * ({@code bf16-wt} against {@code bf16-frozen}) at batch-1 shapes (M = 1 and 16: modulation, embedders) and at 1280
 * tokens. Each round times every pair's two sides back to back, in the opposite order every other round, each as the best
 * of {@code reps} runs; the ratio per pair is per call / cached within the round, reported as the median over rounds with
 * the lowest and highest, so that load from other processes hits both sides alike.
 *
 * <p>Usage: {@code java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx8g
 * -cp bench/target/benchmarks.jar dev.fluxerase.bench.PackCacheRatio [rounds [reps]]} (default 9 rounds, 3 reps).
 */
public final class PackCacheRatio {
    private PackCacheRatio() {
    }

    /** Two ways to do the same work: the per-call baseline and the cached one. */
    private record Pair(String name, Runnable perCall, Runnable cached) {
    }

    public static void main(String[] args) throws IOException {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 9;
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        List<Pair> pairs = new ArrayList<>();
        FluxModelBench perCall = model(false);
        FluxModelBench cached = model(true);
        pairs.add(new Pair("forward mid", perCall::forward, cached::forward));
        List<GemmCase> cases = new ArrayList<>();
        for (String shape : new String[]{"1x3072x18432", "16x3072x3072", "1280x3072x3072"}) {
            GemmCase a = new GemmCase(shape, "bf16-wt");
            GemmCase b = new GemmCase(shape, "bf16-frozen");
            cases.add(a);
            cases.add(b);
            pairs.add(new Pair("gemm " + shape, a::run, b::run));
        }
        System.out.println(Runtime.getRuntime().availableProcessors() + " processors, Java " + Runtime.version()
                + ", MaxVectorSize " + jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize() / 8);
        for (Pair p : pairs) {
            for (int i = 0; i < 5; i++) {
                p.perCall.run();
                p.cached.run();
            }
        }
        double[][] ratio = new double[pairs.size()][rounds];
        double[][] perCallTimes = new double[pairs.size()][rounds];
        double[][] cachedTimes = new double[pairs.size()][rounds];
        for (int r = 0; r < rounds; r++) {
            for (int i = 0; i < pairs.size(); i++) {
                Pair p = pairs.get(i);
                boolean cachedFirst = r % 2 == 1;
                double first = best(cachedFirst ? p.cached : p.perCall, reps);
                double second = best(cachedFirst ? p.perCall : p.cached, reps);
                perCallTimes[i][r] = cachedFirst ? second : first;
                cachedTimes[i][r] = cachedFirst ? first : second;
                ratio[i][r] = perCallTimes[i][r] / cachedTimes[i][r];
            }
        }
        System.out.printf("%-22s %14s %14s %26s%n", "case", "per call ms", "cached ms", "per call / cached");
        for (int i = 0; i < pairs.size(); i++) {
            double[] q = ratio[i].clone();
            Arrays.sort(q);
            System.out.printf("%-22s %14.2f %14.2f %10.2f [%.2f–%.2f]%n", pairs.get(i).name, median(perCallTimes[i]),
                    median(cachedTimes[i]), median(ratio[i]), q[0], q[q.length - 1]);
        }
        perCall.tearDown();
        cached.tearDown();
        for (GemmCase g : cases) {
            g.close();
        }
    }

    private static FluxModelBench model(boolean packCache) throws IOException {
        FluxModelBench b = new FluxModelBench();
        b.config = "mid";
        b.packCache = packCache;
        b.setup();
        return b;
    }

    /** Best of reps runs, in milliseconds. */
    private static double best(Runnable work, int reps) {
        double best = Double.MAX_VALUE;
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            work.run();
            best = Math.min(best, (System.nanoTime() - t0) / 1e6);
        }
        return best;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
