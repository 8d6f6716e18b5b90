package dev.fluxerase.flux;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

/**
 * Double-stream block (FLUX.md §2.9): image and text streams with their own weights, joined only by the attention over
 * the concatenated sequence (text first).
 *
 * <p>Saved for the backward, per stream ({@link StreamActs}): the modulation vector; LN1 mean/rstd, LN1 output and the
 * modulated attention input; q, k before the QK norm with their rrms, v; the merged attention output, its projection,
 * the residual after attention x1; LN2 mean/rstd and output, the modulated MLP input, the MLP hidden before and after
 * GELU (F32 or BF16, as the model's MLP activations are) and the MLP output. Jointly ({@link Acts}): Q, K after norm and RoPE, V, the attention output O and the row
 * log-sum-exp. The block input (x of LN1) is owned by the caller, as is the output.
 */
final class DoubleBlock {
    static final float EPS = 1e-6f;

    final int index;
    final Stream img;
    final Stream txt;

    /** The weights of one stream. */
    record Stream(Linear mod, Linear q, Linear k, Linear v, Tensor normQ, String normQName, Tensor normK,
                  String normKName, Linear proj, Linear ff0, Linear ff2) {
        Linear[] linears() {
            return new Linear[]{mod, q, k, v, proj, ff0, ff2};
        }
    }

    DoubleBlock(int index, Stream img, Stream txt) {
        this.index = index;
        this.img = img;
        this.txt = txt;
    }

    /** Activations of one stream with T tokens. */
    static final class StreamActs {
        final Tensor mod;
        final Tensor mean1;
        final Tensor rstd1;
        final Tensor ln1;
        final Tensor xm1;
        final Tensor q;
        final Tensor k;
        final Tensor v;
        final Tensor rq;
        final Tensor rk;
        final Tensor attn;
        final Tensor proj;
        final Tensor x1;
        final Tensor mean2;
        final Tensor rstd2;
        final Tensor ln2;
        final Tensor xm2;
        final Tensor h1;
        final Tensor g;
        final Tensor h2;

        /** mlp: the dtype of h1 and g, the MLP's activations (F32, or BF16 to halve their memory). */
        StreamActs(Buffers buf, FluxConfig c, long b, long t, DType mlp) {
            long h = c.hiddenSize();
            long m = c.mlpHidden();
            long heads = c.numHeads();
            mod = buf.f32(b, 6 * h);
            mean1 = buf.f32(b * t);
            rstd1 = buf.f32(b * t);
            ln1 = buf.f32(b, t, h);
            xm1 = buf.f32(b, t, h);
            q = buf.f32(b, t, h);
            k = buf.f32(b, t, h);
            v = buf.f32(b, t, h);
            rq = buf.f32(b * t * heads);
            rk = buf.f32(b * t * heads);
            attn = buf.f32(b, t, h);
            proj = buf.f32(b, t, h);
            x1 = buf.f32(b, t, h);
            mean2 = buf.f32(b * t);
            rstd2 = buf.f32(b * t);
            ln2 = buf.f32(b, t, h);
            xm2 = buf.f32(b, t, h);
            h1 = buf.of(mlp, b, t, m);
            g = buf.of(mlp, b, t, m);
            h2 = buf.f32(b, t, h);
        }
    }

    /** Everything one double block saves. */
    static final class Acts {
        final StreamActs img;
        final StreamActs txt;
        final Tensor qj;
        final Tensor kj;
        final Tensor vj;
        final Tensor oj;
        final Tensor lse;

        Acts(Buffers buf, FluxConfig c, long b, long lTxt, long lImg, DType mlp) {
            img = new StreamActs(buf, c, b, lImg, mlp);
            txt = new StreamActs(buf, c, b, lTxt, mlp);
            long l = lTxt + lImg;
            qj = buf.f32(b, c.numHeads(), l, c.headDim());
            kj = buf.f32(b, c.numHeads(), l, c.headDim());
            vj = buf.f32(b, c.numHeads(), l, c.headDim());
            oj = buf.f32(b, c.numHeads(), l, c.headDim());
            lse = buf.f32(b, c.numHeads(), l);
        }
    }

    /** Backward scratch of one stream; shared by all double blocks. */
    static final class StreamScratch {
        final Tensor dmod;
        final Tensor a;
        final Tensor b;
        final Tensor c;
        final Tensor d;
        final Tensor e;
        final Tensor m1;
        final Tensor m2;

        StreamScratch(Buffers buf, FluxConfig cfg, long batch, long t) {
            long h = cfg.hiddenSize();
            long m = cfg.mlpHidden();
            dmod = buf.f32(batch, 6 * h);
            a = buf.f32(batch, t, h);
            b = buf.f32(batch, t, h);
            c = buf.f32(batch, t, h);
            d = buf.f32(batch, t, h);
            e = buf.f32(batch, t, h);
            m1 = buf.f32(batch, t, m);
            m2 = buf.f32(batch, t, m);
        }
    }

    /** Backward scratch of the joint attention and both streams; shared by all double blocks. */
    static final class Scratch {
        final StreamScratch img;
        final StreamScratch txt;
        final Tensor dO;
        final Tensor dQ;
        final Tensor dK;
        final Tensor dV;
        final Tensor dQn;
        final Tensor dKn;
        private final Buffers buf;
        /** dL/d scores from an external dL/d probabilities [B, heads, L, L]; allocated on first use. */
        private Tensor dS;

        Tensor dS() {
            if (dS == null) {
                dS = buf.f32(dO.dim(0), dO.dim(1), dO.dim(2), dO.dim(2));
            }
            return dS;
        }

        Scratch(Buffers buf, FluxConfig c, long b, long lTxt, long lImg) {
            this.buf = buf;
            img = new StreamScratch(buf, c, b, lImg);
            txt = new StreamScratch(buf, c, b, lTxt);
            long l = lTxt + lImg;
            dO = buf.f32(b, c.numHeads(), l, c.headDim());
            dQ = buf.f32(b, c.numHeads(), l, c.headDim());
            dK = buf.f32(b, c.numHeads(), l, c.headDim());
            dV = buf.f32(b, c.numHeads(), l, c.headDim());
            dQn = buf.f32(b, c.numHeads(), l, c.headDim());
            dKn = buf.f32(b, c.numHeads(), l, c.headDim());
        }
    }

    // ---- forward ----------------------------------------------------------------------------------------------------

    /** imgIn [B, Li, H], txtIn [B, Lt, H] → imgOut, txtOut; probs [B, heads, L, L] receives the attention when not null. */
    void forward(Backend be, Tensor imgIn, Tensor txtIn, Tensor svec, Rope rope, Acts a, Tensor imgOut, Tensor txtOut,
                 Tensor probs, float attnScale) {
        long lTxt = txtIn.dim(1);
        preAttention(be, txt, txtIn, svec, a.txt, a, 0);
        preAttention(be, img, imgIn, svec, a.img, a, lTxt);
        rope.apply(be, a.qj);
        rope.apply(be, a.kj);
        be.attention(a.qj, a.kj, a.vj, a.oj, a.lse, probs, attnScale);
        postAttention(be, txt, txtIn, a.txt, a, 0, txtOut);
        postAttention(be, img, imgIn, a.img, a, lTxt, imgOut);
    }

    /** Modulation, LN1, modulate, q/k/v, QK norm, and the scatter of q, k, v into the joint tensors at tokOff. */
    private static void preAttention(Backend be, Stream w, Tensor x, Tensor svec, StreamActs s, Acts a, long tokOff) {
        long h = x.dim(2);
        long dh = a.qj.dim(3);
        w.mod.forward(be, svec, s.mod);
        be.layerNorm(x, s.ln1, s.mean1, s.rstd1, EPS);
        be.modulate(s.ln1, s.mod, 0, 1, s.xm1);
        w.q.forward(be, s.xm1, s.q);
        w.k.forward(be, s.xm1, s.k);
        w.v.forward(be, s.xm1, s.v);
        // The QK norm output is only needed inside the joint tensors, so it is written through the x1 buffer, which
        // this stream does not use until after the attention.
        Tensor normed = s.x1;
        be.rmsNorm(s.q.view(s.rq.dim(0), dh), w.normQ, normed.view(s.rq.dim(0), dh), s.rq, EPS);
        Copies.heads(be, normed, h, 0, a.qj, tokOff, true, false);
        be.rmsNorm(s.k.view(s.rk.dim(0), dh), w.normK, normed.view(s.rk.dim(0), dh), s.rk, EPS);
        Copies.heads(be, normed, h, 0, a.kj, tokOff, true, false);
        Copies.heads(be, s.v, h, 0, a.vj, tokOff, true, false);
    }

    /** Merge heads, projection, gated residual, LN2, modulate, MLP, gated residual. */
    private static void postAttention(Backend be, Stream w, Tensor x, StreamActs s, Acts a, long tokOff, Tensor out) {
        Copies.heads(be, s.attn, x.dim(2), 0, a.oj, tokOff, false, false);
        w.proj.forward(be, s.attn, s.proj);
        be.copy(x, s.x1);
        be.gateAdd(s.x1, s.proj, s.mod, 2);
        be.layerNorm(s.x1, s.ln2, s.mean2, s.rstd2, EPS);
        be.modulate(s.ln2, s.mod, 3, 4, s.xm2);
        w.ff0.forwardGelu(be, s.xm2, s.h1, s.g);
        w.ff2.forward(be, s.g, s.h2);
        be.copy(s.x1, out);
        be.gateAdd(out, s.h2, s.mod, 5);
    }

    // ---- backward ---------------------------------------------------------------------------------------------------

    /**
     * On entry dImg, dTxt hold dL/d(block output); on return dL/d(block input). dsvec += the modulation Linears'
     * input gradient when not null (when null, the modulation gradients are not formed at all). dProbs, when not null,
     * is a further dL/d(attention probabilities) [B, heads, L, L] of a loss on the probs this block's forward recorded.
     */
    void backward(Backend be, Tensor imgIn, Tensor txtIn, Tensor svec, Rope rope, Acts a, Scratch s, Tensor dImg,
                  Tensor dTxt, Tensor dsvec, Tensor probs, Tensor dProbs, FluxGradients g, float attnScale) {
        long lTxt = txtIn.dim(1);
        be.fill(s.dO, 0f);
        postAttentionBackward(be, txt, a.txt, s.txt, s, 0, dTxt, dsvec != null, g);
        postAttentionBackward(be, img, a.img, s.img, s, lTxt, dImg, dsvec != null, g);
        be.fill(s.dQ, 0f);
        be.fill(s.dK, 0f);
        be.fill(s.dV, 0f);
        be.attentionBackward(s.dO, a.qj, a.kj, a.vj, a.oj, a.lse, s.dQ, s.dK, s.dV, attnScale);
        if (dProbs != null) {
            probsBackward(be, probs, dProbs, a, s, attnScale);
        }
        be.fill(s.dQn, 0f);
        be.fill(s.dKn, 0f);
        rope.backward(be, s.dQ, s.dQn);
        rope.backward(be, s.dK, s.dKn);
        preAttentionBackward(be, txt, txtIn, svec, a.txt, s.txt, s, 0, dTxt, dsvec, g);
        preAttentionBackward(be, img, imgIn, svec, a.img, s.img, s, lTxt, dImg, dsvec, g);
    }

    /**
     * The probabilities' own gradient: dS = P⊙(dP − rowsum(dP⊙P)), then dQ += scale·dS·K and dK += scale·dSᵀ·Q per
     * batch element and head. The attention backward is linear in dP, so this adds to what attentionBackward gave.
     */
    private static void probsBackward(Backend be, Tensor probs, Tensor dProbs, Acts a, Scratch s, float attnScale) {
        Tensor ds = s.dS();
        be.fill(ds, 0f);
        be.softmaxBackward(dProbs, probs, ds);
        long bh = a.qj.dim(0) * a.qj.dim(1);
        long l = a.qj.dim(2);
        long dh = a.qj.dim(3);
        Tensor dsAll = ds.view(bh, l, l);
        Tensor q = a.qj.view(bh, l, dh);
        Tensor k = a.kj.view(bh, l, dh);
        Tensor dq = s.dQ.view(bh, l, dh);
        Tensor dk = s.dK.view(bh, l, dh);
        for (long i = 0; i < bh; i++) {
            Tensor dsi = dsAll.sliceRows(i, 1);
            be.gemm(false, false, attnScale, dsi, k.sliceRows(i, 1), 1f, dq.sliceRows(i, 1));
            be.gemm(true, false, attnScale, dsi, q.sliceRows(i, 1), 1f, dk.sliceRows(i, 1));
        }
    }

    private static void postAttentionBackward(Backend be, Stream w, StreamActs a, StreamScratch s, Scratch js,
                                              long tokOff, Tensor dx, boolean needMod, FluxGradients g) {
        Tensor dmod = needMod ? s.dmod : null;
        be.fill(s.dmod, 0f);
        // out = x1 + gate2·h2
        be.fill(s.a, 0f);
        be.gateAddBackward(dx, a.h2, a.mod, 5, s.a, s.dmod);
        be.fill(s.m1, 0f);
        w.ff2.backward(be, s.a, a.g, s.m1, g);
        be.fill(s.m2, 0f);
        be.geluTanhBackward(s.m1, a.h1, s.m2);
        be.fill(s.b, 0f);
        w.ff0.backward(be, s.m2, a.xm2, s.b, g);
        be.fill(s.a, 0f);
        be.modulateBackward(s.b, a.ln2, a.mod, 3, 4, s.a, dmod);
        be.layerNormBackward(s.a, a.x1, a.mean2, a.rstd2, dx);
        // x1 = x + gate1·proj(attn)
        be.fill(s.b, 0f);
        be.gateAddBackward(dx, a.proj, a.mod, 2, s.b, s.dmod);
        be.fill(s.a, 0f);
        w.proj.backward(be, s.b, a.attn, s.a, g);
        Copies.heads(be, s.a, s.a.dim(2), 0, js.dO, tokOff, true, true);
    }

    private static void preAttentionBackward(Backend be, Stream w, Tensor x, Tensor svec, StreamActs a,
                                             StreamScratch s, Scratch js, long tokOff, Tensor dx, Tensor dsvec,
                                             FluxGradients g) {
        long h = x.dim(2);
        long dh = js.dQ.dim(3);
        long rows = a.rq.dim(0);
        be.fill(s.a, 0f);
        be.fill(s.b, 0f);
        be.fill(s.c, 0f);
        Copies.heads(be, s.a, h, 0, js.dQn, tokOff, false, true);
        Copies.heads(be, s.b, h, 0, js.dKn, tokOff, false, true);
        Copies.heads(be, s.c, h, 0, js.dV, tokOff, false, true);
        be.fill(s.d, 0f);
        be.fill(s.e, 0f);
        be.rmsNormBackward(s.a.view(rows, dh), a.q.view(rows, dh), w.normQ, a.rq, s.d.view(rows, dh),
                g.param(w.normQName));
        be.rmsNormBackward(s.b.view(rows, dh), a.k.view(rows, dh), w.normK, a.rk, s.e.view(rows, dh),
                g.param(w.normKName));
        be.fill(s.a, 0f);
        w.q.backward(be, s.d, a.xm1, s.a, g);
        w.k.backward(be, s.e, a.xm1, s.a, g);
        w.v.backward(be, s.c, a.xm1, s.a, g);
        be.fill(s.b, 0f);
        be.modulateBackward(s.a, a.ln1, a.mod, 0, 1, s.b, dsvec == null ? null : s.dmod);
        be.layerNormBackward(s.b, x, a.mean1, a.rstd1, dx);
        if (dsvec != null) {
            w.mod.backward(be, s.dmod, svec, dsvec, g);
        }
    }
}
