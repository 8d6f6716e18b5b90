package dev.fluxerase.flux;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

/**
 * Single-stream block (FLUX.md §2.10) on x = cat(txt, img): modulation (shift, scale, gate), LN, the split linear1
 * (to_q | to_k | to_v | proj_mlp), QK norm, RoPE, attention, and linear2 (proj_out) on cat(attention, GELU(mlp)).
 *
 * <p>Saved for the backward ({@link Acts}): the modulation vector, LN mean/rstd and output, the modulated input; q, k
 * before the QK norm with their rrms; Q, K after norm and RoPE, V, O and the row log-sum-exp; the MLP pre-activation;
 * the concatenated linear2 input and its output. The block input and output are owned by the caller.
 */
final class SingleBlock {
    final int index;
    final Linear mod;
    final Linear q;
    final Linear k;
    final Linear v;
    final Linear mlp;
    final Tensor normQ;
    final String normQName;
    final Tensor normK;
    final String normKName;
    final Linear proj;

    SingleBlock(int index, Linear mod, Linear q, Linear k, Linear v, Linear mlp, Tensor normQ, String normQName,
                Tensor normK, String normKName, Linear proj) {
        this.index = index;
        this.mod = mod;
        this.q = q;
        this.k = k;
        this.v = v;
        this.mlp = mlp;
        this.normQ = normQ;
        this.normQName = normQName;
        this.normK = normK;
        this.normKName = normKName;
        this.proj = proj;
    }

    Linear[] linears() {
        return new Linear[]{mod, q, k, v, mlp, proj};
    }

    static final class Acts {
        final Tensor mod;
        final Tensor mean;
        final Tensor rstd;
        final Tensor ln;
        final Tensor xm;
        final Tensor q;
        final Tensor k;
        final Tensor v;
        final Tensor rq;
        final Tensor rk;
        final Tensor qj;
        final Tensor kj;
        final Tensor vj;
        final Tensor oj;
        final Tensor lse;
        final Tensor mlp;
        final Tensor cat;
        final Tensor o;

        /**
         * mlp: the dtype of the MLP pre-activation and of cat, the linear2 input whose GELU columns are the MLP's
         * output. A BF16 cat also holds its attention columns rounded to bf16, which linear2's GEMM does to them anyway
         * on the GPU when its weight is bf16; the attention's own tensors stay F32.
         */
        Acts(Buffers buf, FluxConfig c, long b, long l, DType mlp) {
            long h = c.hiddenSize();
            long m = c.mlpHidden();
            mod = buf.f32(b, 3 * h);
            mean = buf.f32(b * l);
            rstd = buf.f32(b * l);
            ln = buf.f32(b, l, h);
            xm = buf.f32(b, l, h);
            q = buf.f32(b, l, h);
            k = buf.f32(b, l, h);
            v = buf.f32(b, l, h);
            rq = buf.f32(b * l * c.numHeads());
            rk = buf.f32(b * l * c.numHeads());
            qj = buf.f32(b, c.numHeads(), l, c.headDim());
            kj = buf.f32(b, c.numHeads(), l, c.headDim());
            vj = buf.f32(b, c.numHeads(), l, c.headDim());
            oj = buf.f32(b, c.numHeads(), l, c.headDim());
            lse = buf.f32(b, c.numHeads(), l);
            this.mlp = buf.of(mlp, b, l, m);
            cat = buf.of(mlp, b, l, h + m);
            o = buf.f32(b, l, h);
        }
    }

    /** Backward scratch shared by all single blocks. */
    static final class Scratch {
        final Tensor dmod;
        final Tensor dcat;
        final Tensor m1;
        final Tensor m2;
        final Tensor a;
        final Tensor b;
        final Tensor c;
        final Tensor d;
        final Tensor e;
        final Tensor dO;
        final Tensor dQ;
        final Tensor dK;
        final Tensor dV;
        final Tensor dQn;
        final Tensor dKn;

        Scratch(Buffers buf, FluxConfig cfg, long batch, long l) {
            long h = cfg.hiddenSize();
            long m = cfg.mlpHidden();
            dmod = buf.f32(batch, 3 * h);
            dcat = buf.f32(batch, l, h + m);
            m1 = buf.f32(batch, l, m);
            m2 = buf.f32(batch, l, m);
            a = buf.f32(batch, l, h);
            b = buf.f32(batch, l, h);
            c = buf.f32(batch, l, h);
            d = buf.f32(batch, l, h);
            e = buf.f32(batch, l, h);
            dO = buf.f32(batch, cfg.numHeads(), l, cfg.headDim());
            dQ = buf.f32(batch, cfg.numHeads(), l, cfg.headDim());
            dK = buf.f32(batch, cfg.numHeads(), l, cfg.headDim());
            dV = buf.f32(batch, cfg.numHeads(), l, cfg.headDim());
            dQn = buf.f32(batch, cfg.numHeads(), l, cfg.headDim());
            dKn = buf.f32(batch, cfg.numHeads(), l, cfg.headDim());
        }
    }

    // ---- forward: out = x + gate·linear2(cat(attn(x_m), GELU(mlp(x_m)))), x_m = (1+scale)·LN(x) + shift --------------

    /** x, out [B, L, H]; gelu [B, L, mlp] scratch of the MLP activations' dtype; probs [B, heads, L, L] receives the attention when not null. */
    void forward(Backend be, Tensor x, Tensor svec, Rope rope, Acts a, Tensor gelu, Tensor out, Tensor probs,
                 float attnScale) {
        long h = x.dim(2);
        long dh = a.qj.dim(3);
        long rows = a.rq.dim(0);
        mod.forward(be, svec, a.mod);
        be.layerNorm(x, a.ln, a.mean, a.rstd, DoubleBlock.EPS);
        be.modulate(a.ln, a.mod, 0, 1, a.xm);
        q.forward(be, a.xm, a.q);
        k.forward(be, a.xm, a.k);
        v.forward(be, a.xm, a.v);
        mlp.forwardGelu(be, a.xm, a.mlp, gelu);
        // The normed q and k only live inside the joint tensors; o is free until linear2 and carries them there.
        be.rmsNorm(a.q.view(rows, dh), normQ, a.o.view(rows, dh), a.rq, DoubleBlock.EPS);
        Copies.heads(be, a.o, h, 0, a.qj, 0, true, false);
        be.rmsNorm(a.k.view(rows, dh), normK, a.o.view(rows, dh), a.rk, DoubleBlock.EPS);
        Copies.heads(be, a.o, h, 0, a.kj, 0, true, false);
        Copies.heads(be, a.v, h, 0, a.vj, 0, true, false);
        rope.apply(be, a.qj);
        rope.apply(be, a.kj);
        be.attention(a.qj, a.kj, a.vj, a.oj, a.lse, probs, attnScale);
        Copies.heads(be, a.cat, a.cat.dim(2), 0, a.oj, 0, false, false);
        Copies.columns(be, gelu, 0, a.cat, h, a.mlp.dim(2), false);
        proj.forward(be, a.cat, a.o);
        be.copy(x, out);
        be.gateAdd(out, a.o, a.mod, 2);
    }

    // ---- backward: on entry dx = dL/d out, on return dL/d x; dsvec as in DoubleBlock ---------------------------------

    void backward(Backend be, Tensor x, Tensor svec, Rope rope, Acts a, Scratch s, Tensor dx, Tensor dsvec,
                  FluxGradients g, float attnScale) {
        long h = x.dim(2);
        long m = a.mlp.dim(2);
        long dh = a.qj.dim(3);
        long rows = a.rq.dim(0);
        be.fill(s.dmod, 0f);
        be.fill(s.a, 0f);
        be.gateAddBackward(dx, a.o, a.mod, 2, s.a, s.dmod);
        be.fill(s.dcat, 0f);
        proj.backward(be, s.a, a.cat, s.dcat, g);
        // mlp branch: dcat[:, h:] → GELU backward
        Copies.columns(be, s.dcat, h, s.m1, 0, m, false);
        be.fill(s.m2, 0f);
        be.geluTanhBackward(s.m1, a.mlp, s.m2);
        // attention branch
        be.fill(s.dO, 0f);
        Copies.heads(be, s.dcat, s.dcat.dim(2), 0, s.dO, 0, true, true);
        be.fill(s.dQ, 0f);
        be.fill(s.dK, 0f);
        be.fill(s.dV, 0f);
        be.attentionBackward(s.dO, a.qj, a.kj, a.vj, a.oj, a.lse, s.dQ, s.dK, s.dV, attnScale);
        be.fill(s.dQn, 0f);
        be.fill(s.dKn, 0f);
        rope.backward(be, s.dQ, s.dQn);
        rope.backward(be, s.dK, s.dKn);
        be.fill(s.a, 0f);
        be.fill(s.b, 0f);
        be.fill(s.c, 0f);
        Copies.heads(be, s.a, h, 0, s.dQn, 0, false, true);
        Copies.heads(be, s.b, h, 0, s.dKn, 0, false, true);
        Copies.heads(be, s.c, h, 0, s.dV, 0, false, true);
        be.fill(s.d, 0f);
        be.fill(s.e, 0f);
        be.rmsNormBackward(s.a.view(rows, dh), a.q.view(rows, dh), normQ, a.rq, s.d.view(rows, dh), g.param(normQName));
        be.rmsNormBackward(s.b.view(rows, dh), a.k.view(rows, dh), normK, a.rk, s.e.view(rows, dh), g.param(normKName));
        be.fill(s.a, 0f);
        q.backward(be, s.d, a.xm, s.a, g);
        k.backward(be, s.e, a.xm, s.a, g);
        v.backward(be, s.c, a.xm, s.a, g);
        mlp.backward(be, s.m2, a.xm, s.a, g);
        be.fill(s.b, 0f);
        be.modulateBackward(s.a, a.ln, a.mod, 0, 1, s.b, dsvec == null ? null : s.dmod);
        be.layerNormBackward(s.b, x, a.mean, a.rstd, dx);
        if (dsvec != null) {
            mod.backward(be, s.dmod, svec, dsvec, g);
        }
    }
}
