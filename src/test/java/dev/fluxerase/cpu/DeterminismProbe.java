package dev.fluxerase.cpu;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.RandomData;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

/**
 * Runs every CpuBackend op on fixed inputs thousands of times in one JVM, comparing each run's output bits with the
 * first run's, and prints one line per op: {@code name hash firstChangedIteration} (−1 when every run gave the first
 * run's bits). Started in a fresh JVM by {@link CpuDeterminismTest}, so that the first runs are interpreted and the
 * later ones C1- and C2-compiled. Sizes are not multiples of the vector length, so vector bodies and scalar tails both
 * run; the attention has a full and a partial key block.
 */
public final class DeterminismProbe {
    private static final int ROWS = 3;
    private static final int COLS = 37;
    private static final int FLAT = 1000 + 7;
    private static final int HEADS = 1;
    private static final int LEN = 70;
    private static final int DIM = 24;
    private static final int QUIET = 300;

    private DeterminismProbe() {
    }

    private static float[] randn(long seed, int n) {
        return RandomData.gaussian(new Random(seed), n, 1.0);
    }

    private static Tensor t(float[] v, long... shape) {
        return Tensor.of(v.clone(), shape);
    }

    /** The bits of the given tensors' values, concatenated. */
    private static int[] bits(Tensor... ts) {
        int n = 0;
        for (Tensor x : ts) {
            n += (int) x.numel();
        }
        int[] out = new int[n];
        int o = 0;
        for (Tensor x : ts) {
            for (float f : Floats.toF32(x)) {
                out[o++] = Float.floatToRawIntBits(f);
            }
        }
        return out;
    }

    private static int[] bits(double d) {
        long b = Double.doubleToRawLongBits(d);
        return new int[]{(int) b, (int) (b >>> 32)};
    }

    /** Every op on fixed inputs; each call builds fresh tensors, since backward ops accumulate into theirs. */
    static Map<String, Function<Backend, int[]>> ops() {
        float[] x = randn(1, ROWS * COLS);
        float[] dy = randn(2, ROWS * COLS);
        float[] w = randn(3, COLS);
        float[] flat = randn(4, FLAT);
        float[] flat2 = randn(5, FLAT);
        float[] q = randn(6, HEADS * LEN * DIM);
        float[] k = randn(7, HEADS * LEN * DIM);
        float[] v = randn(8, HEADS * LEN * DIM);
        float[] dO = randn(9, HEADS * LEN * DIM);
        float[] angles = randn(10, LEN * DIM / 2);
        float[] cos = new float[angles.length];
        float[] sin = new float[angles.length];
        for (int i = 0; i < angles.length; i++) {
            cos[i] = (float) StrictMath.cos(angles[i]);
            sin[i] = (float) StrictMath.sin(angles[i]);
        }
        float[] mod = randn(11, 2 * 3 * COLS);
        float[] x2 = randn(12, 2 * ROWS * COLS);
        float[] dy2 = randn(13, 2 * ROWS * COLS);
        float[] moment = randn(14, FLAT);
        float[] second = new float[FLAT];
        for (int i = 0; i < FLAT; i++) {
            second[i] = flat2[i] * flat2[i];
        }
        long[] m = {ROWS, COLS};
        long[] a4 = {1, HEADS, LEN, DIM};
        long[] rope = {1, HEADS, LEN, DIM};
        long[] bt = {2, ROWS, COLS};
        long[] mods = {2, 3 * COLS};
        float scale = (float) (1 / Math.sqrt(DIM));
        Map<String, Function<Backend, int[]>> ops = new LinkedHashMap<>();
        ops.put("silu", b -> {
            Tensor y = Tensor.zeros(m);
            b.silu(t(x, m), y);
            return bits(y);
        });
        ops.put("siluBackward", b -> {
            Tensor dx = t(x2, 2 * ROWS * COLS);
            b.siluBackward(t(dy2, 2 * ROWS * COLS), t(x2, 2 * ROWS * COLS), dx);
            return bits(dx);
        });
        ops.put("gelu", b -> {
            Tensor y = Tensor.zeros(FLAT);
            b.geluTanh(t(flat, FLAT), y);
            return bits(y);
        });
        ops.put("geluBackward", b -> {
            Tensor dx = t(flat2, FLAT);
            b.geluTanhBackward(t(flat2, FLAT), t(flat, FLAT), dx);
            return bits(dx);
        });
        ops.put("softmax", b -> {
            Tensor y = Tensor.zeros(m);
            b.softmax(t(x, m), y);
            return bits(y);
        });
        ops.put("softmaxBackward", b -> {
            Tensor y = Tensor.zeros(m);
            b.softmax(t(x, m), y);
            Tensor dx = t(x, m);
            b.softmaxBackward(t(dy, m), y, dx);
            return bits(dx);
        });
        ops.put("layerNorm", b -> {
            Tensor y = Tensor.zeros(m);
            Tensor mean = Tensor.zeros(ROWS);
            Tensor rstd = Tensor.zeros(ROWS);
            b.layerNorm(t(x, m), y, mean, rstd, 1e-6f);
            return bits(y, mean, rstd);
        });
        ops.put("layerNormBackward", b -> {
            Tensor y = Tensor.zeros(m);
            Tensor mean = Tensor.zeros(ROWS);
            Tensor rstd = Tensor.zeros(ROWS);
            b.layerNorm(t(x, m), y, mean, rstd, 1e-6f);
            Tensor dx = t(dy, m);
            b.layerNormBackward(t(dy, m), t(x, m), mean, rstd, dx);
            return bits(dx);
        });
        ops.put("rmsNorm", b -> {
            Tensor y = Tensor.zeros(m);
            Tensor rr = Tensor.zeros(ROWS);
            b.rmsNorm(t(x, m), t(w, COLS), y, rr, 1e-6f);
            return bits(y, rr);
        });
        ops.put("rmsNormBackward", b -> {
            Tensor y = Tensor.zeros(m);
            Tensor rr = Tensor.zeros(ROWS);
            b.rmsNorm(t(x, m), t(w, COLS), y, rr, 1e-6f);
            Tensor dx = t(dy, m);
            Tensor dw = t(w, COLS);
            b.rmsNormBackward(t(dy, m), t(x, m), t(w, COLS), rr, dx, dw);
            return bits(dx, dw);
        });
        ops.put("attention", b -> {
            Tensor out = Tensor.zeros(a4);
            Tensor lse = Tensor.zeros(1, HEADS, LEN);
            Tensor probs = Tensor.zeros(1, HEADS, LEN, LEN);
            b.attention(t(q, a4), t(k, a4), t(v, a4), out, lse, probs, scale);
            return bits(out, lse, probs);
        });
        ops.put("attentionBackward", b -> {
            Tensor out = Tensor.zeros(a4);
            Tensor lse = Tensor.zeros(1, HEADS, LEN);
            b.attention(t(q, a4), t(k, a4), t(v, a4), out, lse, null, scale);
            Tensor dq = t(dO, a4);
            Tensor dk = Tensor.zeros(a4);
            Tensor dv = t(q, a4);
            b.attentionBackward(t(dO, a4), t(q, a4), t(k, a4), t(v, a4), out, lse, dq, dk, dv, scale);
            return bits(dq, dk, dv);
        });
        ops.put("rope", b -> {
            Tensor y = Tensor.zeros(rope);
            b.rope(t(q, rope), t(cos, LEN, DIM / 2), t(sin, LEN, DIM / 2), y);
            return bits(y);
        });
        ops.put("ropeBackward", b -> {
            Tensor dx = t(k, rope);
            b.ropeBackward(t(q, rope), t(cos, LEN, DIM / 2), t(sin, LEN, DIM / 2), dx);
            return bits(dx);
        });
        ops.put("modulate", b -> {
            Tensor y = Tensor.zeros(bt);
            b.modulate(t(x2, bt), t(mod, mods), 0, 1, y);
            return bits(y);
        });
        ops.put("modulateBackward", b -> {
            Tensor dx = t(x2, bt);
            Tensor dmod = t(mod, mods);
            b.modulateBackward(t(dy2, bt), t(x2, bt), t(mod, mods), 0, 1, dx, dmod);
            return bits(dx, dmod);
        });
        ops.put("gateAdd", b -> {
            Tensor y = t(x2, bt);
            b.gateAdd(y, t(dy2, bt), t(mod, mods), 2);
            return bits(y);
        });
        ops.put("gateAddBackward", b -> {
            Tensor df = t(x2, bt);
            Tensor dmod = t(mod, mods);
            b.gateAddBackward(t(dy2, bt), t(x2, bt), t(mod, mods), 2, df, dmod);
            return bits(df, dmod);
        });
        ops.put("adamw", b -> {
            Tensor p = t(flat, FLAT);
            Tensor mm = t(moment, FLAT);
            Tensor vv = t(second, FLAT);
            b.adamw(p, t(flat2, FLAT), mm, vv, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 3);
            return bits(p, mm, vv);
        });
        ops.put("sum", b -> bits(b.sum(t(flat, FLAT))));
        ops.put("dot", b -> bits(b.dot(t(flat, FLAT), t(flat2, FLAT))));
        ops.put("sumRows", b -> {
            Tensor db = t(w, COLS);
            b.sumRows(t(x, m), db);
            return bits(db);
        });
        ops.put("gemm", b -> {
            Tensor c = Tensor.zeros(ROWS, ROWS);
            b.gemm(false, true, 1f, t(x, m), t(dy, m), 0f, c);
            return bits(c);
        });
        ops.put("axpyMulScale", b -> {
            Tensor y = t(flat2, FLAT);
            b.axpy(0.3f, t(flat, FLAT), y);
            Tensor z = Tensor.zeros(FLAT);
            b.mul(y, t(flat, FLAT), z);
            b.scale(z, 1.7f);
            return bits(y, z);
        });
        return ops;
    }

    /**
     * args: minimum and maximum iterations. After the minimum it goes on until the JIT has compiled nothing for
     * {@link #QUIET} iterations (so the last runs are of the final, C2-compiled code however slow the machine), or the
     * maximum. Prints one line per op, then {@code iterations n}.
     */
    public static void main(String[] args) {
        int min = Integer.parseInt(args[0]);
        int max = Integer.parseInt(args[1]);
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        Backend b = new CpuBackend();
        Map<String, Function<Backend, int[]>> ops = ops();
        Map<String, int[]> first = new LinkedHashMap<>();
        Map<String, Integer> changed = new LinkedHashMap<>();
        for (var e : ops.entrySet()) {
            first.put(e.getKey(), e.getValue().apply(b));
            changed.put(e.getKey(), -1);
        }
        long jitTime = -1;
        int lastCompile = 0;
        int it = 1;
        for (; it < max && (it < min || it - lastCompile < QUIET); it++) {
            for (var e : ops.entrySet()) {
                int[] now = e.getValue().apply(b);
                if (changed.get(e.getKey()) < 0 && !Arrays.equals(now, first.get(e.getKey()))) {
                    changed.put(e.getKey(), it);
                }
            }
            long t = jit == null ? 0 : jit.getTotalCompilationTime();
            if (t != jitTime) {
                jitTime = t;
                lastCompile = it;
            }
        }
        for (var e : first.entrySet()) {
            System.out.println(e.getKey() + " " + Arrays.hashCode(e.getValue()) + " " + changed.get(e.getKey()));
        }
        System.out.println("iterations " + it);
    }
}
