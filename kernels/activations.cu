// SiLU and tanh-GELU. The forward saves nothing: each backward recomputes from the saved input x (the caller keeps x).
#include "common.cuh"

#define SQRT_2_OVER_PI 0.7978845608028654f
#define GELU_C 0.044715f

// y = x * sigmoid(x); y may be x
extern "C" __global__ void silu_fwd(long long n, const float* x, float* y) {
    GRID_STRIDE(i, n) {
        const float v = x[i];
        y[i] = v / (1.f + expf(-v));
    }
}

// dx += dy * sigmoid(x) * (1 + x * (1 - sigmoid(x)))
extern "C" __global__ void silu_bwd(long long n, const float* dy, const float* x, float* dx) {
    GRID_STRIDE(i, n) {
        const float v = x[i];
        const float s = 1.f / (1.f + expf(-v));
        dx[i] += dy[i] * s * (1.f + v * (1.f - s));
    }
}

// y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); y may be x
extern "C" __global__ void gelu_tanh_fwd(long long n, const float* x, float* y) {
    GRID_STRIDE(i, n) {
        const float v = x[i];
        const float t = tanhf(SQRT_2_OVER_PI * (v + GELU_C * v * v * v));
        y[i] = 0.5f * v * (1.f + t);
    }
}

// dx += dy * (0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)); x, the saved pre-activation, is F32 or
// BF16 (xType, a dtype code of common.cuh)
extern "C" __global__ void gelu_tanh_bwd(long long n, const float* dy, const void* x, int xType, float* dx) {
    GRID_STRIDE(i, n) {
        const float v = load_as_f32(x, xType, i);
        const float t = tanhf(SQRT_2_OVER_PI * (v + GELU_C * v * v * v));
        const float d = 0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * SQRT_2_OVER_PI * (1.f + 3.f * GELU_C * v * v);
        dx[i] += dy[i] * d;
    }
}
