// Row-wise softmax over the last dimension, one warp per row. The forward's output y is what the backward needs
// (dx += y * (dy - rowsum(dy * y))), so nothing else is saved.
#include "common.cuh"

// y may be x: every element is read before the same lane writes it.
extern "C" __global__ void softmax_fwd(long long rows, int cols, const float* x, float* y) {
    WARP_ROW(row, rows);
    const float* xr = x + row * cols;
    float* yr = y + row * cols;
    float m = -INFINITY;
    for (int c = lane; c < cols; c += 32) m = fmaxf(m, xr[c]);
    m = warp_max(m);
    float s = 0.f;
    for (int c = lane; c < cols; c += 32) s += expf(xr[c] - m);
    const float inv = 1.f / warp_sum(s);
    for (int c = lane; c < cols; c += 32) yr[c] = expf(xr[c] - m) * inv;
}

extern "C" __global__ void softmax_bwd(long long rows, int cols, const float* dy, const float* y, float* dx) {
    WARP_ROW(row, rows);
    const float* dyr = dy + row * cols;
    const float* yr = y + row * cols;
    float* dxr = dx + row * cols;
    float s = 0.f;
    for (int c = lane; c < cols; c += 32) s += dyr[c] * yr[c];
    s = warp_sum(s);
    for (int c = lane; c < cols; c += 32) dxr[c] += yr[c] * (dyr[c] - s);
}
