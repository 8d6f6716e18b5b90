// Elementwise ops, dtype casts, bias and the double-precision reductions of Backend.sum / Backend.dot.
// Nothing here is saved for a backward: axpy, scale and mul are linear, addBias' adjoint is sum_rows, and the
// cast's adjoint is the reverse cast (Backend.copy between dtypes).
#include "common.cuh"

extern "C" __global__ void fill(long long n, void* dst, int dtype, float value) {
    GRID_STRIDE(i, n) store_from_f32(dst, dtype, i, value);
}

extern "C" __global__ void cast(long long n, const void* src, int srcType, void* dst, int dstType) {
    GRID_STRIDE(i, n) store_from_f32(dst, dstType, i, load_as_f32(src, srcType, i));
}

// y += alpha * x
extern "C" __global__ void axpy_f32(long long n, float alpha, const float* x, float* y) {
    GRID_STRIDE(i, n) y[i] = fmaf(alpha, x[i], y[i]);
}

extern "C" __global__ void mul_f32(long long n, const float* a, const float* b, float* out) {
    GRID_STRIDE(i, n) out[i] = a[i] * b[i];
}

extern "C" __global__ void scale_f32(long long n, float* x, float alpha) {
    GRID_STRIDE(i, n) x[i] *= alpha;
}

// ---- bias: forward y[r, c] += bias[c]; backward db[c] += sum_r dy[r, c] ------------------------------------------------

extern "C" __global__ void add_bias(long long rows, int cols, float* y, const void* bias, int biasType) {
    GRID_STRIDE(i, rows * cols) y[i] += load_as_f32(bias, biasType, i % cols);
}

// Column sums: blockIdx.x picks 256 columns, blockIdx.y a chunk of rowsPerChunk rows; chunks meet in an atomic add.
extern "C" __global__ void sum_rows(long long rows, int cols, int rowsPerChunk, const float* dy, float* db) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    const long long r0 = (long long)blockIdx.y * rowsPerChunk;
    const long long r1 = min(rows, r0 + rowsPerChunk);
    float s = 0.f;
    for (long long r = r0; r < r1; r++) s += dy[r * cols + c];
    atomicAdd(db + c, s);
}

// ---- reductions in double: partial[blockIdx.x] = sum over this block's grid-stride share of a (times b when given) ----
// The host adds the partials in order, so the result does not depend on scheduling.
extern "C" __global__ void reduce_sum_f64(long long n, const float* a, const float* b, double* partial) {
    __shared__ double warpSums[32];
    double s = 0.0;
    GRID_STRIDE(i, n) s += b == nullptr ? (double)a[i] : (double)a[i] * (double)b[i];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (lane == 0) warpSums[warp] = s;
    __syncthreads();
    if (warp == 0) {
        s = lane < (blockDim.x >> 5) ? warpSums[lane] : 0.0;
        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        if (lane == 0) partial[blockIdx.x] = s;
    }
}
