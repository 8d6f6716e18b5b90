// Shared helpers of every kernel family: dtype codes (the same numbers as CudaKernels.dtypeCode in Java), conversions,
// and warp reductions. Every family is its own PTX module, so everything here is inline device code.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#define DT_F32 0
#define DT_BF16 1
#define DT_F16 2

__device__ __forceinline__ float load_as_f32(const void* p, int dtype, long long i) {
    if (dtype == DT_BF16) return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    if (dtype == DT_F16) return __half2float(static_cast<const __half*>(p)[i]);
    return static_cast<const float*>(p)[i];
}

__device__ __forceinline__ void store_from_f32(void* p, int dtype, long long i, float v) {
    if (dtype == DT_BF16) static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
    else if (dtype == DT_F16) static_cast<__half*>(p)[i] = __float2half_rn(v);
    else static_cast<float*>(p)[i] = v;
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Grid-stride index helpers: launches use 1-D grids of 256-thread blocks capped by the Java side.
#define GRID_STRIDE(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

// Row-wise kernels run one warp per row, 8 rows per 256-thread block.
#define WARP_ROW(row, rows) \
    const long long row = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); \
    const int lane = threadIdx.x & 31; \
    if (row >= (rows)) return
