package dev.fluxerase.flux;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

/**
 * One Linear of the internal layout, y = x·Wᵀ + b, plus an optional LoRA y += s·(x·Aᵀ)·Bᵀ (FLUX.md §6.1).
 *
 * <p>Saved for the backward: the input x (by the caller, who owns the activation); with a LoRA also u = x·Aᵀ
 * [rows, rank], kept here because every Linear runs once per forward. W is read in place (F32, BF16 or F16); A and B
 * are F32. x may be a BF16 activation (the MLP's second Linear in the BF16 mode); y and the gradients are F32.
 */
final class Linear {
    /** diffusers module path: the key LoRAs use. */
    final String module;
    final String weightName;
    final String biasName;
    final Tensor weight;
    final Tensor bias;
    /** First row of the module's LoRA B (and its gradient) that feeds this Linear: the final adaLN halves share one. */
    final long loraRow;
    private Lora lora;
    /** LoRA activations: u = x·Aᵀ saved by forward, du = dy·B scratch of backward; reallocated when rows change. */
    private Tensor u;
    private Tensor du;
    /** The f32 pre-activation of {@link #forwardGelu} with a LoRA and BF16 outputs; allocated on first use. */
    private Tensor pre32;
    /** Holds u, du and pre32, so that a new token count or LoRA gives the old ones back. */
    private Buffers loraScratch;

    /** A LoRA as this Linear sees it: A [rank, in], the rows of B [out, rank] that belong here, and the scale. */
    record Lora(Tensor a, Tensor b, float scale) {
    }

    Linear(String module, String weightName, String biasName, Tensor weight, Tensor bias, long loraRow) {
        this.module = module;
        this.weightName = weightName;
        this.biasName = biasName;
        this.weight = weight;
        this.bias = bias;
        this.loraRow = loraRow;
    }

    long in() {
        return weight.dim(1);
    }

    long out() {
        return weight.dim(0);
    }

    Lora lora() {
        return lora;
    }

    void setLora(Lora l) {
        this.lora = l;
        freeLoraScratch();
    }

    private void freeLoraScratch() {
        if (loraScratch != null) {
            loraScratch.free();
            loraScratch = null;
        }
        u = null;
        du = null;
        pre32 = null;
    }

    /** u and du for this many rows, made anew (and the old ones given back) when the rows change. */
    private void loraScratch(Backend be, long rows) {
        if (u == null || u.dim(0) != rows) {
            freeLoraScratch();
            loraScratch = new Buffers(be);
            u = loraScratch.f32(rows, lora.a.dim(0));
            du = loraScratch.f32(rows, lora.a.dim(0));
        }
    }

    // ---- forward: y = x·Wᵀ + b + s·(x·Aᵀ)·Bᵀ; saves u = x·Aᵀ ----------------------------------------------------------

    void forward(Backend be, Tensor x, Tensor y) {
        be.gemm(false, true, 1f, x, weight, 0f, y);
        if (bias != null) {
            be.addBias(y, bias);
        }
        if (lora != null) {
            loraScratch(be, x.rows());
            be.gemm(false, true, 1f, x, lora.a, 0f, u);
            be.gemm(false, true, lora.scale, u, lora.b, 1f, y);
        }
    }

    /**
     * The MLP's first Linear and its GELU: pre = x·Wᵀ + b (+ LoRA), y = gelu_tanh(pre), pre and y of one dtype. F32
     * runs the separate ops as always. BF16 without a LoRA is one {@link Backend#linear} (bias and GELU in the GEMM's
     * epilogue, each output rounded once); with a LoRA, whose term must join before the GELU, the f32 pre-activation is
     * formed in scratch held beside u and rounded into both outputs.
     */
    void forwardGelu(Backend be, Tensor x, Tensor pre, Tensor y) {
        if (pre.dtype() == DType.F32) {
            forward(be, x, pre);
            be.geluTanh(pre, y);
        } else if (lora == null) {
            be.linear(x, weight, bias, y, pre);
        } else {
            loraScratch(be, x.rows());
            if (pre32 == null) {
                pre32 = loraScratch.f32(x.rows(), out());
            }
            forward(be, x, pre32);
            be.copy(pre32, pre);
            be.geluTanh(pre32, pre32);
            be.copy(pre32, y);
        }
    }

    // ---- backward: dx += dy·W (+ s·(dy·B)·A); dW += dyᵀ·x; db += Σ dy; dB += s·dyᵀ·u; dA += s·(dy·B)ᵀ·x -------------

    /**
     * dx may be null (input gradient not needed). Parameter gradients come from {@code g}; absent ones (frozen base) are
     * skipped. x must be the input of this Linear's latest forward.
     */
    void backward(Backend be, Tensor dy, Tensor x, Tensor dx, FluxGradients g) {
        if (dx != null) {
            be.gemm(false, false, 1f, dy, weight, 1f, dx);
        }
        Tensor dw = g.param(weightName);
        if (dw != null) {
            be.gemm(true, false, 1f, dy, x, 1f, dw);
        }
        Tensor db = biasName == null ? null : g.param(biasName);
        if (db != null) {
            be.sumRows(dy, db);
        }
        if (lora != null) {
            be.gemm(false, false, 1f, dy, lora.b, 0f, du);
            Tensor dB = g.loraB(module);
            if (dB != null) {
                be.gemm(true, false, lora.scale, dy, u, 1f, dB.sliceRows(loraRow, out()));
            }
            Tensor dA = g.loraA(module);
            if (dA != null) {
                be.gemm(true, false, lora.scale, du, x, 1f, dA);
            }
            if (dx != null) {
                be.gemm(false, false, lora.scale, du, lora.a, 1f, dx);
            }
        }
    }
}
