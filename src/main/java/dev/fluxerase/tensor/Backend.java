package dev.fluxerase.tensor;

import java.util.List;
import java.util.OptionalLong;

/**
 * Every op that FLUX's forward and backward need, on one device. What each op accepts is {@link BackendContract}, which
 * every implementation checks at the op's entry. The naive backend (plain loops, f64 accumulation) is the reference;
 * the CPU backend (Vector API, threads) and the CUDA backend must agree with it, op by op.
 *
 * <p>Conventions, shared by every implementation:
 * <ul>
 *   <li>Activations, gradients and optimizer state are F32. Weights (the {@code w} of {@link #gemm} and the norm scales) may
 *       be F32, BF16 or F16 and are read in place. The ops that a model's MLP activations pass through ({@link #linear},
 *       gemm's a and b, {@link #geluTanhBackward}'s x, {@link #copy} and {@link #copyStrided}) also take them in
 *       BF16.</li>
 *   <li>A tensor used as a matrix is viewed as [rows, cols] with cols = its last dimension ({@link Tensor#rows()},
 *       {@link Tensor#cols()}).</li>
 *   <li>Forward ops overwrite their outputs. Backward ops ADD into every gradient they produce (input and parameter
 *       gradients alike), so the caller zeroes gradients once and contributions from several consumers sum up.</li>
 *   <li>Outputs never alias inputs unless the op says so.</li>
 * </ul>
 */
public interface Backend extends AutoCloseable {

    String name();

    Device device();

    // ---- memory -------------------------------------------------------------------------------------------------------

    /** A zero-filled tensor on this backend's device. */
    Tensor allocate(DType dtype, long... shape);

    /** An F32 tensor on this device holding a copy of {@code values}. */
    Tensor upload(float[] values, long... shape);

    /**
     * A host tensor on this device in its own dtype (how weights, BF16 ones included, reach the backend). Backends
     * that compute on host memory use the tensor itself; device backends override this with a copy.
     */
    default Tensor toDevice(Tensor host) {
        BackendContract.on(device()).toDevice(host);
        return host;
    }

    /**
     * dst = values, converted to dst's float dtype as {@link #copy} converts: how a buffer that is used again (an
     * input, a step's scratch) is refilled without allocating.
     */
    default void write(Tensor dst, float[] values) {
        BackendContract.on(device()).write(dst, values);
        Tensor staged = upload(values, dst.shape());
        copy(staged, dst);
        free(staged);
    }

    /** Any float tensor of this device, converted to f32 on the host. */
    float[] download(Tensor t);

    /** {@link #download} as a host F32 tensor of the same shape. */
    default Tensor toHost(Tensor t) {
        return Tensor.of(download(t), t.shape());
    }

    /**
     * A tensor this backend made, which is not needed here any more, as a host tensor: the tensor itself on a host
     * backend (no copy), else {@link #toHost} of it with the device memory {@link #free}d. How results leave a model
     * that runs on any backend for callers that read them on the host.
     */
    default Tensor moveToHost(Tensor t) {
        if (device() == Device.CPU) {
            return t;
        }
        Tensor host = toHost(t);
        free(t);
        return host;
    }

    /**
     * Gives back the memory of a tensor made by {@link #allocate}, {@link #upload} or {@link #toDevice} (not a view or
     * a slice of one); the tensor must not be used afterwards. A device backend holds what it allocated until then (or
     * until it is closed), so code that allocates per call or per step frees what it made; host backends leave their
     * tensors to the garbage collector and do nothing here.
     */
    default void free(Tensor t) {
    }

    /**
     * The bytes this backend's device could still allocate, as its driver reports them (other processes' use
     * included); empty for the host backends, whose tensors live on the Java heap.
     */
    default OptionalLong freeMemory() {
        return OptionalLong.empty();
    }

    /** dst = src (same element count), converting between float dtypes (round-to-nearest-even when narrowing). */
    void copy(Tensor src, Tensor dst);

    void fill(Tensor t, float value);

    /**
     * Strided 4-D copy between F32 or BF16 tensors (converting, round-to-nearest-even into BF16; accumulating only into
     * an F32 dst): for every index (i0..i3) below {@code sizes},
     * {@code dst[dstOffset + Σ ik·dstStrides[k]] (+)= src[srcOffset + Σ ik·srcStrides[k]]}, adding when {@code accumulate}.
     * Offsets and strides count elements. This is how heads are split and merged, sequences concatenated (text first) and
     * column ranges of fused projections taken; the adjoint of a copy is the same call with src and dst swapped and
     * accumulate set.
     */
    void copyStrided(Tensor src, long srcOffset, long[] srcStrides, Tensor dst, long dstOffset, long[] dstStrides,
                     long[] sizes, boolean accumulate);

    // ---- GEMM ---------------------------------------------------------------------------------------------------------

    /**
     * c = alpha · op(a) · op(b) + beta · c, where op(x) is x or xᵀ of the [rows, cols] matrix view. a is F32 or BF16 (an
     * activation), c is F32, b is F32, BF16 or F16 (a weight, or a BF16 activation in dW += dyᵀ·x). With beta = 0, c is overwritten (NaNs in c do not propagate).
     * Linear forward y = x·Wᵀ is {@code gemm(false, true, 1, x, W, 0, y)}; dx += dy·W is
     * {@code gemm(false, false, 1, dy, W, 1, dx)}; dW += dyᵀ·x is {@code gemm(true, false, 1, dy, x, 1, dW)}.
     */
    void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c);

    /**
     * A Linear forward with its epilogue in one op, y = x·Wᵀ + bias for x [rows, in] and w [out, in] (F32, BF16 or
     * F16), bias [out] (any of those; null for none), accumulated in f32. When preGelu is not null it receives
     * x·Wᵀ + bias and y receives gelu_tanh of that f32 value (what the GELU backward then reads from preGelu): the
     * cuBLASLt GELU_AUX_BIAS epilogue. x, y and preGelu [rows, out] may each be F32 or BF16; a BF16 output is the f32
     * result rounded to nearest even, once. This is how a model keeps its MLP activations in BF16.
     */
    void linear(Tensor x, Tensor w, Tensor bias, Tensor y, Tensor preGelu);

    /** y[r, :] += bias (bias [cols], any float dtype). */
    void addBias(Tensor y, Tensor bias);

    /** db[c] += Σ_r dy[r, c]: the bias gradient. */
    void sumRows(Tensor dy, Tensor db);

    // ---- elementwise and reductions -----------------------------------------------------------------------------------

    /** y += alpha · x. */
    void axpy(float alpha, Tensor x, Tensor y);

    /** out = a ⊙ b. */
    void mul(Tensor a, Tensor b, Tensor out);

    /** x *= alpha, in place. */
    void scale(Tensor x, float alpha);

    /** Σ x, accumulated in double. */
    double sum(Tensor x);

    /** Σ a ⊙ b, accumulated in double. */
    double dot(Tensor a, Tensor b);

    // ---- activations ---------------------------------------------------------------------------------------------------

    /** y = x·sigmoid(x). y may be x. */
    void silu(Tensor x, Tensor y);

    /** dx += dy · silu'(x). */
    void siluBackward(Tensor dy, Tensor x, Tensor dx);

    /** y = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). y may be x. */
    void geluTanh(Tensor x, Tensor y);

    /** dx += dy · gelu_tanh'(x); x may be BF16 (a pre-activation that {@link #linear} saved in BF16). */
    void geluTanhBackward(Tensor dy, Tensor x, Tensor dx);

    /** Row-wise softmax over the last dimension. y may be x. */
    void softmax(Tensor x, Tensor y);

    /** dx += y ⊙ (dy − rowsum(dy ⊙ y)). */
    void softmaxBackward(Tensor dy, Tensor y, Tensor dx);

    // ---- norms --------------------------------------------------------------------------------------------------------

    /**
     * LayerNorm without affine over the last dimension: y = (x − μ)·rstd, rstd = 1/√(var + eps) with biased variance.
     * Saves mean [rows] and rstd [rows] for the backward.
     */
    void layerNorm(Tensor x, Tensor y, Tensor mean, Tensor rstd, float eps);

    /** dx += (dx̂ − mean(dx̂) − x̂·mean(dx̂ ⊙ x̂))·rstd, with dx̂ = dy and x̂ recomputed from x, mean, rstd. */
    void layerNormBackward(Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor dx);

    /**
     * RMSNorm over the last dimension with a learnable scale: y = x·r·w, r = 1/√(mean(x²) + eps). Saves r [rows].
     * For QK norms x is [.., heads·rows, 128] and w is [128].
     */
    void rmsNorm(Tensor x, Tensor weight, Tensor y, Tensor rrms, float eps);

    /** dw += Σ_rows dy⊙x·r; with u = dy⊙w: dx += r·(u − x·r²·mean(u⊙x)). dWeight (F32) may be null when frozen. */
    void rmsNormBackward(Tensor dy, Tensor x, Tensor weight, Tensor rrms, Tensor dx, Tensor dWeight);

    // ---- adaLN modulation ---------------------------------------------------------------------------------------------

    /**
     * y[b, t, c] = (1 + mod[b, scaleChunk·C + c])·x[b, t, c] + mod[b, shiftChunk·C + c] for x [B, T, C] and
     * mod [B, k·C] (the modulation Linear's output, chunks in the order the block defines).
     */
    void modulate(Tensor x, Tensor mod, int shiftChunk, int scaleChunk, Tensor y);

    /** dx += dy·(1 + scale); dmod[scale] += Σ_t dy⊙x; dmod[shift] += Σ_t dy. dx or dmod may be null. */
    void modulateBackward(Tensor dy, Tensor x, Tensor mod, int shiftChunk, int scaleChunk, Tensor dx, Tensor dmod);

    /** Gated residual, in place: x[b, t, c] += mod[b, gateChunk·C + c]·f[b, t, c]. */
    void gateAdd(Tensor x, Tensor f, Tensor mod, int gateChunk);

    /** df += dy⊙gate; dmod[gate] += Σ_t dy⊙f (the residual's own dx += dy is the identity and left to the caller). */
    void gateAddBackward(Tensor dy, Tensor f, Tensor mod, int gateChunk, Tensor df, Tensor dmod);

    // ---- rotary embedding -----------------------------------------------------------------------------------------------

    /**
     * RoPE on adjacent pairs of x [B, H, L, D] with cos, sin [L, D/2] (F32):
     * y[2m] = cos·x[2m] − sin·x[2m+1], y[2m+1] = sin·x[2m] + cos·x[2m+1]. y may be x.
     */
    void rope(Tensor x, Tensor cos, Tensor sin, Tensor y);

    /** dx += rotation of dy by −θ. */
    void ropeBackward(Tensor dy, Tensor cos, Tensor sin, Tensor dx);

    // ---- attention ----------------------------------------------------------------------------------------------------

    /**
     * out = softmax(q·kᵀ·scale)·v for q, k, v, out [B, H, L, D]; lse [B, H, L] receives each query row's log-sum-exp of
     * the scaled scores (what the backward and the chosen-column probabilities need). probs [B, H, L, L] receives the
     * probabilities when not null (small models and the attention losses on the CPU).
     */
    void attention(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor probs, float scale);

    /** dq, dk, dv += the gradients of the attention above, recomputing probabilities from lse. */
    void attentionBackward(Tensor dOut, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dq, Tensor dk,
                           Tensor dv, float scale);

    // ---- convolution and group norm (the VAE) ---------------------------------------------------------------------------

    /**
     * y (+)= conv(x) + bias over channels-last maps: x [B, H, W, Cin] F32; w [Cout, kh, kw, Cin] F32, BF16 or F16, read in
     * place (kh, kw any size from 1); bias [Cout] in any of those dtypes, or null for none; y [B, OH, OW, Cout] F32 with
     * OH, OW as {@code g} derives them ({@link ConvGeometry#outSize}): y[b, oy, ox, co] = bias[co] + Σ_{ky, kx, ci}
     * w[co, ky, kx, ci]·x[b, vy / up, vx / up, ci] over the taps whose virtual pixel (vy, vx) lies inside the upsampled
     * map. With {@code accumulate} the result is added to y (a ResNet block's skip is fused so: the caller copies the
     * skip into y first), otherwise y is overwritten. Inference only: the VAE is never trained here, so there is no
     * backward.
     */
    void conv2d(Tensor x, Tensor w, Tensor bias, Tensor y, ConvGeometry g, boolean accumulate);

    /**
     * GroupNorm over channels-last x [B, P, C] (P pixels): {@code groups} groups of C/groups consecutive channels, with
     * mean μ and biased variance σ² per (image, group) over its P·C/groups values; y = (x − μ)·rstd·gamma[c] + beta[c],
     * rstd = 1/√(σ² + eps), followed by y·sigmoid(y) when {@code swish}. gamma and beta [C] are F32, BF16 or F16; y is
     * F32 of x's shape and may be x. Inference only (nothing is saved for a backward).
     */
    void groupNorm(Tensor x, Tensor gamma, Tensor beta, Tensor y, int groups, float eps, boolean swish);

    // ---- optimizer ----------------------------------------------------------------------------------------------------

    /**
     * One decoupled-weight-decay Adam step (PyTorch AdamW semantics) on param with grad and state m, v, all F32 of one
     * shape; step counts from 1 for the bias corrections.
     */
    void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
               float weightDecay, long step);

    /**
     * One step of torch.optim.AdamW on bf16 parameters, gradients and moments, whose bf16 values param, grad, m and v
     * (F32 tensors of one shape) hold: each of PyTorch's in-place ops computes in float from bf16 operands and rounds
     * its result to bf16 (to nearest even), with the float scalars that {@code dev.fluxerase.optim.AdamW} derives from
     * the settings as PyTorch rounds its Python floats. g = bf16(grad); p = bf16(p·decay); m = bf16(lerp(m, g, w1)),
     * as fma(w1, g − m, m) below w1 = ½ and fma(m − g, 1 − w1, g) from it (ATen's two forms); v = bf16(fma(w2, g·g,
     * bf16(v·beta2))); d = bf16(bf16(bf16(√v) / bc2Sqrt) + eps); p = bf16(fma(stepSize, m / d, p)). Every result is
     * exactly determined, so all backends agree bit for bit.
     */
    void adamwBf16(Tensor param, Tensor grad, Tensor m, Tensor v, float decay, float w1, float beta2, float w2,
                   float bc2Sqrt, float eps, float stepSize);

    /**
     * {@link #adamw} on every parameter with its gradient and moments (four lists in one order) at one step count; a
     * device backend updates them all in one launch, which matters for a LoRA's dozens of small tensors.
     */
    default void adamwAll(List<Tensor> params, List<Tensor> grads, List<Tensor> ms, List<Tensor> vs, float lr,
                          float beta1, float beta2, float eps, float weightDecay, long step) {
        BackendContract.on(device()).adamwAll(params, grads, ms, vs, step);
        for (int i = 0; i < params.size(); i++) {
            adamw(params.get(i), grads.get(i), ms.get(i), vs.get(i), lr, beta1, beta2, eps, weightDecay, step);
        }
    }

    @Override
    default void close() {
    }
}
