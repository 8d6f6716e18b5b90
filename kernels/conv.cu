// The VAE's conv over channels-last maps as im2col + cuBLASLt (CudaBackend.conv2d): this builds the column matrix of a
// tile of output pixels, the GEMM multiplies it by the weight in place ([Cout, kh·kw·Cin] is already its row order).
// Inference only: nothing is saved for a backward, since the VAE is never trained here.
#include "common.cuh"

// col[r, t] for output pixels first..first+n/taps: tap t = (ky·kw + kx)·cin + ci of pixel (b, oy, ox) reads the virtual
// pixel (oy·stride + ky − pad, ox·stride + kx − pad) of the map upsampled ×up (nearest: input pixel (vy/up, vx/up)),
// zero outside it. Written in colType: bf16 when the weight is, so the GEMM runs on tensor cores as Backend.gemm does.
extern "C" __global__ void im2col(long long n, long long first, int taps, const float* x, int h, int w, int cin, int oh,
                                  int ow, int kw, int stride, int pad, int up, void* col, int colType) {
    const long long perImage = (long long)oh * ow;
    GRID_STRIDE(i, n) {
        const long long r = i / taps;
        const int t = (int)(i - r * taps);
        const long long p = first + r;
        const long long b = p / perImage;
        const int rem = (int)(p - b * perImage);
        const int oy = rem / ow, ox = rem - oy * ow;
        const int ci = t % cin, k = t / cin;
        const int vy = oy * stride + k / kw - pad, vx = ox * stride + k % kw - pad;
        float v = 0.f;
        if (vy >= 0 && vy < up * h && vx >= 0 && vx < up * w) v = x[((b * h + vy / up) * w + vx / up) * cin + ci];
        store_from_f32(col, colType, i, v);
    }
}
