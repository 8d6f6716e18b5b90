// adaLN modulation and the gated residual, for x [B, T, C] and mod [B, k*C] (chunks of C columns).
// The forwards save nothing: modulate's backward needs x and mod, gateAdd's needs f and mod, which the caller keeps.
// Backward kernels put one thread on a column c of one batch row b and walk a chunk of tokens, so dx/df are written in
// the same pass that sums the per-column reductions; token chunks meet in atomic adds to dmod.
#include "common.cuh"

// y = (1 + mod[b, scale]) * x + mod[b, shift]
extern "C" __global__ void modulate_fwd(long long B, long long T, int C, const float* x, const float* mod, int modCols,
                                        int shiftChunk, int scaleChunk, float* y) {
    GRID_STRIDE(i, B * T * C) {
        const int c = (int)(i % C);
        const long long b = i / (T * C);
        const float* m = mod + b * modCols;
        y[i] = (1.f + m[scaleChunk * C + c]) * x[i] + m[shiftChunk * C + c];
    }
}

// dx += dy * (1 + scale); dmod[scale] += sum_t dy * x; dmod[shift] += sum_t dy. dx or dmod may be null.
extern "C" __global__ void modulate_bwd(long long T, int C, int tPerChunk, const float* dy, const float* x,
                                        const float* mod, int modCols, int shiftChunk, int scaleChunk, float* dx,
                                        float* dmod) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const long long b = blockIdx.z;
    const long long t0 = (long long)blockIdx.y * tPerChunk, t1 = min(T, t0 + tPerChunk);
    const float sc = 1.f + mod[b * modCols + scaleChunk * C + c];
    float sumDy = 0.f, sumDyX = 0.f;
    for (long long t = t0; t < t1; t++) {
        const long long i = (b * T + t) * C + c;
        const float g = dy[i];
        if (dx != nullptr) dx[i] += g * sc;
        sumDy += g;
        sumDyX += g * x[i];
    }
    if (dmod != nullptr) {
        atomicAdd(dmod + b * modCols + scaleChunk * C + c, sumDyX);
        atomicAdd(dmod + b * modCols + shiftChunk * C + c, sumDy);
    }
}

// x += mod[b, gate] * f, in place
extern "C" __global__ void gate_add_fwd(long long B, long long T, int C, float* x, const float* f, const float* mod,
                                        int modCols, int gateChunk) {
    GRID_STRIDE(i, B * T * C) {
        const int c = (int)(i % C);
        const long long b = i / (T * C);
        x[i] += mod[b * modCols + gateChunk * C + c] * f[i];
    }
}

// df += dy * gate; dmod[gate] += sum_t dy * f. df or dmod may be null.
extern "C" __global__ void gate_add_bwd(long long T, int C, int tPerChunk, const float* dy, const float* f,
                                        const float* mod, int modCols, int gateChunk, float* df, float* dmod) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const long long b = blockIdx.z;
    const long long t0 = (long long)blockIdx.y * tPerChunk, t1 = min(T, t0 + tPerChunk);
    const float gate = mod[b * modCols + gateChunk * C + c];
    float s = 0.f;
    for (long long t = t0; t < t1; t++) {
        const long long i = (b * T + t) * C + c;
        const float g = dy[i];
        if (df != nullptr) df[i] += g * gate;
        s += g * f[i];
    }
    if (dmod != nullptr) atomicAdd(dmod + b * modCols + gateChunk * C + c, s);
}
