package dev.fluxerase.cpu;

import jdk.incubator.vector.FloatVector;

import static dev.fluxerase.cpu.Vec.N;
import static dev.fluxerase.cpu.Vec.S;

/**
 * SiLU, GELU (tanh approximation) and row softmax. SiLU and GELU backwards recompute from the saved input x; the softmax
 * backward uses the saved output y. exp, tanh and sigmoid are {@link DetMath}'s (the Vector API's EXP/TANH round
 * differently per JIT tier), and every scalar tail repeats its vector body's operations in the same order (fma where it
 * uses fma), so an element gets the same bits whichever path the chunking sends it through.
 */
final class Activations {
    private static final float GELU_K = (float) Math.sqrt(2 / Math.PI);
    private static final float GELU_C = 0.044715f;
    private static final float GELU_3C = 3 * GELU_C;

    private Activations() {
    }

    // ---- SiLU: y = x·σ(x); saved: x --------------------------------------------------------------------------------------

    static void silu(Arr x, Arr y, int n) {
        Parallel.forRange(n, 8, (c, from, to) -> {
            int xo = x.off + from;
            int yo = y.off + from;
            int len = to - from;
            int i = 0;
            for (int upper = S.loopBound(len); i < upper; i += N) {
                DetMath.silu(FloatVector.fromArray(S, x.a, xo + i)).intoArray(y.a, yo + i);
            }
            for (; i < len; i++) {
                y.a[yo + i] = DetMath.silu(x.a[xo + i]);
            }
        });
    }

    /** dx += dy·σ(x)·(1 + x·(1 − σ(x))). */
    static void siluBackward(Arr dy, Arr x, Arr dx, int n) {
        Parallel.forRange(n, 10, (c, from, to) -> {
            int len = to - from;
            int i = 0;
            for (int upper = S.loopBound(len); i < upper; i += N) {
                FloatVector v = FloatVector.fromArray(S, x.a, x.off + from + i);
                FloatVector s = DetMath.sigmoid(v);
                FloatVector d = s.mul(v.mul(s.neg().add(1f)).add(1f));
                FloatVector g = FloatVector.fromArray(S, dy.a, dy.off + from + i);
                g.fma(d, FloatVector.fromArray(S, dx.a, dx.off + from + i)).intoArray(dx.a, dx.off + from + i);
            }
            for (; i < len; i++) {
                float v = x.a[x.off + from + i];
                float s = DetMath.sigmoid(v);
                float d = s * (v * (1f - s) + 1f);
                int k = dx.off + from + i;
                dx.a[k] = Math.fma(dy.a[dy.off + from + i], d, dx.a[k]);
            }
        });
    }

    // ---- GELU (tanh): y = 0.5·x·(1 + tanh(k·(x + c·x³))); saved: x ------------------------------------------------------

    static void geluTanh(Arr x, Arr y, int n) {
        Parallel.forRange(n, 8, (c, from, to) -> {
            int xo = x.off + from;
            int yo = y.off + from;
            int len = to - from;
            int i = 0;
            for (int upper = S.loopBound(len); i < upper; i += N) {
                FloatVector v = FloatVector.fromArray(S, x.a, xo + i);
                FloatVector u = v.mul(v).mul(v).mul(GELU_C).add(v).mul(GELU_K);
                FloatVector t = DetMath.tanh(u);
                v.mul(0.5f).mul(t.add(1f)).intoArray(y.a, yo + i);
            }
            for (; i < len; i++) {
                float v = x.a[xo + i];
                float t = DetMath.tanh((v * v * v * GELU_C + v) * GELU_K);
                y.a[yo + i] = v * 0.5f * (t + 1f);
            }
        });
    }

    /** dx += dy·(0.5·(1 + t) + 0.5·x·(1 − t²)·k·(1 + 3c·x²)). */
    static void geluTanhBackward(Arr dy, Arr x, Arr dx, int n) {
        Parallel.forRange(n, 12, (c, from, to) -> {
            int len = to - from;
            int i = 0;
            for (int upper = S.loopBound(len); i < upper; i += N) {
                FloatVector v = FloatVector.fromArray(S, x.a, x.off + from + i);
                FloatVector v2 = v.mul(v);
                FloatVector t = DetMath.tanh(v2.mul(v).mul(GELU_C).add(v).mul(GELU_K));
                FloatVector inner = v2.mul(GELU_3C).add(1f).mul(GELU_K);
                FloatVector d = t.add(1f).mul(0.5f).add(v.mul(0.5f).mul(t.mul(t).neg().add(1f)).mul(inner));
                FloatVector g = FloatVector.fromArray(S, dy.a, dy.off + from + i);
                g.fma(d, FloatVector.fromArray(S, dx.a, dx.off + from + i)).intoArray(dx.a, dx.off + from + i);
            }
            for (; i < len; i++) {
                float v = x.a[x.off + from + i];
                float v2 = v * v;
                float t = DetMath.tanh((v2 * v * GELU_C + v) * GELU_K);
                float inner = (v2 * GELU_3C + 1f) * GELU_K;
                float d = (t + 1f) * 0.5f + v * 0.5f * (1f - t * t) * inner;
                int k = dx.off + from + i;
                dx.a[k] = Math.fma(dy.a[dy.off + from + i], d, dx.a[k]);
            }
        });
    }

    // ---- softmax over rows: y = exp(x − max)/Σ; saved: y ----------------------------------------------------------------

    static void softmax(Arr x, Arr y, int rows, int cols) {
        Parallel.forRange(rows, 4L * cols, (c, from, to) -> {
            for (int r = from; r < to; r++) {
                softmaxRow(x.a, x.off + r * cols, y.a, y.off + r * cols, cols);
            }
        });
    }

    /** One row; y may be x (each element is read before it is written). */
    private static void softmaxRow(float[] x, int xo, float[] y, int yo, int n) {
        float max = Vec.max(x, xo, n);
        FloatVector vmax = FloatVector.broadcast(S, max);
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (int upper = S.loopBound(n); i < upper; i += N) {
            FloatVector e = DetMath.exp(FloatVector.fromArray(S, x, xo + i).sub(vmax));
            e.intoArray(y, yo + i);
            acc = acc.add(e);
        }
        float sum = Vec.sumLanes(acc);
        for (; i < n; i++) {
            float e = DetMath.exp(x[xo + i] - max);
            y[yo + i] = e;
            sum += e;
        }
        Vec.scale(y, yo, n, 1 / sum);
    }

    /** dx += y ⊙ (dy − Σ dy⊙y). */
    static void softmaxBackward(Arr dy, Arr y, Arr dx, int rows, int cols) {
        Parallel.forRange(rows, 4L * cols, (c, from, to) -> {
            for (int r = from; r < to; r++) {
                int dyo = dy.off + r * cols;
                int yo = y.off + r * cols;
                int dxo = dx.off + r * cols;
                FloatVector s = FloatVector.broadcast(S, Vec.dot(dy.a, dyo, y.a, yo, cols));
                int i = 0;
                for (int upper = S.loopBound(cols); i < upper; i += N) {
                    FloatVector g = FloatVector.fromArray(S, dy.a, dyo + i).sub(s);
                    FloatVector.fromArray(S, y.a, yo + i).fma(g, FloatVector.fromArray(S, dx.a, dxo + i))
                            .intoArray(dx.a, dxo + i);
                }
                float sc = s.lane(0);
                for (; i < cols; i++) {
                    dx.a[dxo + i] += y.a[yo + i] * (dy.a[dyo + i] - sc);
                }
            }
        });
    }
}
