// AdamW (PyTorch semantics, decoupled weight decay) on f32 params, grads and moments. An optimizer has no backward,
// so nothing is saved for one; the state m, v is what each step keeps for the next. bc1 = 1 - beta1^step and
// bc2 = 1 - beta2^step come from the host in double.
#include "common.cuh"

__device__ __forceinline__ void adamw_one(float* p, const float* g, float* m, float* v, long long i, float lr, float b1,
                                          float b2, float eps, float wd, float bc1, float bc2) {
    const float gi = g[i];
    const float mi = b1 * m[i] + (1.f - b1) * gi;
    const float vi = b2 * v[i] + (1.f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float pi = p[i] * (1.f - lr * wd);
    p[i] = pi - (lr / bc1) * mi / (sqrtf(vi) / sqrtf(bc2) + eps);
}

extern "C" __global__ void adamw_f32(long long n, float* p, const float* g, float* m, float* v, float lr, float b1,
                                     float b2, float eps, float wd, float bc1, float bc2) {
    GRID_STRIDE(i, n) adamw_one(p, g, m, v, i, lr, b1, b2, eps, wd, bc1, bc2);
}

// One launch for many tensors: offsets[count + 1] are the prefix sums of their sizes, ptrs[4 * t .. 4 * t + 3] the
// addresses of tensor t's param, grad, m and v. Each element finds its tensor by binary search.
extern "C" __global__ void adamw_multi(long long total, int count, const long long* offsets,
                                       const unsigned long long* ptrs, float lr, float b1, float b2, float eps, float wd,
                                       float bc1, float bc2) {
    GRID_STRIDE(i, total) {
        int lo = 0, hi = count - 1;
        while (lo < hi) {
            const int mid = (lo + hi + 1) >> 1;
            if (offsets[mid] <= i) lo = mid;
            else hi = mid - 1;
        }
        const unsigned long long* t = ptrs + 4 * lo;
        adamw_one(reinterpret_cast<float*>(t[0]), reinterpret_cast<const float*>(t[1]), reinterpret_cast<float*>(t[2]),
                  reinterpret_cast<float*>(t[3]), i - offsets[lo], lr, b1, b2, eps, wd, bc1, bc2);
    }
}

// torch.optim.AdamW on bf16 parameters, state and gradients, whose values are kept in f32 tensors (the erase trainer's
// lora_dtype bf16): every op computes in float from bf16 operands and rounds its result to bf16, as PyTorch's in-place
// ops on bf16 tensors do, with the float scalars the host derives from PyTorch's Python floats. The multiply-adds are
// explicit fmaf, as nvcc compiles PyTorch's kernels, and nothing else may be contracted: each rounding is a value.
// NaiveBackend.adamwBf16 is the same sequence in Java.
__device__ __forceinline__ float round_bf16(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }

extern "C" __global__ void adamw_bf16(long long n, float* p, const float* g, float* m, float* v, float decay, float w1,
                                      float beta2, float w2, float bc2_sqrt, float eps, float step_size) {
    GRID_STRIDE(i, n) {
        const float gi = round_bf16(g[i]);
        const float pi = round_bf16(p[i] * decay);
        const float m0 = m[i];
        // ATen's lerp takes the form that is exact at its end for weights of 1/2 and more
        const float mi = round_bf16(w1 < 0.5f ? fmaf(w1, gi - m0, m0) : fmaf(m0 - gi, 1.f - w1, gi));
        const float gg = gi * gi;
        const float vi = round_bf16(fmaf(w2, gg, round_bf16(v[i] * beta2)));
        const float d = round_bf16(round_bf16(round_bf16(sqrtf(vi)) / bc2_sqrt) + eps);
        p[i] = round_bf16(fmaf(step_size, mi / d, pi));
        m[i] = mi;
        v[i] = vi;
    }
}
