package dev.fluxerase.flux;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Tensor;

import java.util.Arrays;

/**
 * Rotary position embedding tables (FLUX.md §2.5): for each token of the joint sequence (text first) and each of the
 * Dh/2 adjacent pairs, the angle pos[axis]·θ^(−2j/d_axis), with j restarting at 0 on every axis. Angles and their
 * cos/sin are computed in double and rounded to f32 once. One table pair per batch element, or a single shared pair
 * when every batch element has the same ids.
 */
final class Rope {
    private final double[][] ids;
    private final Tensor[] cos;
    private final Tensor[] sin;

    private Rope(double[][] ids, Tensor[] cos, Tensor[] sin) {
        this.ids = ids;
        this.cos = cos;
        this.sin = sin;
    }

    /** Whether these are the tables of {@code ids}, so that a forward at the same positions can use them again. */
    boolean isFor(double[][] ids) {
        return Arrays.deepEquals(this.ids, ids);
    }

    /** Gives the tables' memory back to the backend (a device's; see {@link Backend#free}). */
    void free(Backend be) {
        for (int b = 0; b < cos.length; b++) {
            be.free(cos[b]);
            be.free(sin[b]);
        }
    }

    /**
     * ids: for each batch element (or one shared entry) the joint sequence's positions, [L·axes] row-major with the
     * text tokens first.
     */
    static Rope build(Backend be, FluxConfig c, double[][] ids) {
        int[] axes = c.axesDim();
        int pairs = c.headDim() / 2;
        int l = ids[0].length / axes.length;
        double[] omega = new double[pairs];
        int[] axisOf = new int[pairs];
        int m = 0;
        for (int a = 0; a < axes.length; a++) {
            for (int j = 0; j < axes[a] / 2; j++, m++) {
                omega[m] = 1.0 / Math.pow(c.theta(), 2.0 * j / axes[a]);
                axisOf[m] = a;
            }
        }
        Tensor[] cos = new Tensor[ids.length];
        Tensor[] sin = new Tensor[ids.length];
        for (int b = 0; b < ids.length; b++) {
            float[] cs = new float[l * pairs];
            float[] sn = new float[l * pairs];
            for (int t = 0; t < l; t++) {
                for (int p = 0; p < pairs; p++) {
                    double angle = ids[b][t * axes.length + axisOf[p]] * omega[p];
                    cs[t * pairs + p] = (float) Math.cos(angle);
                    sn[t * pairs + p] = (float) Math.sin(angle);
                }
            }
            cos[b] = be.upload(cs, l, pairs);
            sin[b] = be.upload(sn, l, pairs);
        }
        return new Rope(ids, cos, sin);
    }

    /** x [B, heads, L, Dh] rotated in place. */
    void apply(Backend be, Tensor x) {
        if (cos.length == 1) {
            be.rope(x, cos[0], sin[0], x);
            return;
        }
        for (int b = 0; b < cos.length; b++) {
            Tensor xb = x.sliceRows(b, 1);
            be.rope(xb, cos[b], sin[b], xb);
        }
    }

    /** dx += dy rotated back. */
    void backward(Backend be, Tensor dy, Tensor dx) {
        if (cos.length == 1) {
            be.ropeBackward(dy, cos[0], sin[0], dx);
            return;
        }
        for (int b = 0; b < cos.length; b++) {
            be.ropeBackward(dy.sliceRows(b, 1), cos[b], sin[b], dx.sliceRows(b, 1));
        }
    }
}
