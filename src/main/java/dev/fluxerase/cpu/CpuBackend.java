package dev.fluxerase.cpu;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.BackendContract;
import dev.fluxerase.tensor.ConvGeometry;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

/**
 * The fast CPU backend: Vector API kernels (preferred species, scalar tails), split across a shared fork-join pool when an
 * op is large enough. The kernels live by op family, forward next to backward: {@link Elementwise}, {@link Bias},
 * {@link Activations}, {@link Norms}, {@link Modulation}, {@link Rope}, {@link Attention}, {@link AdamW}, {@link Strided};
 * GEMM is {@link CpuGemm}, which the VAE's {@link Conv} also runs on.
 *
 * <p>It accepts exactly the calls {@link NaiveBackend} accepts (same validation, same readings of the contract, listed
 * there) and agrees with it to f32 round-off. Kernels work on float[] windows ({@link Arr}): our own F32 tensors are heap
 * arrays and are used in place; native or memory-mapped F32 operands are staged through a copy. A call involving a tensor
 * too large for one array (≥ 2³¹ elements, which {@link #allocate} places in native memory) runs the reference kernel.
 * Memory layout is {@link HostMemory}'s: zeroed heap arrays of the dtype's width, native memory beyond array size.
 */
public final class CpuBackend implements Backend {
    private static final BackendContract CHECK = BackendContract.on(Device.CPU);
    private final NaiveBackend reference = new NaiveBackend();
    /** Frozen weights in the GEMM's packed layout, or null when this backend packs every weight on every call. */
    private final PackedWeights packed;

    /** A backend that keeps frozen weights packed unless the system property flux.erase.cpu.pack.cache is "false". */
    public CpuBackend() {
        this(PackedWeights.enabledByDefault());
    }

    /**
     * packFrozenWeights: keep each frozen B of y = x·Bᵀ ({@link Tensor#isFrozen}: a model's weights read from a file)
     * packed after its first GEMM, at the weight's own bytes per parameter in native memory ({@link PackedWeights}).
     */
    public CpuBackend(boolean packFrozenWeights) {
        this.packed = packFrozenWeights ? new PackedWeights() : null;
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public Device device() {
        return Device.CPU;
    }

    private static boolean huge(Tensor... ts) {
        for (Tensor t : ts) {
            if (Arr.huge(t)) {
                return true;
            }
        }
        return false;
    }

    /** Staging for an optional output (null stays null). */
    private static Arr outOrNull(Tensor t) {
        return t == null ? null : Arr.out(t);
    }

    private static Arr inOutOrNull(Tensor t) {
        return t == null ? null : Arr.inOut(t);
    }

    /**
     * An F32 tensor holding t's values: t itself when it is F32, else a widened copy. BF16 activations take this way
     * into the f32 kernels; the copy costs a pass over the tensor, which the BF16 mode (a GPU memory and speed mode)
     * accepts on the CPU, where it exists to run the same model code.
     */
    private static Tensor widened(Tensor t) {
        return t.dtype() == DType.F32 ? t : Tensor.of(Floats.toF32(t), t.shape());
    }

    private static void commit(Arr... outputs) {
        for (Arr a : outputs) {
            if (a != null) {
                a.commit();
            }
        }
    }

    // ---- memory -----------------------------------------------------------------------------------------------------------

    @Override
    public Tensor allocate(DType dtype, long... shape) {
        return HostMemory.allocate(dtype, shape);
    }

    @Override
    public Tensor upload(float[] values, long... shape) {
        CHECK.upload(values, shape);
        return HostMemory.upload(values, shape);
    }

    @Override
    public float[] download(Tensor t) {
        CHECK.download(t);
        return HostMemory.download(t);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        CHECK.copy(src, dst);
        HostMemory.copy(src, dst);
    }

    @Override
    public void fill(Tensor t, float value) {
        CHECK.fill(t);
        HostMemory.fill(t, value);
    }

    @Override
    public void copyStrided(Tensor src, long srcOffset, long[] srcStrides, Tensor dst, long dstOffset, long[] dstStrides,
                            long[] sizes, boolean accumulate) {
        if (!CHECK.copyStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, sizes, accumulate)) {
            return;
        }
        if (huge(src, dst)) {
            reference.copyStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, sizes, accumulate);
            return;
        }
        // a BF16 dst is widened whole, written, and rounded back: its untouched elements are bf16 values already
        Tensor d32 = widened(dst);
        Arr d = Arr.inOut(d32);
        Strided.copy(Arr.in(widened(src)), srcOffset, srcStrides, d, dstOffset, dstStrides, sizes, accumulate);
        d.commit();
        if (d32 != dst) {
            HostMemory.copy(d32, dst);
        }
    }

    // ---- GEMM -------------------------------------------------------------------------------------------------------------

    @Override
    public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        CHECK.gemm(transA, transB, a, b, c);
        if (huge(a) && a.dtype() != DType.F32) {
            reference.gemm(transA, transB, alpha, a, b, beta, c);
            return;
        }
        CpuGemm.gemm(transA, transB, alpha, widened(a), b, beta, c, packed);
    }

    /**
     * The unfused ops in sequence on f32 values: the GEMM (BF16 x widened), the bias, a copy into preGelu and the GELU
     * in place, each output rounded once when it is BF16. With F32 tensors these are exactly the bits of gemm, addBias
     * and geluTanh called one after the other.
     */
    @Override
    public void linear(Tensor x, Tensor w, Tensor bias, Tensor y, Tensor preGelu) {
        CHECK.linear(x, w, bias, y, preGelu);
        if (huge(x, y)) {
            reference.linear(x, w, bias, y, preGelu);
            return;
        }
        Tensor z = y.dtype() == DType.F32 ? y : HostMemory.allocate(DType.F32, y.shape());
        CpuGemm.gemm(false, true, 1f, widened(x), w, 0f, z, packed);
        if (bias != null) {
            addBias(z, bias);
        }
        if (preGelu != null) {
            HostMemory.copy(z, preGelu);
            geluTanh(z, z);
        }
        if (z != y) {
            HostMemory.copy(z, y);
        }
    }

    @Override
    public void addBias(Tensor y, Tensor bias) {
        CHECK.addBias(y, bias);
        if (huge(y)) {
            reference.addBias(y, bias);
            return;
        }
        Arr ya = Arr.inOut(y);
        Bias.addBias(ya, Arr.weight(bias), (int) y.rows(), (int) y.cols());
        ya.commit();
    }

    @Override
    public void sumRows(Tensor dy, Tensor db) {
        CHECK.sumRows(dy, db);
        if (huge(dy)) {
            reference.sumRows(dy, db);
            return;
        }
        Arr d = Arr.inOut(db);
        Bias.sumRows(Arr.in(dy), d, (int) dy.rows(), (int) dy.cols());
        d.commit();
    }

    // ---- elementwise and reductions -----------------------------------------------------------------------------------------

    @Override
    public void axpy(float alpha, Tensor x, Tensor y) {
        CHECK.axpy(x, y);
        if (huge(x)) {
            reference.axpy(alpha, x, y);
            return;
        }
        Arr ya = Arr.inOut(y);
        Elementwise.axpy(alpha, Arr.in(x), ya, (int) x.numel());
        ya.commit();
    }

    @Override
    public void mul(Tensor a, Tensor b, Tensor out) {
        CHECK.mul(a, b, out);
        if (huge(a)) {
            reference.mul(a, b, out);
            return;
        }
        Arr o = Arr.out(out);
        Elementwise.mul(Arr.in(a), Arr.in(b), o, (int) a.numel());
        o.commit();
    }

    @Override
    public void scale(Tensor x, float alpha) {
        CHECK.scale(x);
        if (huge(x)) {
            reference.scale(x, alpha);
            return;
        }
        Arr xa = Arr.inOut(x);
        Elementwise.scale(xa, (int) x.numel(), alpha);
        xa.commit();
    }

    @Override
    public double sum(Tensor x) {
        CHECK.sum(x);
        if (huge(x)) {
            return reference.sum(x);
        }
        return Elementwise.sum(Arr.in(x), (int) x.numel());
    }

    @Override
    public double dot(Tensor a, Tensor b) {
        CHECK.dot(a, b);
        if (huge(a)) {
            return reference.dot(a, b);
        }
        return Elementwise.dot(Arr.in(a), Arr.in(b), (int) a.numel());
    }

    // ---- activations ------------------------------------------------------------------------------------------------------

    @Override
    public void silu(Tensor x, Tensor y) {
        CHECK.unary("silu", x, y);
        if (huge(x)) {
            reference.silu(x, y);
            return;
        }
        Arr ya = Arr.out(y);
        Activations.silu(Arr.in(x), ya, (int) x.numel());
        ya.commit();
    }

    @Override
    public void siluBackward(Tensor dy, Tensor x, Tensor dx) {
        CHECK.unaryBackward("siluBackward", dy, x, dx);
        if (huge(x)) {
            reference.siluBackward(dy, x, dx);
            return;
        }
        Arr d = Arr.inOut(dx);
        Activations.siluBackward(Arr.in(dy), Arr.in(x), d, (int) x.numel());
        d.commit();
    }

    @Override
    public void geluTanh(Tensor x, Tensor y) {
        CHECK.unary("geluTanh", x, y);
        if (huge(x)) {
            reference.geluTanh(x, y);
            return;
        }
        Arr ya = Arr.out(y);
        Activations.geluTanh(Arr.in(x), ya, (int) x.numel());
        ya.commit();
    }

    @Override
    public void geluTanhBackward(Tensor dy, Tensor x, Tensor dx) {
        CHECK.geluTanhBackward(dy, x, dx);
        if (huge(x)) {
            reference.geluTanhBackward(dy, x, dx);
            return;
        }
        Arr d = Arr.inOut(dx);
        Activations.geluTanhBackward(Arr.in(dy), Arr.in(widened(x)), d, (int) x.numel());
        d.commit();
    }

    @Override
    public void softmax(Tensor x, Tensor y) {
        CHECK.unary("softmax", x, y);
        if (huge(x)) {
            reference.softmax(x, y);
            return;
        }
        Arr ya = Arr.out(y);
        Activations.softmax(Arr.in(x), ya, (int) x.rows(), (int) x.cols());
        ya.commit();
    }

    @Override
    public void softmaxBackward(Tensor dy, Tensor y, Tensor dx) {
        CHECK.softmaxBackward(dy, y, dx);
        if (huge(y)) {
            reference.softmaxBackward(dy, y, dx);
            return;
        }
        Arr d = Arr.inOut(dx);
        Activations.softmaxBackward(Arr.in(dy), Arr.in(y), d, (int) y.rows(), (int) y.cols());
        d.commit();
    }

    // ---- norms ------------------------------------------------------------------------------------------------------------

    @Override
    public void layerNorm(Tensor x, Tensor y, Tensor mean, Tensor rstd, float eps) {
        CHECK.layerNorm(x, y, mean, rstd);
        if (huge(x)) {
            reference.layerNorm(x, y, mean, rstd, eps);
            return;
        }
        Arr ya = Arr.out(y);
        Arr ma = outOrNull(mean);
        Arr ra = outOrNull(rstd);
        Norms.layerNorm(Arr.in(x), ya, ma, ra, eps, (int) x.rows(), (int) x.cols());
        commit(ya, ma, ra);
    }

    @Override
    public void layerNormBackward(Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor dx) {
        CHECK.layerNormBackward(dy, x, mean, rstd, dx);
        if (huge(x)) {
            reference.layerNormBackward(dy, x, mean, rstd, dx);
            return;
        }
        Arr d = Arr.inOut(dx);
        Norms.layerNormBackward(Arr.in(dy), Arr.in(x), Arr.in(mean), Arr.in(rstd), d, (int) x.rows(), (int) x.cols());
        d.commit();
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, Tensor y, Tensor rrms, float eps) {
        CHECK.rmsNorm(x, weight, y, rrms);
        if (huge(x)) {
            reference.rmsNorm(x, weight, y, rrms, eps);
            return;
        }
        Arr ya = Arr.out(y);
        Arr ra = outOrNull(rrms);
        Norms.rmsNorm(Arr.in(x), Arr.weight(weight), ya, ra, eps, (int) x.rows(), (int) x.cols());
        commit(ya, ra);
    }

    @Override
    public void rmsNormBackward(Tensor dy, Tensor x, Tensor weight, Tensor rrms, Tensor dx, Tensor dWeight) {
        CHECK.rmsNormBackward(dy, x, weight, rrms, dx, dWeight);
        if (huge(x)) {
            reference.rmsNormBackward(dy, x, weight, rrms, dx, dWeight);
            return;
        }
        Arr d = Arr.inOut(dx);
        Arr dw = inOutOrNull(dWeight);
        Norms.rmsNormBackward(Arr.in(dy), Arr.in(x), Arr.weight(weight), Arr.in(rrms), d, dw, (int) x.rows(),
                (int) x.cols());
        commit(d, dw);
    }

    // ---- adaLN modulation -------------------------------------------------------------------------------------------------

    @Override
    public void modulate(Tensor x, Tensor mod, int shiftChunk, int scaleChunk, Tensor y) {
        BackendContract.Mod s = CHECK.modulate(x, mod, shiftChunk, scaleChunk, y);
        if (huge(x, mod)) {
            reference.modulate(x, mod, shiftChunk, scaleChunk, y);
            return;
        }
        Arr ya = Arr.out(y);
        Modulation.modulate(Arr.in(x), Arr.in(mod), shiftChunk, scaleChunk, ya, s);
        ya.commit();
    }

    @Override
    public void modulateBackward(Tensor dy, Tensor x, Tensor mod, int shiftChunk, int scaleChunk, Tensor dx, Tensor dmod) {
        BackendContract.Mod s = CHECK.modulateBackward(dy, x, mod, shiftChunk, scaleChunk, dx, dmod);
        if (huge(x, mod)) {
            reference.modulateBackward(dy, x, mod, shiftChunk, scaleChunk, dx, dmod);
            return;
        }
        Arr dxa = inOutOrNull(dx);
        Arr dma = inOutOrNull(dmod);
        Modulation.modulateBackward(Arr.in(dy), Arr.in(x), Arr.in(mod), shiftChunk, scaleChunk, dxa, dma, s);
        commit(dxa, dma);
    }

    @Override
    public void gateAdd(Tensor x, Tensor f, Tensor mod, int gateChunk) {
        BackendContract.Mod s = CHECK.gateAdd(x, f, mod, gateChunk);
        if (huge(x, mod)) {
            reference.gateAdd(x, f, mod, gateChunk);
            return;
        }
        Arr xa = Arr.inOut(x);
        Modulation.gateAdd(xa, Arr.in(f), Arr.in(mod), gateChunk, s);
        xa.commit();
    }

    @Override
    public void gateAddBackward(Tensor dy, Tensor f, Tensor mod, int gateChunk, Tensor df, Tensor dmod) {
        BackendContract.Mod s = CHECK.gateAddBackward(dy, f, mod, gateChunk, df, dmod);
        if (huge(f, mod)) {
            reference.gateAddBackward(dy, f, mod, gateChunk, df, dmod);
            return;
        }
        Arr dfa = inOutOrNull(df);
        Arr dma = inOutOrNull(dmod);
        Modulation.gateAddBackward(Arr.in(dy), Arr.in(f), Arr.in(mod), gateChunk, dfa, dma, s);
        commit(dfa, dma);
    }

    // ---- rotary embedding -------------------------------------------------------------------------------------------------

    @Override
    public void rope(Tensor x, Tensor cos, Tensor sin, Tensor y) {
        BackendContract.Rope s = CHECK.rope(x, cos, sin, y);
        if (huge(x)) {
            reference.rope(x, cos, sin, y);
            return;
        }
        Arr ya = Arr.out(y);
        Rope.rotate(Arr.in(x), Arr.in(cos), Arr.in(sin), ya, s, 1f, false);
        ya.commit();
    }

    @Override
    public void ropeBackward(Tensor dy, Tensor cos, Tensor sin, Tensor dx) {
        BackendContract.Rope s = CHECK.ropeBackward(dy, cos, sin, dx);
        if (huge(dy)) {
            reference.ropeBackward(dy, cos, sin, dx);
            return;
        }
        Arr d = Arr.inOut(dx);
        Rope.rotate(Arr.in(dy), Arr.in(cos), Arr.in(sin), d, s, -1f, true);
        d.commit();
    }

    // ---- attention --------------------------------------------------------------------------------------------------------

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor probs, float scale) {
        BackendContract.Attn s = CHECK.attention(q, k, v, out, lse, probs);
        if (huge(q, k, probs)) {
            reference.attention(q, k, v, out, lse, probs, scale);
            return;
        }
        Arr o = Arr.out(out);
        Arr l = outOrNull(lse);
        Arr p = outOrNull(probs);
        Attention.forward(Arr.in(q), Arr.in(k), Arr.in(v), o, l, p, scale, s);
        commit(o, l, p);
    }

    @Override
    public void attentionBackward(Tensor dOut, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dq, Tensor dk,
                                  Tensor dv, float scale) {
        BackendContract.Attn s = CHECK.attentionBackward(dOut, q, k, v, out, lse, dq, dk, dv);
        if (huge(q, k)) {
            reference.attentionBackward(dOut, q, k, v, out, lse, dq, dk, dv, scale);
            return;
        }
        Arr dqa = Arr.inOut(dq);
        Arr dka = Arr.inOut(dk);
        Arr dva = Arr.inOut(dv);
        Attention.backward(Arr.in(dOut), Arr.in(q), Arr.in(k), Arr.in(v), Arr.in(out), Arr.in(lse), dqa, dka, dva, scale,
                s);
        commit(dqa, dka, dva);
    }

    // ---- convolution and group norm (the VAE) -------------------------------------------------------------------------------

    @Override
    public void conv2d(Tensor x, Tensor w, Tensor bias, Tensor y, ConvGeometry g, boolean accumulate) {
        BackendContract.Conv c = CHECK.conv2d(x, w, bias, y, g);
        if (huge(x, w, y)) {
            reference.conv2d(x, w, bias, y, g, accumulate);
            return;
        }
        Conv.conv2d(x, w, bias, y, g, accumulate, c, packed);
    }

    @Override
    public void groupNorm(Tensor x, Tensor gamma, Tensor beta, Tensor y, int groups, float eps, boolean swish) {
        BackendContract.Groups s = CHECK.groupNorm(x, gamma, beta, y, groups);
        if (huge(x)) {
            reference.groupNorm(x, gamma, beta, y, groups, eps, swish);
            return;
        }
        Arr ya = Arr.out(y);
        Norms.groupNorm(Arr.in(x), Arr.weight(gamma), Arr.weight(beta), ya, eps, swish, s);
        ya.commit();
    }

    // ---- optimizer --------------------------------------------------------------------------------------------------------

    @Override
    public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                      float weightDecay, long step) {
        CHECK.adamw(param, grad, m, v, step);
        if (huge(param)) {
            reference.adamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step);
            return;
        }
        Arr p = Arr.inOut(param);
        Arr ma = Arr.inOut(m);
        Arr va = Arr.inOut(v);
        AdamW.step(p, Arr.in(grad), ma, va, (int) param.numel(), lr, beta1, beta2, eps, weightDecay, step);
        commit(p, ma, va);
    }

    /** The reference's loop: it runs on LoRA-sized tensors, and one copy of the rounding sequence keeps the bits. */
    @Override
    public void adamwBf16(Tensor param, Tensor grad, Tensor m, Tensor v, float decay, float w1, float beta2, float w2,
                          float bc2Sqrt, float eps, float stepSize) {
        reference.adamwBf16(param, grad, m, v, decay, w1, beta2, w2, bc2Sqrt, eps, stepSize);
    }
}
