/*
 * A stand-in for libcublasLt.so.13 that runs on the CPU, beside the driver stand-in (cuda.c): device pointers are host
 * memory, so cublasLtMatmul computes D = alpha·op(A)·op(B) + beta·C itself, column-major, with double sums: a
 * reference GEMM, so that tests of the row-major → column-major mapping (GemmPlan) compare real numbers.
 *
 * It models what dev.fluxerase.cuda.CublasLt asks for and refuses the rest with CUBLAS_STATUS_NOT_SUPPORTED rather
 * than compute something else: compute CUBLAS_COMPUTE_32F with f32 scale, A and B both f32 or both bf16, C and D both
 * f32 or both bf16, the transposes, the bias and GELU epilogues of a fused Linear (bias of D's type, the GELU input
 * written to the aux matrix in D's type, the tanh GELU computed in double on the f32 result), and the workspace and
 * alignment preferences. Every shape and leading dimension is checked as
 * cuBLASLt checks it, and cublasLtMatmul checks that its algorithm came from the heuristic for the same problem and
 * that the pointers have the alignment the preference promised.
 *
 * A GEMM of more than FLUX_ERASE_STANDIN_GEMM_MAX_MACS multiply-adds (default 2^28, about a second) is checked but not
 * computed, as kernels are not run: the FLUX-size GEMMs of the timing runs would take this loop hours.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int cublasStatus_t;
typedef int cublasComputeType_t;
typedef int cudaDataType_t;
typedef int cudaDataType;
typedef int cublasLtMatmulDescAttributes_t;
typedef int cublasLtMatmulPreferenceAttributes_t;
typedef struct cublasLtContext *cublasLtHandle_t;
typedef struct cublasLtMatmulDesc *cublasLtMatmulDesc_t;
typedef struct cublasLtMatrixLayout *cublasLtMatrixLayout_t;
typedef struct cublasLtMatmulPreference *cublasLtMatmulPreference_t;
typedef struct CUstream_st *cudaStream_t;
typedef struct { uint64_t data[8]; } cublasLtMatmulAlgo_t;
typedef struct {
    cublasLtMatmulAlgo_t algo;
    size_t workspaceSize;
    cublasStatus_t state;
    float wavesCount;
    int reserved[4];
} cublasLtMatmulHeuristicResult_t;

/* cublas_api.h, library_types.h and cublasLt.h's values */
enum {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_NOT_SUPPORTED = 15,
    CUDA_R_32F = 0,
    CUDA_R_16BF = 14,
    CUBLAS_COMPUTE_32F = 68,
    CUBLASLT_MATMUL_DESC_TRANSA = 3,
    CUBLASLT_MATMUL_DESC_TRANSB = 4,
    CUBLASLT_MATMUL_DESC_EPILOGUE = 7,
    CUBLASLT_MATMUL_DESC_BIAS_POINTER = 8,
    CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER = 11,
    CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD = 12,
    CUBLASLT_EPILOGUE_DEFAULT = 1,
    CUBLASLT_EPILOGUE_BIAS = 4,
    CUBLASLT_EPILOGUE_GELU_AUX = 160,
    CUBLASLT_EPILOGUE_GELU_AUX_BIAS = 164,
    CUBLAS_OP_N = 0,
    CUBLAS_OP_T = 1,
    CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8,
};

#define ALGO_MAGIC 0x5354414e44494eULL /* "STANDIN" */

struct cublasLtContext { int unused; };
/* epilogue 0 stands for the default; bias and aux are device (here host) pointers */
struct cublasLtMatmulDesc { int trans[2]; int epilogue; const void *bias; void *aux; int64_t aux_ld; };
struct cublasLtMatrixLayout { int type; uint64_t rows, cols; int64_t ld; };
/* alignment: the promised alignment of A, B, C, D in bytes */
struct cublasLtMatmulPreference { uint64_t workspace; uint32_t alignment[4]; };

size_t cublasLtGetVersion(void) {
    return 130000;
}

const char *cublasLtGetStatusName(cublasStatus_t status) {
    switch (status) {
        case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
        case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
        case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
        default: return "CUBLAS_STATUS_UNKNOWN";
    }
}

/* Allocates *out of size bytes, zeroed. */
static cublasStatus_t create(void **out, size_t size) {
    if (!out) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    *out = calloc(1, size);
    return *out ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
}

static cublasStatus_t destroy(void *p) {
    if (!p) {
        return CUBLAS_STATUS_NOT_INITIALIZED;
    }
    free(p);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtCreate(cublasLtHandle_t *handle) {
    return create((void **) handle, sizeof **handle);
}

cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle) {
    return destroy(handle);
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *desc, cublasComputeType_t computeType,
                                        cudaDataType_t scaleType) {
    if (computeType != CUBLAS_COMPUTE_32F || scaleType != CUDA_R_32F) {
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    return create((void **) desc, sizeof **desc);
}

cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
    return destroy(desc);
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr,
                                              const void *buf, size_t sizeInBytes) {
    if (!desc || !buf) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (attr == CUBLASLT_MATMUL_DESC_BIAS_POINTER || attr == CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER) {
        if (sizeInBytes != sizeof(void *)) {
            return CUBLAS_STATUS_INVALID_VALUE;
        }
        void *ptr;
        memcpy(&ptr, buf, sizeof ptr);
        if (attr == CUBLASLT_MATMUL_DESC_BIAS_POINTER) {
            desc->bias = ptr;
        } else {
            desc->aux = ptr;
        }
        return CUBLAS_STATUS_SUCCESS;
    }
    if (attr == CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD) {
        if (sizeInBytes != sizeof(int64_t)) {
            return CUBLAS_STATUS_INVALID_VALUE;
        }
        memcpy(&desc->aux_ld, buf, sizeof desc->aux_ld);
        return desc->aux_ld % 8 == 0 ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
    }
    if (sizeInBytes != sizeof(int32_t)) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (attr == CUBLASLT_MATMUL_DESC_EPILOGUE) {
        int32_t e;
        memcpy(&e, buf, sizeof e);
        if (e != CUBLASLT_EPILOGUE_DEFAULT && e != CUBLASLT_EPILOGUE_BIAS && e != CUBLASLT_EPILOGUE_GELU_AUX
            && e != CUBLASLT_EPILOGUE_GELU_AUX_BIAS) {
            return CUBLAS_STATUS_NOT_SUPPORTED;
        }
        desc->epilogue = e;
        return CUBLAS_STATUS_SUCCESS;
    }
    if (attr != CUBLASLT_MATMUL_DESC_TRANSA && attr != CUBLASLT_MATMUL_DESC_TRANSB) {
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    int32_t op;
    memcpy(&op, buf, sizeof op);
    if (op != CUBLAS_OP_N && op != CUBLAS_OP_T) {
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    desc->trans[attr - CUBLASLT_MATMUL_DESC_TRANSA] = op == CUBLAS_OP_T;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *layout, cudaDataType type, uint64_t rows,
                                          uint64_t cols, int64_t ld) {
    if (type != CUDA_R_32F && type != CUDA_R_16BF) {
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    if (rows == 0 || cols == 0 || ld < 0 || (uint64_t) ld < rows) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    cublasStatus_t s = create((void **) layout, sizeof **layout);
    if (s == CUBLAS_STATUS_SUCCESS) {
        **layout = (struct cublasLtMatrixLayout) {type, rows, cols, ld};
    }
    return s;
}

cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
    return destroy(layout);
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *pref) {
    cublasStatus_t s = create((void **) pref, sizeof **pref);
    if (s == CUBLAS_STATUS_SUCCESS) {
        for (int i = 0; i < 4; i++) {
            (*pref)->alignment[i] = 256;
        }
    }
    return s;
}

cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref) {
    return destroy(pref);
}

cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                                    cublasLtMatmulPreferenceAttributes_t attr, const void *buf,
                                                    size_t sizeInBytes) {
    if (!pref || !buf) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (attr == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES && sizeInBytes == sizeof(uint64_t)) {
        memcpy(&pref->workspace, buf, sizeof pref->workspace);
        return CUBLAS_STATUS_SUCCESS;
    }
    if (attr >= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES && attr <= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES
        && sizeInBytes == sizeof(uint32_t)) {
        memcpy(&pref->alignment[attr - CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES], buf, sizeof(uint32_t));
        return CUBLAS_STATUS_SUCCESS;
    }
    return attr == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES
           || (attr >= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES && attr <= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES)
           ? CUBLAS_STATUS_INVALID_VALUE : CUBLAS_STATUS_NOT_SUPPORTED;
}

/* The problem the descriptor and layouts describe: D [m, n] = op(A) [m, k] · op(B) [k, n] + C [m, n]. */
struct problem { uint64_t m, n, k; int type, trans_a, trans_b; };

static cublasStatus_t problem_of(cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                 cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d, struct problem *p) {
    if (!desc || !a || !b || !c || !d) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (a->type != b->type || c->type != d->type) {
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    int e = desc->epilogue;
    int bias = e == CUBLASLT_EPILOGUE_BIAS || e == CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
    int gelu = e == CUBLASLT_EPILOGUE_GELU_AUX || e == CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
    if ((bias && !desc->bias) || (gelu && (!desc->aux || (uint64_t) desc->aux_ld < d->rows))) {
        return CUBLAS_STATUS_INVALID_VALUE; /* an epilogue without its pointers or with too short an aux column */
    }
    p->trans_a = desc->trans[0];
    p->trans_b = desc->trans[1];
    p->type = a->type;
    p->m = p->trans_a ? a->cols : a->rows;
    p->k = p->trans_a ? a->rows : a->cols;
    p->n = p->trans_b ? b->rows : b->cols;
    uint64_t kb = p->trans_b ? b->cols : b->rows;
    if (kb != p->k || c->rows != p->m || c->cols != p->n || d->rows != p->m || d->cols != p->n) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    return CUBLAS_STATUS_SUCCESS;
}

/* One algorithm, which remembers its problem and promised alignments so that cublasLtMatmul can hold them to it. */
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                              cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
                                              cublasLtMatmulPreference_t pref, int requestedAlgoCount,
                                              cublasLtMatmulHeuristicResult_t *results, int *returnAlgoCount) {
    struct problem p;
    if (!handle || !pref || requestedAlgoCount < 1 || !results || !returnAlgoCount) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    cublasStatus_t s = problem_of(desc, a, b, c, d, &p);
    if (s != CUBLAS_STATUS_SUCCESS) {
        return s;
    }
    memset(results, 0, sizeof *results);
    uint64_t *algo = results->algo.data;
    algo[0] = ALGO_MAGIC;
    algo[1] = p.m;
    algo[2] = p.n;
    algo[3] = p.k;
    algo[4] = (uint64_t) p.type | (uint64_t) p.trans_a << 8 | (uint64_t) p.trans_b << 9;
    for (int i = 0; i < 4; i++) {
        algo[5] |= (uint64_t) (pref->alignment[i] & 0xffff) << (16 * i);
    }
    results->wavesCount = 1;
    *returnAlgoCount = 1;
    return CUBLAS_STATUS_SUCCESS;
}

static float element(const void *x, int type, uint64_t i) {
    if (type == CUDA_R_32F) {
        return ((const float *) x)[i];
    }
    uint32_t bits = (uint32_t) ((const uint16_t *) x)[i] << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void store(void *x, int type, uint64_t i, float v) {
    if (type == CUDA_R_32F) {
        ((float *) x)[i] = v;
        return;
    }
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    bits += 0x7fff + ((bits >> 16) & 1); /* round to nearest even (no NaNs here) */
    ((uint16_t *) x)[i] = (uint16_t) (bits >> 16);
}

static int aligned(const void *p, uint64_t algo, int which) {
    uint64_t promised = (algo >> (16 * which)) & 0xffff;
    return promised == 0 || (uintptr_t) p % promised == 0;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, const void *alpha, const void *A,
                              cublasLtMatrixLayout_t Adesc, const void *B, cublasLtMatrixLayout_t Bdesc,
                              const void *beta, const void *C, cublasLtMatrixLayout_t Cdesc, void *D,
                              cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t *algo, void *workspace,
                              size_t workspaceSizeInBytes, cudaStream_t stream) {
    (void) workspace;
    (void) workspaceSizeInBytes;
    (void) stream;
    struct problem p;
    if (!handle || !alpha || !beta || !A || !B || !C || !D || !algo) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    cublasStatus_t s = problem_of(desc, Adesc, Bdesc, Cdesc, Ddesc, &p);
    if (s != CUBLAS_STATUS_SUCCESS) {
        return s;
    }
    const uint64_t *g = algo->data;
    if (g[0] != ALGO_MAGIC || g[1] != p.m || g[2] != p.n || g[3] != p.k
        || g[4] != ((uint64_t) p.type | (uint64_t) p.trans_a << 8 | (uint64_t) p.trans_b << 9)) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (!aligned(A, g[5], 0) || !aligned(B, g[5], 1) || !aligned(C, g[5], 2) || !aligned(D, g[5], 3)) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (C == D && Cdesc->ld != Ddesc->ld) {
        return CUBLAS_STATUS_INVALID_VALUE; /* in place needs one layout */
    }
    const char *limit = getenv("FLUX_ERASE_STANDIN_GEMM_MAX_MACS");
    if ((double) p.m * p.n * p.k > (limit ? strtod(limit, NULL) : (double) (1 << 28))) {
        return CUBLAS_STATUS_SUCCESS;
    }
    float *a = malloc(p.m * p.k * sizeof *a), *b = malloc(p.n * p.k * sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        return CUBLAS_STATUS_ALLOC_FAILED;
    }
    /* op(A) by rows and op(B) by columns, so that each entry of D is the dot product of two contiguous vectors */
    uint64_t lda = (uint64_t) Adesc->ld, ldb = (uint64_t) Bdesc->ld, ldc = (uint64_t) Cdesc->ld;
    uint64_t ldd = (uint64_t) Ddesc->ld;
    for (uint64_t i = 0; i < p.m; i++) {
        for (uint64_t l = 0; l < p.k; l++) {
            a[i * p.k + l] = element(A, p.type, p.trans_a ? l + i * lda : i + l * lda);
        }
    }
    for (uint64_t j = 0; j < p.n; j++) {
        for (uint64_t l = 0; l < p.k; l++) {
            b[j * p.k + l] = element(B, p.type, p.trans_b ? j + l * ldb : l + j * ldb);
        }
    }
    float al, be;
    memcpy(&al, alpha, sizeof al);
    memcpy(&be, beta, sizeof be);
    for (uint64_t j = 0; j < p.n; j++) {
        for (uint64_t i = 0; i < p.m; i++) {
            double sum = 0;
            for (uint64_t l = 0; l < p.k; l++) {
                sum += (double) a[i * p.k + l] * b[j * p.k + l];
            }
            /* with beta = 0, C is not read (it may hold NaN) */
            double c = be == 0 ? 0 : be * (double) element(C, Cdesc->type, i + j * ldc);
            float v = (float) (al * sum + c);
            int e = desc->epilogue;
            if (e == CUBLASLT_EPILOGUE_BIAS || e == CUBLASLT_EPILOGUE_GELU_AUX_BIAS) {
                v += element(desc->bias, Ddesc->type, i);
            }
            if (e == CUBLASLT_EPILOGUE_GELU_AUX || e == CUBLASLT_EPILOGUE_GELU_AUX_BIAS) {
                store(desc->aux, Ddesc->type, i + j * (uint64_t) desc->aux_ld, v);
                double x = v;
                v = (float) (0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))));
            }
            store(D, Ddesc->type, i + j * ldd, v);
        }
    }
    free(a);
    free(b);
    return CUBLAS_STATUS_SUCCESS;
}
