// Attention softmax(scale * Q K^T) V for q, o [B*H, Lq, D] and k, v [B*H, Lk, D], one head per blockIdx.y (or per
// group of query rows).
//
// Saved by the forward for the backward: o itself and lse [B*H, Lq], each query row's natural log-sum-exp of the
// scaled scores. The backward recomputes P = exp(scale * Q K^T - lse) block by block, so no L x L matrix ever lives
// in memory; lse also gives the probability of any chosen key column, p(q, k) = exp(scale * q.k - lse(q)).
// The forward may be called with lse null when no backward follows.
//
// Two implementations side by side:
//  - flash_attn_fwd / flash_attn_bwd: D = 128, FlashAttention-2 tiling, bf16 tensor cores through
//    mma.sync.m16n8k16 (sm_80+), f32 accumulation, f32 in and out (tiles are rounded to bf16 while staged into shared
//    memory, as PyTorch's bf16 attention rounds its inputs).
//  - attn_ref_fwd / attn_ref_bwd: plain f32, one warp per query row, any D <= 256; slow, for debugging and for
//    heads that are not 128 wide.
//
// Fragment layouts of mma.m16n8k16 (PTX ISA, "Matrix fragments for mma.m16n8k16"), with g = lane / 4, t = lane % 4:
//   A 16x16 (row): a0 = A[g][2t..2t+1], a1 = A[g+8][2t..2t+1], a2 = A[g][2t+8..2t+9], a3 = A[g+8][2t+8..2t+9]
//   B 16x8 (col):  b0 = B[2t..2t+1][g], b1 = B[2t+8..2t+9][g]
//   C 16x8 (f32):  c0 = C[g][2t], c1 = C[g][2t+1], c2 = C[g+8][2t], c3 = C[g+8][2t+1]
// Two register pairs hold the lower column index in the lower 16 bits. A C tile pair (columns 16j..16j+15) is
// exactly an A fragment, which is how P and dS feed the next product without a trip through memory.
#include "common.cuh"

#define HD 128          // head dimension of the tensor-core kernels
#define KSTRIDE 136     // shared row stride in bf16 elements: 68 words, so 8 rows x 4 words hit 32 distinct banks
#define LOG2E 1.4426950408889634f
#define LN2 0.6931471805599453f

__device__ __forceinline__ unsigned pack_bf16(float lo, float hi) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const unsigned*>(&v);
}

__device__ __forceinline__ unsigned short bf16_bits(float x) {
    return __bfloat16_as_ushort(__float2bfloat16_rn(x));
}

__device__ __forceinline__ unsigned ld32(const unsigned short* p) {
    return *reinterpret_cast<const unsigned*>(p);
}

// Two bf16 from rows r and r+1 of the same column: a B fragment register of a row-major tile read "transposed".
__device__ __forceinline__ unsigned ld_col_pair(const unsigned short* p, int stride) {
    return (unsigned)p[0] | ((unsigned)p[stride] << 16);
}

__device__ __forceinline__ void mma_bf16(float c[4], const unsigned a[4], unsigned b0, unsigned b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// rows x 128 f32 rows [row0, row0 + rows) of a [L, 128] matrix into shared bf16 (row stride KSTRIDE), zero past L.
// Global reads are float4 (the Java side checks 16-byte alignment).
__device__ __forceinline__ void load_tile(unsigned short* s, const float* g, long long row0, int rows, int L) {
    for (int i = threadIdx.x; i < rows * (HD / 4); i += blockDim.x) {
        const int r = i / (HD / 4), c = (i % (HD / 4)) * 4;
        float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
        if (row0 + r < L) v = *reinterpret_cast<const float4*>(g + (row0 + r) * HD + c);
        unsigned* d = reinterpret_cast<unsigned*>(s + r * KSTRIDE + c);
        d[0] = pack_bf16(v.x, v.y);
        d[1] = pack_bf16(v.z, v.w);
    }
}

// ---- forward ---------------------------------------------------------------------------------------------------------
// Block: 64 query rows, 4 warps of 16 rows; loops over key blocks of 64 with an online softmax kept in the log2 domain.
#define FWD_BR 64
#define FWD_BC 64

extern "C" __global__ void __launch_bounds__(128) flash_attn_fwd(int Lq, int Lk, const float* q, const float* k,
                                                                 const float* v, float* o, float* lse, float scale) {
    __shared__ __align__(16) unsigned short Ks[FWD_BC * KSTRIDE];
    __shared__ __align__(16) unsigned short Vs[FWD_BC * KSTRIDE];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const long long qhead = (long long)blockIdx.y * Lq, khead = (long long)blockIdx.y * Lk;
    const float* qh = q + qhead * HD;
    const float* kh = k + khead * HD;
    const float* vh = v + khead * HD;
    const int r0 = blockIdx.x * FWD_BR + warp * 16 + g, r1 = r0 + 8;

    // This warp's 16 query rows as A fragments for the 8 k-steps of 16 dims, read once from global memory.
    unsigned qa[8][4];
#pragma unroll
    for (int ks = 0; ks < 8; ks++) {
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int row = (j & 1) ? r1 : r0;
            const int col = ks * 16 + 2 * t + ((j & 2) ? 8 : 0);
            float2 x = make_float2(0.f, 0.f);
            if (row < Lq) x = *reinterpret_cast<const float2*>(qh + (long long)row * HD + col);
            qa[ks][j] = pack_bf16(x.x, x.y);
        }
    }

    const float sl2 = scale * LOG2E;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;
    float acc[16][4];
#pragma unroll
    for (int d = 0; d < 16; d++) acc[d][0] = acc[d][1] = acc[d][2] = acc[d][3] = 0.f;

    for (int kb = 0; kb < Lk; kb += FWD_BC) {
        __syncthreads();
        load_tile(Ks, kh, kb, FWD_BC, Lk);
        load_tile(Vs, vh, kb, FWD_BC, Lk);
        __syncthreads();

        // S = Q K^T for 16 rows x 64 keys: B[k = dim][n = key] = K[key][dim], a row-major 32-bit read.
        float s[8][4];
#pragma unroll
        for (int n = 0; n < 8; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
#pragma unroll
        for (int ks = 0; ks < 8; ks++) {
#pragma unroll
            for (int n = 0; n < 8; n++) {
                const unsigned short* kr = Ks + (n * 8 + g) * KSTRIDE + ks * 16 + 2 * t;
                mma_bf16(s[n], qa[ks], ld32(kr), ld32(kr + 8));
            }
        }

        float mx0 = m0, mx1 = m1;
#pragma unroll
        for (int n = 0; n < 8; n++) {
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int key = kb + n * 8 + 2 * t + (j & 1);
                const float x = key < Lk ? s[n][j] * sl2 : -INFINITY;
                s[n][j] = x;
                if (j < 2) mx0 = fmaxf(mx0, x);
                else mx1 = fmaxf(mx1, x);
            }
        }
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
        // Every key block holds at least one key below Lk, so mx0 and mx1 are finite here.
        const float c0 = exp2f(m0 - mx0), c1 = exp2f(m1 - mx1);
        m0 = mx0;
        m1 = mx1;
        float rs0 = 0.f, rs1 = 0.f;
#pragma unroll
        for (int n = 0; n < 8; n++) {
            s[n][0] = exp2f(s[n][0] - m0);
            s[n][1] = exp2f(s[n][1] - m0);
            s[n][2] = exp2f(s[n][2] - m1);
            s[n][3] = exp2f(s[n][3] - m1);
            rs0 += s[n][0] + s[n][1];
            rs1 += s[n][2] + s[n][3];
        }
        // Each thread keeps a partial row sum over its own columns; the four threads of a row add up at the end.
        l0 = l0 * c0 + rs0;
        l1 = l1 * c1 + rs1;
#pragma unroll
        for (int d = 0; d < 16; d++) {
            acc[d][0] *= c0;
            acc[d][1] *= c0;
            acc[d][2] *= c1;
            acc[d][3] *= c1;
        }

        // O += P V: P's C tiles (2kk, 2kk+1) form the A fragment; B[k = key][n = dim] = V[key][dim], read as column pairs.
#pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            const unsigned pa[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]), pack_bf16(s[2 * kk][2], s[2 * kk][3]),
                                    pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                    pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
            for (int d = 0; d < 16; d++) {
                const unsigned short* vr = Vs + (kk * 16 + 2 * t) * KSTRIDE + d * 8 + g;
                mma_bf16(acc[d], pa, ld_col_pair(vr, KSTRIDE), ld_col_pair(vr + 8 * KSTRIDE, KSTRIDE));
            }
        }
    }

    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    const float inv0 = 1.f / l0, inv1 = 1.f / l1;
    float* oh = o + qhead * HD;
#pragma unroll
    for (int d = 0; d < 16; d++) {
        const int col = d * 8 + 2 * t;
        if (r0 < Lq) *reinterpret_cast<float2*>(oh + (long long)r0 * HD + col) = make_float2(acc[d][0] * inv0, acc[d][1] * inv0);
        if (r1 < Lq) *reinterpret_cast<float2*>(oh + (long long)r1 * HD + col) = make_float2(acc[d][2] * inv1, acc[d][3] * inv1);
    }
    if (t == 0 && lse != nullptr) {
        if (r0 < Lq) lse[qhead + r0] = (m0 + log2f(l0)) * LN2;
        if (r1 < Lq) lse[qhead + r1] = (m1 + log2f(l1)) * LN2;
    }
}

// ---- backward --------------------------------------------------------------------------------------------------------
// delta[row] = rowsum(dO * O): the softmax backward's row term, one warp per row (any D).
extern "C" __global__ void attn_bwd_delta(long long rows, int D, const float* dout, const float* o, float* delta) {
    WARP_ROW(row, rows);
    float s = 0.f;
    for (int c = lane; c < D; c += 32) s += dout[row * D + c] * o[row * D + c];
    s = warp_sum(s);
    if (lane == 0) delta[row] = s;
}

// Block: 64 keys (4 warps of 16), looping over query blocks of 32. Each warp keeps its keys' dK and dV in registers
// and works in the transposed orientation (rows = keys): S^T = K Q^T, P^T = exp2(S^T * scale*log2e - lse*log2e),
// dV += P^T dO, dP^T = V dO^T, dS^T = P^T (dP^T - delta), dK += dS^T Q. dS goes through shared memory (transposed
// back to [query][key]) for dQ += dS K, which every block adds into global dq with atomics.
// Dynamic shared memory: Ks, Vs [64][KSTRIDE], Qs, dOs [32][KSTRIDE], dSs [32][BWD_DSTRIDE] bf16, lse and delta
// [32] f32 = FLASH_BWD_SMEM bytes (above the 48 KB static limit: the host raises the function's limit).
#define BWD_BC 64
#define BWD_BQ 32
#define BWD_DSTRIDE 72
#define FLASH_BWD_SMEM ((2 * BWD_BC * KSTRIDE + 2 * BWD_BQ * KSTRIDE + BWD_BQ * BWD_DSTRIDE) * 2 + 2 * BWD_BQ * 4)

// Published in the PTX so that a test can check the byte count the Java launcher asks for.
extern "C" __constant__ int flash_attn_bwd_smem_bytes = FLASH_BWD_SMEM;

extern "C" __global__ void __launch_bounds__(128) flash_attn_bwd(int Lq, int Lk, const float* q, const float* k,
                                                                 const float* v, const float* dout, const float* lse,
                                                                 const float* delta, float* dq, float* dk, float* dv,
                                                                 float scale) {
    extern __shared__ __align__(16) unsigned char smem[];
    unsigned short* Ks = reinterpret_cast<unsigned short*>(smem);
    unsigned short* Vs = Ks + BWD_BC * KSTRIDE;
    unsigned short* Qs = Vs + BWD_BC * KSTRIDE;
    unsigned short* dOs = Qs + BWD_BQ * KSTRIDE;
    unsigned short* dSs = dOs + BWD_BQ * KSTRIDE;
    float* lseS = reinterpret_cast<float*>(dSs + BWD_BQ * BWD_DSTRIDE);
    float* delS = lseS + BWD_BQ;

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const long long qhead = (long long)blockIdx.y * Lq, khead = (long long)blockIdx.y * Lk;
    const float* qh = q + qhead * HD;
    const float* doh = dout + qhead * HD;
    float* dqh = dq + qhead * HD;
    const int kb0 = blockIdx.x * BWD_BC;
    const int wk = warp * 16;                  // this warp's first key inside the block
    const int key0 = kb0 + wk + g, key1 = key0 + 8;
    const float sl2 = scale * LOG2E;

    load_tile(Ks, k + khead * HD, kb0, BWD_BC, Lk);
    load_tile(Vs, v + khead * HD, kb0, BWD_BC, Lk);

    float dka[16][4], dva[16][4];
#pragma unroll
    for (int d = 0; d < 16; d++) {
        dka[d][0] = dka[d][1] = dka[d][2] = dka[d][3] = 0.f;
        dva[d][0] = dva[d][1] = dva[d][2] = dva[d][3] = 0.f;
    }

    for (int qb = 0; qb < Lq; qb += BWD_BQ) {
        __syncthreads();
        load_tile(Qs, qh, qb, BWD_BQ, Lq);
        load_tile(dOs, doh, qb, BWD_BQ, Lq);
        if (threadIdx.x < BWD_BQ) {
            const int row = qb + threadIdx.x;
            lseS[threadIdx.x] = row < Lq ? lse[qhead + row] * LOG2E : INFINITY;
            delS[threadIdx.x] = row < Lq ? delta[qhead + row] : 0.f;
        }
        __syncthreads();

        // S^T (16 keys x 32 queries) = K_w Q^T; A = K rows (row-major), B[k = dim][n = query] = Q[query][dim].
        float s[4][4], dp[4][4];
#pragma unroll
        for (int n = 0; n < 4; n++) {
            s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
            dp[n][0] = dp[n][1] = dp[n][2] = dp[n][3] = 0.f;
        }
#pragma unroll
        for (int ks = 0; ks < 8; ks++) {
            const unsigned short* kr = Ks + (wk + g) * KSTRIDE + ks * 16 + 2 * t;
            const unsigned ka[4] = {ld32(kr), ld32(kr + 8 * KSTRIDE), ld32(kr + 8), ld32(kr + 8 * KSTRIDE + 8)};
            const unsigned short* vr = Vs + (wk + g) * KSTRIDE + ks * 16 + 2 * t;
            const unsigned va[4] = {ld32(vr), ld32(vr + 8 * KSTRIDE), ld32(vr + 8), ld32(vr + 8 * KSTRIDE + 8)};
#pragma unroll
            for (int n = 0; n < 4; n++) {
                const unsigned short* qr = Qs + (n * 8 + g) * KSTRIDE + ks * 16 + 2 * t;
                mma_bf16(s[n], ka, ld32(qr), ld32(qr + 8));
                // dP^T (16 keys x 32 queries) = V_w dO^T, same shape of product with dO in place of Q.
                const unsigned short* dr = dOs + (n * 8 + g) * KSTRIDE + ks * 16 + 2 * t;
                mma_bf16(dp[n], va, ld32(dr), ld32(dr + 8));
            }
        }

        // P^T and dS^T = P^T (dP^T - delta). Keys past Lk get P = 0; queries past Lq have lse = inf, so P = 0 too.
#pragma unroll
        for (int n = 0; n < 4; n++) {
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int qc = n * 8 + 2 * t + (j & 1);
                const bool valid = ((j < 2) ? key0 : key1) < Lk;
                const float p = valid ? exp2f(s[n][j] * sl2 - lseS[qc]) : 0.f;
                s[n][j] = p;
                dp[n][j] = p * (dp[n][j] - delS[qc]);
            }
        }

        // dV += P^T dO and dK += dS^T Q: A from the C tiles, B[k = query][n = dim] read as column pairs.
#pragma unroll
        for (int kk = 0; kk < 2; kk++) {
            const unsigned pa[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]), pack_bf16(s[2 * kk][2], s[2 * kk][3]),
                                    pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                    pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
            const unsigned da[4] = {pack_bf16(dp[2 * kk][0], dp[2 * kk][1]), pack_bf16(dp[2 * kk][2], dp[2 * kk][3]),
                                    pack_bf16(dp[2 * kk + 1][0], dp[2 * kk + 1][1]),
                                    pack_bf16(dp[2 * kk + 1][2], dp[2 * kk + 1][3])};
#pragma unroll
            for (int d = 0; d < 16; d++) {
                const unsigned short* dr = dOs + (kk * 16 + 2 * t) * KSTRIDE + d * 8 + g;
                mma_bf16(dva[d], pa, ld_col_pair(dr, KSTRIDE), ld_col_pair(dr + 8 * KSTRIDE, KSTRIDE));
                const unsigned short* qr = Qs + (kk * 16 + 2 * t) * KSTRIDE + d * 8 + g;
                mma_bf16(dka[d], da, ld_col_pair(qr, KSTRIDE), ld_col_pair(qr + 8 * KSTRIDE, KSTRIDE));
            }
        }

        // dS back to [query][key] in shared memory for the dQ product.
#pragma unroll
        for (int n = 0; n < 4; n++) {
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int qc = n * 8 + 2 * t + (j & 1);
                const int kr = wk + g + ((j & 2) ? 8 : 0);
                dSs[qc * BWD_DSTRIDE + kr] = bf16_bits(dp[n][j]);
            }
        }
        __syncthreads();

        // dQ (32 queries x 128) += dS (32 x 64 keys) K (64 x 128): warp w takes queries 16*(w&1).. and dims 64*(w>>1)..
        {
            const int qr0 = 16 * (warp & 1), d0 = 64 * (warp >> 1);
            float dqa[8][4];
#pragma unroll
            for (int n = 0; n < 8; n++) dqa[n][0] = dqa[n][1] = dqa[n][2] = dqa[n][3] = 0.f;
#pragma unroll
            for (int kk = 0; kk < 4; kk++) {
                const unsigned short* sr = dSs + (qr0 + g) * BWD_DSTRIDE + kk * 16 + 2 * t;
                const unsigned sa[4] = {ld32(sr), ld32(sr + 8 * BWD_DSTRIDE), ld32(sr + 8), ld32(sr + 8 * BWD_DSTRIDE + 8)};
#pragma unroll
                for (int n = 0; n < 8; n++) {
                    const unsigned short* kc = Ks + (kk * 16 + 2 * t) * KSTRIDE + d0 + n * 8 + g;
                    mma_bf16(dqa[n], sa, ld_col_pair(kc, KSTRIDE), ld_col_pair(kc + 8 * KSTRIDE, KSTRIDE));
                }
            }
            const int row0 = qb + qr0 + g, row1 = row0 + 8;
#pragma unroll
            for (int n = 0; n < 8; n++) {
                const int col = d0 + n * 8 + 2 * t;
                if (row0 < Lq) {
                    atomicAdd(dqh + (long long)row0 * HD + col, dqa[n][0] * scale);
                    atomicAdd(dqh + (long long)row0 * HD + col + 1, dqa[n][1] * scale);
                }
                if (row1 < Lq) {
                    atomicAdd(dqh + (long long)row1 * HD + col, dqa[n][2] * scale);
                    atomicAdd(dqh + (long long)row1 * HD + col + 1, dqa[n][3] * scale);
                }
            }
        }
    }

    // Each key row belongs to exactly one block: plain read-modify-write adds into dk and dv.
    float* dkh = dk + khead * HD;
    float* dvh = dv + khead * HD;
#pragma unroll
    for (int d = 0; d < 16; d++) {
        const int col = d * 8 + 2 * t;
        if (key0 < Lk) {
            float2* pk = reinterpret_cast<float2*>(dkh + (long long)key0 * HD + col);
            float2* pv = reinterpret_cast<float2*>(dvh + (long long)key0 * HD + col);
            const float2 a = *pk, b = *pv;
            *pk = make_float2(a.x + dka[d][0] * scale, a.y + dka[d][1] * scale);
            *pv = make_float2(b.x + dva[d][0], b.y + dva[d][1]);
        }
        if (key1 < Lk) {
            float2* pk = reinterpret_cast<float2*>(dkh + (long long)key1 * HD + col);
            float2* pv = reinterpret_cast<float2*>(dvh + (long long)key1 * HD + col);
            const float2 a = *pk, b = *pv;
            *pk = make_float2(a.x + dka[d][2] * scale, a.y + dka[d][3] * scale);
            *pv = make_float2(b.x + dva[d][2], b.y + dva[d][3]);
        }
    }
}

// ---- probabilities of chosen key columns -----------------------------------------------------------------------------
// out[row, j] = exp(scale * q[row] . k[col_j] - lse[row]) for j < ncols, col_j = cols[j] (or j when cols is null),
// one warp per query row. With roundBf16 the products use bf16-rounded q and k, the same values the tensor-core
// forward multiplied, so the result is consistent with its lse.
extern "C" __global__ void attn_probs(long long rows, int Lq, int Lk, int D, int ncols, const float* q, const float* k,
                                      const float* lse, const int* cols, float* out, float scale, int roundBf16) {
    WARP_ROW(row, rows);
    const long long head = row / Lq;
    const float* qr = q + row * D;
    const float l = lse[row];
    for (int j = 0; j < ncols; j++) {
        const int key = cols == nullptr ? j : cols[j];
        const float* kr = k + (head * Lk + key) * D;
        float s = 0.f;
        for (int c = lane; c < D; c += 32) {
            float a = qr[c], b = kr[c];
            if (roundBf16) {
                a = __bfloat162float(__float2bfloat16_rn(a));
                b = __bfloat162float(__float2bfloat16_rn(b));
            }
            s += a * b;
        }
        s = warp_sum(s);
        if (lane == 0) out[row * ncols + j] = expf(s * scale - l);
    }
}

// ---- f32 reference ---------------------------------------------------------------------------------------------------
// One warp per query row; lane owns dims lane, lane + 32, ... (at most 8 of them, so D <= 256).
#define REF_MAXD 8

extern "C" __global__ void attn_ref_fwd(long long rows, int Lq, int Lk, int D, const float* q, const float* k,
                                        const float* v, float* o, float* lse, float scale) {
    WARP_ROW(row, rows);
    const long long head = row / Lq;
    float qv[REF_MAXD], acc[REF_MAXD];
#pragma unroll
    for (int i = 0; i < REF_MAXD; i++) {
        const int c = lane + 32 * i;
        qv[i] = c < D ? q[row * D + c] : 0.f;
        acc[i] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
    for (int j = 0; j < Lk; j++) {
        const float* kr = k + (head * Lk + j) * D;
        const float* vr = v + (head * Lk + j) * D;
        float s = 0.f;
#pragma unroll
        for (int i = 0; i < REF_MAXD; i++) {
            const int c = lane + 32 * i;
            if (c < D) s += qv[i] * kr[c];
        }
        s = warp_sum(s) * scale;
        const float mn = fmaxf(m, s);
        const float corr = expf(m - mn), p = expf(s - mn);
        l = l * corr + p;
#pragma unroll
        for (int i = 0; i < REF_MAXD; i++) {
            const int c = lane + 32 * i;
            if (c < D) acc[i] = acc[i] * corr + p * vr[c];
        }
        m = mn;
    }
#pragma unroll
    for (int i = 0; i < REF_MAXD; i++) {
        const int c = lane + 32 * i;
        if (c < D) o[row * D + c] = acc[i] / l;
    }
    if (lane == 0 && lse != nullptr) lse[row] = m + logf(l);
}

// dq += sum_j dS_j k_j scale; dk_j += dS_j q scale; dv_j += P_j dO (dk, dv through atomics: every query row adds to
// every key row).
extern "C" __global__ void attn_ref_bwd(long long rows, int Lq, int Lk, int D, const float* q, const float* k,
                                        const float* v, const float* o, const float* dout, const float* lse, float* dq,
                                        float* dk, float* dv, float scale) {
    WARP_ROW(row, rows);
    const long long head = row / Lq;
    float qv[REF_MAXD], dov[REF_MAXD], dqa[REF_MAXD];
    float dl = 0.f;
#pragma unroll
    for (int i = 0; i < REF_MAXD; i++) {
        const int c = lane + 32 * i;
        qv[i] = c < D ? q[row * D + c] : 0.f;
        dov[i] = c < D ? dout[row * D + c] : 0.f;
        dqa[i] = 0.f;
        if (c < D) dl += dov[i] * o[row * D + c];
    }
    dl = warp_sum(dl);
    const float lr = lse[row];
    for (int j = 0; j < Lk; j++) {
        const long long kj = (head * Lk + j) * D;
        float s = 0.f, dpj = 0.f;
#pragma unroll
        for (int i = 0; i < REF_MAXD; i++) {
            const int c = lane + 32 * i;
            if (c < D) {
                s += qv[i] * k[kj + c];
                dpj += dov[i] * v[kj + c];
            }
        }
        s = warp_sum(s);
        dpj = warp_sum(dpj);
        const float p = expf(s * scale - lr);
        const float ds = p * (dpj - dl);
#pragma unroll
        for (int i = 0; i < REF_MAXD; i++) {
            const int c = lane + 32 * i;
            if (c < D) {
                dqa[i] += ds * k[kj + c] * scale;
                atomicAdd(dk + kj + c, ds * qv[i] * scale);
                atomicAdd(dv + kj + c, p * dov[i]);
            }
        }
    }
#pragma unroll
    for (int i = 0; i < REF_MAXD; i++) {
        const int c = lane + 32 * i;
        if (c < D) dq[row * D + c] += dqa[i];
    }
}
