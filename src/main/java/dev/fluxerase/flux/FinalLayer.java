package dev.fluxerase.flux;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Tensor;

/**
 * Final layer (FLUX.md §2.11): out = proj_out((1 + scale)·LN(img) + shift), with shift and scale the two halves of the
 * final adaLN Linear on SiLU(vec), held as two Linears (BFL order: shift first).
 *
 * <p>Saved for the backward: shift and scale packed as one [B, 2H] modulation (chunk 0 shift, chunk 1 scale), the
 * input img, LN mean/rstd and output, the modulated input.
 */
final class FinalLayer {
    final Linear shift;
    final Linear scale;
    final Linear proj;
    private long batch = -1;
    private long tokens = -1;
    private Buffers buffers;
    private Tensor shiftOut;
    private Tensor scaleOut;
    private Tensor mod;
    private Tensor in;
    private Tensor mean;
    private Tensor rstd;
    private Tensor ln;
    private Tensor xm;
    private Tensor out;
    private Tensor dmod;
    private Tensor dHalf;
    private Tensor dxm;
    private Tensor dln;

    FinalLayer(Linear shift, Linear scale, Linear proj) {
        this.shift = shift;
        this.scale = scale;
        this.proj = proj;
    }

    /** The final layer's input buffer [B, Li, H], which the caller fills before {@link #forward}. */
    Tensor input(Backend be, long b, long lImg) {
        if (batch != b || tokens != lImg) {
            long h = shift.out();
            if (buffers != null) {
                buffers.free();
            }
            Buffers buf = new Buffers(be);
            buffers = buf;
            shiftOut = buf.f32(b, h);
            scaleOut = buf.f32(b, h);
            mod = buf.f32(b, 2 * h);
            in = buf.f32(b, lImg, h);
            mean = buf.f32(b * lImg);
            rstd = buf.f32(b * lImg);
            ln = buf.f32(b, lImg, h);
            xm = buf.f32(b, lImg, h);
            out = buf.f32(b, lImg, proj.out());
            dmod = buf.f32(b, 2 * h);
            dHalf = buf.f32(b, h);
            dxm = buf.f32(b, lImg, h);
            dln = buf.f32(b, lImg, h);
            batch = b;
            tokens = lImg;
        }
        return in;
    }

    // ---- forward ----------------------------------------------------------------------------------------------------

    Tensor forward(Backend be, Tensor svec) {
        long h = shift.out();
        shift.forward(be, svec, shiftOut);
        scale.forward(be, svec, scaleOut);
        Copies.columns(be, shiftOut, 0, mod, 0, h, false);
        Copies.columns(be, scaleOut, 0, mod, h, h, false);
        be.layerNorm(in, ln, mean, rstd, DoubleBlock.EPS);
        be.modulate(ln, mod, 0, 1, xm);
        proj.forward(be, xm, out);
        return out;
    }

    // ---- backward: dIn += dL/d in; dsvec += through the adaLN halves when not null -----------------------------------

    void backward(Backend be, Tensor dOut, Tensor svec, Tensor dIn, Tensor dsvec, FluxGradients g) {
        long h = shift.out();
        be.fill(dxm, 0f);
        proj.backward(be, dOut, xm, dxm, g);
        be.fill(dln, 0f);
        be.fill(dmod, 0f);
        be.modulateBackward(dxm, ln, mod, 0, 1, dln, dsvec == null ? null : dmod);
        be.layerNormBackward(dln, in, mean, rstd, dIn);
        if (dsvec != null) {
            Copies.columns(be, dmod, 0, dHalf, 0, h, false);
            shift.backward(be, dHalf, svec, dsvec, g);
            Copies.columns(be, dmod, h, dHalf, 0, h, false);
            scale.backward(be, dHalf, svec, dsvec, g);
        }
    }
}
