// LayerNorm without affine and RMSNorm with a learnable scale, over the last dimension, one warp per row; and the VAE's
// GroupNorm, one block per (image, group).
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

// ---- GroupNorm (the VAE's, inference only) over x [B, P, C] in groups of cg consecutive channels -----------------------

// Σ v over the block in double, returned to every thread: each adds the warps' sums in the same order, so all agree.
__device__ __forceinline__ double block_sum_f64(double v, double* warpSums) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads();  // warpSums may still be being read from the previous call
    if ((threadIdx.x & 31) == 0) warpSums[threadIdx.x >> 5] = v;
    __syncthreads();
    v = 0.0;
    for (int w = 0; w < (blockDim.x >> 5); w++) v += warpSums[w];
    return v;
}

// Statistics of one (image, group) per block (blockIdx.x the group, blockIdx.y the image): mean and biased variance in
// double, two passes, so that a group of millions of values (1024² pixels × 4 channels) keeps f32's accuracy; the block
// reduction adds in a fixed order, so the result does not depend on scheduling. stats[2·(b·groups + g)] = {mean, rstd}.
extern "C" __global__ void __launch_bounds__(512) groupnorm_stats(long long pixels, int c, int cg, const float* x,
                                                                  float* stats, float eps) {
    __shared__ double partial[32];
    const int g = blockIdx.x, groups = gridDim.x;
    const float* xb = x + (long long)blockIdx.y * pixels * c + (long long)g * cg;
    const double count = (double)pixels * cg;
    double s = 0.0;
    for (long long p = threadIdx.x; p < pixels; p += blockDim.x)
        for (int j = 0; j < cg; j++) s += xb[p * c + j];
    const double mean = block_sum_f64(s, partial) / count;
    double v = 0.0;
    for (long long p = threadIdx.x; p < pixels; p += blockDim.x)
        for (int j = 0; j < cg; j++) {
            const double d = xb[p * c + j] - mean;
            v += d * d;
        }
    const double var = block_sum_f64(v, partial) / count;
    if (threadIdx.x == 0) {
        float* out = stats + 2 * ((long long)blockIdx.y * groups + g);
        out[0] = (float)mean;
        out[1] = (float)(1.0 / sqrt(var + (double)eps));
    }
}

// y = (x − mean)·(rstd·gamma) + beta, then y·sigmoid(y) when swish; y may be x. The difference is taken first: a
// near-constant group has a huge rstd, which x·scale − mean·scale would turn into cancellation.
extern "C" __global__ void groupnorm_apply(long long n, long long perImage, int c, int cg, const float* x, float* y,
                                           const float* stats, const void* gamma, int gammaType, const void* beta,
                                           int betaType, int swish) {
    const int groups = c / cg;
    GRID_STRIDE(i, n) {
        const int ch = (int)(i % c);
        const float* st = stats + 2 * ((i / perImage) * groups + ch / cg);
        float v = fmaf(x[i] - st[0], st[1] * load_as_f32(gamma, gammaType, ch), load_as_f32(beta, betaType, ch));
        if (swish) v = v / (1.f + expf(-v));
        y[i] = v;
    }
}
