package dev.fluxerase.cpu;

import dev.fluxerase.tensor.BackendContract;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;

import static dev.fluxerase.cpu.Vec.N;
import static dev.fluxerase.cpu.Vec.S;

/**
 * Rotary embedding on interleaved pairs: y = x⊙cos' + swap(x)⊙sin', where cos' repeats each cos twice, sin' is (−sin, +sin)
 * per pair and swap exchanges the two lanes of every pair (one vector shuffle). Nothing is saved: the backward is the same
 * rotation by −θ, accumulated. Work is split over positions l; each position's expanded table row is built once and applied
 * to every [B·H] slice.
 */
final class Rope {
    private static final VectorShuffle<Float> SWAP_PAIRS = VectorShuffle.fromOp(S, i -> i ^ 1);

    private Rope() {
    }

    /** y (+)= rotation of x by sign·θ; y may be x. */
    static void rotate(Arr x, Arr cos, Arr sin, Arr y, BackendContract.Rope s, float sign, boolean accumulate) {
        int l = s.length();
        int d = s.dim();
        int half = d / 2;
        int slices = (int) s.slices();
        Parallel.forRange(l, 4L * d * slices, (ch, from, to) -> {
            float[] c2 = new float[d];
            float[] s2 = new float[d];
            for (int p = from; p < to; p++) {
                for (int m = 0; m < half; m++) {
                    float cv = cos.a[cos.off + p * half + m];
                    float sv = sign * sin.a[sin.off + p * half + m];
                    c2[2 * m] = cv;
                    c2[2 * m + 1] = cv;
                    s2[2 * m] = -sv;
                    s2[2 * m + 1] = sv;
                }
                for (int h = 0; h < slices; h++) {
                    int row = (h * l + p) * d;
                    rotateRow(x.a, x.off + row, y.a, y.off + row, c2, s2, d, accumulate);
                }
            }
        });
    }

    private static void rotateRow(float[] x, int xo, float[] y, int yo, float[] c2, float[] s2, int d, boolean accumulate) {
        int i = 0;
        for (int upper = S.loopBound(d); i < upper; i += N) {
            FloatVector v = FloatVector.fromArray(S, x, xo + i);
            FloatVector r = v.mul(FloatVector.fromArray(S, c2, i))
                    .add(v.rearrange(SWAP_PAIRS).mul(FloatVector.fromArray(S, s2, i)));
            if (accumulate) {
                r = r.add(FloatVector.fromArray(S, y, yo + i));
            }
            r.intoArray(y, yo + i);
        }
        for (; i < d; i += 2) {
            float x0 = x[xo + i];
            float x1 = x[xo + i + 1];
            float y0 = c2[i] * x0 + s2[i] * x1;
            float y1 = s2[i + 1] * x0 + c2[i + 1] * x1;
            if (accumulate) {
                y[yo + i] += y0;
                y[yo + i + 1] += y1;
            } else {
                y[yo + i] = y0;
                y[yo + i + 1] = y1;
            }
        }
    }
}
