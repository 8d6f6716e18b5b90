// LayerNorm without affine and RMSNorm with a learnable scale, over the last dimension, one warp per row.
// LayerNorm's forward saves mean[rows] and rstd[rows]; RMSNorm's saves rrms[rows]. Both backwards recompute the
// normalized x from x and those saved statistics. The forwards take null statistics when no backward follows.
#include "common.cuh"

// y = (x - mean) * rstd, rstd = 1/sqrt(var + eps), biased variance (two passes: no cancellation).
extern "C" __global__ void layernorm_fwd(long long rows, int cols, const float* x, float* y, float* mean, float* rstd,
                                         float eps) {
    WARP_ROW(row, rows);
    const float* xr = x + row * cols;
    float* yr = y + row * cols;
    float s = 0.f;
    for (int c = lane; c < cols; c += 32) s += xr[c];
    const float mu = warp_sum(s) / cols;
    float v = 0.f;
    for (int c = lane; c < cols; c += 32) {
        const float d = xr[c] - mu;
        v += d * d;
    }
    const float r = rsqrtf(warp_sum(v) / cols + eps);
    for (int c = lane; c < cols; c += 32) yr[c] = (xr[c] - mu) * r;
    if (lane == 0 && mean != nullptr) mean[row] = mu;
    if (lane == 0 && rstd != nullptr) rstd[row] = r;
}

// dx += (dy - mean(dy) - xhat * mean(dy * xhat)) * rstd
extern "C" __global__ void layernorm_bwd(long long rows, int cols, const float* dy, const float* x, const float* mean,
                                         const float* rstd, float* dx) {
    WARP_ROW(row, rows);
    const float* dyr = dy + row * cols;
    const float* xr = x + row * cols;
    float* dxr = dx + row * cols;
    const float mu = mean[row], r = rstd[row];
    float sdy = 0.f, sdyx = 0.f;
    for (int c = lane; c < cols; c += 32) {
        const float g = dyr[c];
        sdy += g;
        sdyx += g * (xr[c] - mu) * r;
    }
    const float mdy = warp_sum(sdy) / cols, mdyx = warp_sum(sdyx) / cols;
    for (int c = lane; c < cols; c += 32) dxr[c] += (dyr[c] - mdy - (xr[c] - mu) * r * mdyx) * r;
}

// y = x * r * w, r = 1/sqrt(mean(x^2) + eps); w has cols elements of any float dtype.
extern "C" __global__ void rmsnorm_fwd(long long rows, int cols, const float* x, const void* w, int wType, float* y,
                                       float* rrms, float eps) {
    WARP_ROW(row, rows);
    const float* xr = x + row * cols;
    float* yr = y + row * cols;
    float s = 0.f;
    for (int c = lane; c < cols; c += 32) s += xr[c] * xr[c];
    const float r = rsqrtf(warp_sum(s) / cols + eps);
    for (int c = lane; c < cols; c += 32) yr[c] = xr[c] * r * load_as_f32(w, wType, c);
    if (lane == 0 && rrms != nullptr) rrms[row] = r;
}

// with u = dy * w: dx += r * (u - x * r^2 * mean(u * x))
extern "C" __global__ void rmsnorm_bwd_dx(long long rows, int cols, const float* dy, const float* x, const void* w,
                                          int wType, const float* rrms, float* dx) {
    WARP_ROW(row, rows);
    const float* dyr = dy + row * cols;
    const float* xr = x + row * cols;
    float* dxr = dx + row * cols;
    const float r = rrms[row];
    float s = 0.f;
    for (int c = lane; c < cols; c += 32) s += dyr[c] * load_as_f32(w, wType, c) * xr[c];
    const float m = warp_sum(s) / cols;
    for (int c = lane; c < cols; c += 32) dxr[c] += r * (dyr[c] * load_as_f32(w, wType, c) - xr[c] * r * r * m);
}

// dw[c] += sum_rows dy * x * r: blockIdx.x picks 256 columns, blockIdx.y a chunk of rows; chunks meet in atomics.
extern "C" __global__ void rmsnorm_bwd_dw(long long rows, int cols, int rowsPerChunk, const float* dy, const float* x,
                                          const float* rrms, float* dw) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    const long long r0 = (long long)blockIdx.y * rowsPerChunk;
    const long long r1 = min(rows, r0 + rowsPerChunk);
    float s = 0.f;
    for (long long r = r0; r < r1; r++) s += dy[r * cols + c] * x[r * cols + c] * rrms[r];
    atomicAdd(dw + c, s);
}
