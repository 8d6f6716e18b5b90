package dev.fluxerase.flux;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Tensor;

/**
 * The conditioning vector (FLUX.md §2.3–2.4): vec = time_in(emb(t)) + guidance_in(emb(g)) + vector_in(y), each an
 * MLPEmbedder Linear–SiLU–Linear, and svec = SiLU(vec), the input of every modulation Linear.
 *
 * <p>Saved for the backward: each MLP's input, hidden pre-activation h and SiLU(h); vec.
 */
final class Embedders {
    private final Mlp time;
    private final Mlp guidance;
    private final Mlp vector;
    private long batch = -1;
    private Buffers buffers;
    private Tensor vec;
    private Tensor svec;
    private Tensor dvec;

    Embedders(Mlp time, Mlp guidance, Mlp vector) {
        this.time = time;
        this.guidance = guidance;
        this.vector = vector;
    }

    /** Linear–SiLU–Linear with its activations. */
    static final class Mlp {
        final Linear l1;
        final Linear l2;
        Tensor x;
        Tensor h;
        Tensor s;
        Tensor out;
        private Tensor ds;
        private Tensor dh;

        Mlp(Linear l1, Linear l2) {
            this.l1 = l1;
            this.l2 = l2;
        }

        private void ensure(Buffers buf, long b) {
            x = buf.f32(b, l1.in());
            h = buf.f32(b, l1.out());
            s = buf.f32(b, l1.out());
            out = buf.f32(b, l2.out());
            ds = buf.f32(b, l1.out());
            dh = buf.f32(b, l1.out());
        }

        // forward: out = l2(SiLU(l1(x))); x is already in this.x

        private void forward(Backend be) {
            l1.forward(be, x, h);
            be.silu(h, s);
            l2.forward(be, s, out);
        }

        // backward: dx += d/dx of the above (dx may be null)

        private void backward(Backend be, Tensor dout, Tensor dx, FluxGradients g) {
            be.fill(ds, 0f);
            l2.backward(be, dout, s, ds, g);
            be.fill(dh, 0f);
            be.siluBackward(ds, h, dh);
            l1.backward(be, dh, x, dx, g);
        }
    }

    /** [B, 256] sinusoid of 1000·s: cos of the 128 frequencies first, then sin; computed in double. */
    static float[] sinusoid(double[] s) {
        int half = FluxModel.TIMESTEP_DIM / 2;
        float[] e = new float[s.length * FluxModel.TIMESTEP_DIM];
        for (int b = 0; b < s.length; b++) {
            double a = 1000.0 * s[b];
            for (int k = 0; k < half; k++) {
                double arg = a * Math.exp(-Math.log(10000.0) * k / half);
                e[b * FluxModel.TIMESTEP_DIM + k] = (float) Math.cos(arg);
                e[b * FluxModel.TIMESTEP_DIM + half + k] = (float) Math.sin(arg);
            }
        }
        return e;
    }

    Tensor vec() {
        return vec;
    }

    Tensor svec() {
        return svec;
    }

    Mlp time() {
        return time;
    }

    Mlp guidance() {
        return guidance;
    }

    Mlp vector() {
        return vector;
    }

    /** Computes vec and svec for timesteps [B], guidance [B] (null without a guidance embedder) and y [B, vec_in]. */
    void forward(Backend be, double[] timesteps, double[] guidanceValues, Tensor y) {
        long b = timesteps.length;
        if (b != batch) {
            if (buffers != null) {
                buffers.free();
            }
            Buffers buf = new Buffers(be);
            buffers = buf;
            for (Mlp m : new Mlp[]{time, guidance, vector}) {
                if (m != null) {
                    m.ensure(buf, b);
                }
            }
            vec = buf.f32(b, time.l2.out());
            svec = buf.f32(b, time.l2.out());
            dvec = buf.f32(b, time.l2.out());
            batch = b;
        }
        be.write(time.x, sinusoid(timesteps));
        time.forward(be);
        be.copy(time.out, vec);
        if (guidance != null) {
            be.write(guidance.x, sinusoid(guidanceValues));
            guidance.forward(be);
            be.axpy(1f, guidance.out, vec);
        }
        be.copy(y, vector.x);
        vector.forward(be);
        be.axpy(1f, vector.out, vec);
        be.silu(vec, svec);
    }

    /** Backward from dL/d svec (every modulation Linear's dx); dy [B, vec_in] may be null. */
    void backward(Backend be, Tensor dsvec, Tensor dy, FluxGradients g) {
        be.fill(dvec, 0f);
        be.siluBackward(dsvec, vec, dvec);
        time.backward(be, dvec, null, g);
        if (guidance != null) {
            guidance.backward(be, dvec, null, g);
        }
        vector.backward(be, dvec, dy, g);
    }
}
