// The 4-D strided copy of Backend.copyStrided, between F32 and BF16 tensors (dtype codes of common.cuh). Its adjoint is
// the same kernel with src and dst swapped and accumulate set, so nothing is saved. Accumulation (into F32 only, which
// the contract checks) uses atomic adds: a destination stride of 0 (a broadcast's adjoint) then sums correctly instead
// of racing.
#include "common.cuh"

extern "C" __global__ void copy_strided(long long total, const void* src, int srcType, long long srcOff, long long ss0,
                                        long long ss1, long long ss2, long long ss3, void* dst, int dstType,
                                        long long dstOff, long long ds0, long long ds1, long long ds2, long long ds3,
                                        long long n1, long long n2, long long n3, int accumulate) {
    GRID_STRIDE(i, total) {
        const long long i3 = i % n3;
        const long long r3 = i / n3;
        const long long i2 = r3 % n2;
        const long long r2 = r3 / n2;
        const long long i1 = r2 % n1;
        const long long i0 = r2 / n1;
        const float v = load_as_f32(src, srcType, srcOff + i0 * ss0 + i1 * ss1 + i2 * ss2 + i3 * ss3);
        const long long d = dstOff + i0 * ds0 + i1 * ds1 + i2 * ds2 + i3 * ds3;
        if (accumulate) atomicAdd(static_cast<float*>(dst) + d, v);
        else store_from_f32(dst, dstType, d, v);
    }
}
