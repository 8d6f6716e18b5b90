// Rotary embedding on adjacent pairs (2m, 2m+1) of x [B, H, L, D] with cos, sin [L, D/2]. Nothing is saved: the
// backward is the rotation by -theta, read from the same cos/sin tables.
#include "common.cuh"

// y[2m] = cos x[2m] - sin x[2m+1]; y[2m+1] = sin x[2m] + cos x[2m+1]; y may be x (each pair is read, then written).
extern "C" __global__ void rope_fwd(long long rows, int L, int D, const float* x, const float* cos_, const float* sin_,
                                    float* y) {
    const int half = D / 2;
    GRID_STRIDE(p, rows * half) {
        const long long row = p / half;
        const int m = (int)(p % half);
        const long long t = (row % L) * half + m;
        const float c = cos_[t], s = sin_[t];
        const long long i = row * D + 2 * m;
        const float a = x[i], b = x[i + 1];
        y[i] = c * a - s * b;
        y[i + 1] = s * a + c * b;
    }
}

// dx[2m] += cos dy[2m] + sin dy[2m+1]; dx[2m+1] += -sin dy[2m] + cos dy[2m+1]
extern "C" __global__ void rope_bwd(long long rows, int L, int D, const float* dy, const float* cos_, const float* sin_,
                                    float* dx) {
    const int half = D / 2;
    GRID_STRIDE(p, rows * half) {
        const long long row = p / half;
        const int m = (int)(p % half);
        const long long t = (row % L) * half + m;
        const float c = cos_[t], s = sin_[t];
        const long long i = row * D + 2 * m;
        const float a = dy[i], b = dy[i + 1];
        dx[i] += c * a + s * b;
        dx[i + 1] += -s * a + c * b;
    }
}
