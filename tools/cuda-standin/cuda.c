/*
 * A stand-in for libcuda.so.1 that runs on the CPU, so that the Java side of every GPU test runs where there is no GPU
 * (docs/cuda.md, "The stand-in CUDA libraries"). It exports the driver functions that dev.fluxerase.cuda.CudaDriver
 * binds, with cuda.h's signatures and codes (build.sh compiles this file against cuda.h where one is installed).
 *
 * Device memory is host memory; copies and memsets are done. Streams and events are checked handles whose work is
 * already done when queued. Modules are PTX text, parsed for each entry's name, parameter list, static shared memory
 * and thread limit. cuLaunchKernel checks the launch as the driver would (grid, block, shared memory, the number of
 * arguments) and records it, but runs nothing: memory is unchanged by a launch. Limits are an H100's.
 *
 * A refused call returns the driver's CUresult, and cuGetErrorString adds why for the calling thread's last refusal,
 * so a Java exception says which limit a launch broke.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* name, CUresult, cuGetErrorString's text */
#define ERRORS(X) \
    X(CUDA_SUCCESS, 0, "no error") \
    X(CUDA_ERROR_INVALID_VALUE, 1, "invalid argument") \
    X(CUDA_ERROR_OUT_OF_MEMORY, 2, "out of memory") \
    X(CUDA_ERROR_NOT_INITIALIZED, 3, "initialization error") \
    X(CUDA_ERROR_INVALID_DEVICE, 101, "invalid device ordinal") \
    X(CUDA_ERROR_INVALID_IMAGE, 200, "device kernel image is invalid") \
    X(CUDA_ERROR_INVALID_CONTEXT, 201, "invalid device context") \
    X(CUDA_ERROR_INVALID_PTX, 218, "a PTX JIT compilation failed") \
    X(CUDA_ERROR_INVALID_HANDLE, 400, "invalid resource handle") \
    X(CUDA_ERROR_NOT_FOUND, 500, "named symbol not found") \
    X(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, 701, "too many resources requested for launch")

/* name, CUdevice_attribute, an H100 SXM's value */
#define ATTRIBUTES(X) \
    X(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 1, 1024) \
    X(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X, 2, 1024) \
    X(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y, 3, 1024) \
    X(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z, 4, 64) \
    X(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, 5, 2147483647) \
    X(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y, 6, 65535) \
    X(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z, 7, 65535) \
    X(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, 8, 49152) \
    X(CU_DEVICE_ATTRIBUTE_WARP_SIZE, 10, 32) \
    X(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 16, 132) \
    X(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 75, 9) \
    X(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 76, 0) \
    X(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, 97, 232448)

#define OTHER_CONSTANTS(X) \
    X(CU_JIT_ERROR_LOG_BUFFER, 5, 0) \
    X(CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, 6, 0) \
    X(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 8, 0)

#ifdef STANDIN_CUDA_H
#include <cuda.h>
#define SAME_AS_CUDA_H(name, code, _) _Static_assert(name == code, #name " is not " #code);
ERRORS(SAME_AS_CUDA_H)
ATTRIBUTES(SAME_AS_CUDA_H)
OTHER_CONSTANTS(SAME_AS_CUDA_H)
#else
typedef int CUresult;
typedef int CUdevice;
typedef int CUdevice_attribute;
typedef int CUfunction_attribute;
typedef int CUjit_option;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
#define DEFINE(name, code, _) name = code,
enum { ERRORS(DEFINE) ATTRIBUTES(DEFINE) OTHER_CONSTANTS(DEFINE) };
#endif

#define DEVICE_NAME "flux-erase CUDA stand-in (host memory, H100 limits)"
#define DEFAULT_MEMORY (80ULL << 30)
#define STATIC_SHARED_LIMIT 49152
#define PARAM_BYTES_LIMIT 32764
#define ALIGNMENT 256
#define NAME_BYTES 128

/* ---- state ------------------------------------------------------------------------------------------------------ */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int initialized;
static size_t total_memory, used_memory;

struct CUctx_st { int retained; };
static struct CUctx_st primary;
static _Thread_local CUcontext current;

struct CUstream_st { int unused; };
struct CUevent_st { int recorded; double ms; };

struct CUfunc_st {
    char name[NAME_BYTES];
    int params;
    int static_shared;
    int max_threads;        /* from .maxntid or .reqntid; 0 when the PTX sets none */
    int max_dynamic_shared; /* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES */
};
struct CUmod_st { struct CUfunc_st *functions; int count; };

/* Live handles of one kind; a call with any other handle is refused instead of touching freed memory. */
struct handles { void **items; size_t n, cap; };
static struct handles streams, events, modules;

/* Live allocations, sorted by address, so that every copy and memset can be checked to stay inside one. */
struct allocation { uintptr_t base; size_t bytes; };
static struct allocation *allocations;
static size_t allocation_count, allocation_cap;

struct launch { char name[NAME_BYTES]; unsigned int grid[3], block[3], shared; };
static struct launch *launches;
static size_t launch_count, launch_cap;

static _Thread_local CUresult refused_code;
static _Thread_local char refused_why[512];
static _Thread_local char error_text[768];

static CUresult refuse(CUresult code, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(refused_why, sizeof refused_why, fmt, args);
    va_end(args);
    refused_code = code;
    return code;
}

/* items (of size bytes each) with room for one more than n, or NULL when memory ran out (items is then kept). */
static void *grow(void *items, size_t *cap, size_t n, size_t size) {
    if (n < *cap) {
        return items;
    }
    size_t c = *cap ? 2 * *cap : 64;
    void *p = realloc(items, c * size);
    if (p) {
        *cap = c;
    }
    return p;
}

static int handle_add(struct handles *h, void *item) {
    pthread_mutex_lock(&lock);
    void **items = grow(h->items, &h->cap, h->n, sizeof *items);
    if (items) {
        h->items = items;
        h->items[h->n++] = item;
    }
    pthread_mutex_unlock(&lock);
    return items != NULL;
}

static int handle_find(struct handles *h, const void *item) {
    for (size_t i = 0; i < h->n; i++) {
        if (h->items[i] == item) {
            return (int) i;
        }
    }
    return -1;
}

static int handle_live(struct handles *h, const void *item) {
    pthread_mutex_lock(&lock);
    int live = handle_find(h, item) >= 0;
    pthread_mutex_unlock(&lock);
    return live;
}

static int handle_remove(struct handles *h, const void *item) {
    pthread_mutex_lock(&lock);
    int i = handle_find(h, item);
    if (i >= 0) {
        h->items[i] = h->items[--h->n];
    }
    pthread_mutex_unlock(&lock);
    return i >= 0;
}

/* Index of the first allocation above p. */
static size_t allocation_after(uintptr_t p) {
    size_t lo = 0, hi = allocation_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (allocations[mid].base <= p) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Whether [p, p + bytes) lies inside one live allocation. */
static int device_range(CUdeviceptr p, size_t bytes) {
    pthread_mutex_lock(&lock);
    size_t i = allocation_after((uintptr_t) p);
    int inside = i > 0 && (uintptr_t) p - allocations[i - 1].base <= allocations[i - 1].bytes
                 && bytes <= allocations[i - 1].bytes - ((uintptr_t) p - allocations[i - 1].base);
    pthread_mutex_unlock(&lock);
    return inside;
}

static CUresult need_context(void) {
    if (!initialized) {
        return refuse(CUDA_ERROR_NOT_INITIALIZED, "cuInit was not called");
    }
    if (current == NULL || current->retained == 0) {
        return refuse(CUDA_ERROR_INVALID_CONTEXT, "no context is current on this thread");
    }
    return CUDA_SUCCESS;
}

/* The default stream (NULL) or one made by cuStreamCreate. */
static CUresult need_stream(CUstream s) {
    CUresult r = need_context();
    if (r == CUDA_SUCCESS && s != NULL && !handle_live(&streams, s)) {
        return refuse(CUDA_ERROR_INVALID_HANDLE, "stream %p is not live", (void *) s);
    }
    return r;
}

static CUresult need_range(CUdeviceptr p, size_t bytes, const char *what) {
    if (bytes > 0 && !device_range(p, bytes)) {
        return refuse(CUDA_ERROR_INVALID_VALUE, "%s [0x%llx, +%zu bytes) is not inside one allocation", what,
                      (unsigned long long) p, bytes);
    }
    return CUDA_SUCCESS;
}

/* ---- initialization, errors, device ------------------------------------------------------------------------------ */

CUresult cuInit(unsigned int flags) {
    if (flags != 0) {
        return refuse(CUDA_ERROR_INVALID_VALUE, "cuInit flags must be 0");
    }
    const char *mem = getenv("FLUX_ERASE_STANDIN_MEMORY_BYTES");
    total_memory = mem ? strtoull(mem, NULL, 10) : DEFAULT_MEMORY;
    initialized = 1;
    return CUDA_SUCCESS;
}

CUresult cuDriverGetVersion(int *version) {
    if (!version) {
        return refuse(CUDA_ERROR_INVALID_VALUE, "null version");
    }
    *version = 13000;
    return CUDA_SUCCESS;
}

#define ERROR_CASE(name, code, text) case code: *name_out = #name; *text_out = text; return 1;
static int error_texts(CUresult code, const char **name_out, const char **text_out) {
    switch (code) {
        ERRORS(ERROR_CASE)
        default: return 0;
    }
}

CUresult cuGetErrorName(CUresult error, const char **str) {
    const char *text;
    if (!str || !error_texts(error, str, &text)) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

CUresult cuGetErrorString(CUresult error, const char **str) {
    const char *name;
    if (!str || !error_texts(error, &name, str)) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (error == refused_code && refused_why[0]) {
        snprintf(error_text, sizeof error_text, "%s; stand-in: %s", *str, refused_why);
        *str = error_text;
    }
    return CUDA_SUCCESS;
}

static CUresult need_device(CUdevice dev) {
    if (!initialized) {
        return refuse(CUDA_ERROR_NOT_INITIALIZED, "cuInit was not called");
    }
    return dev == 0 ? CUDA_SUCCESS : refuse(CUDA_ERROR_INVALID_DEVICE, "the stand-in has device 0 only, not %d", dev);
}

CUresult cuDeviceGetCount(int *count) {
    if (!initialized) {
        return refuse(CUDA_ERROR_NOT_INITIALIZED, "cuInit was not called");
    }
    *count = 1;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice *device, int ordinal) {
    CUresult r = need_device(ordinal);
    if (r == CUDA_SUCCESS) {
        *device = ordinal;
    }
    return r;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice dev) {
    CUresult r = need_device(dev);
    if (r == CUDA_SUCCESS) {
        if (!name || len <= 0) {
            return refuse(CUDA_ERROR_INVALID_VALUE, "no room for the device name");
        }
        snprintf(name, (size_t) len, "%s", DEVICE_NAME);
    }
    return r;
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev) {
    CUresult r = need_device(dev);
    if (r == CUDA_SUCCESS) {
        *bytes = total_memory;
    }
    return r;
}

#define ATTRIBUTE_CASE(name, code, value) case code: *pi = value; return CUDA_SUCCESS;
CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev) {
    CUresult r = need_device(dev);
    if (r != CUDA_SUCCESS) {
        return r;
    }
    switch ((int) attrib) {
        ATTRIBUTES(ATTRIBUTE_CASE)
        default: return refuse(CUDA_ERROR_INVALID_VALUE, "device attribute %d is not modelled (add it to ATTRIBUTES)",
                               (int) attrib);
    }
}

#define ATTRIBUTE_VALUE(name, code, value) name##_VALUE = value,
enum { ATTRIBUTES(ATTRIBUTE_VALUE) };

/* ---- context ------------------------------------------------------------------------------------------------------ */

CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice dev) {
    CUresult r = need_device(dev);
    if (r == CUDA_SUCCESS) {
        pthread_mutex_lock(&lock);
        primary.retained++;
        pthread_mutex_unlock(&lock);
        *ctx = &primary;
    }
    return r;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
    CUresult r = need_device(dev);
    if (r != CUDA_SUCCESS) {
        return r;
    }
    pthread_mutex_lock(&lock);
    int was = primary.retained;
    if (was > 0) {
        primary.retained--;
    }
    pthread_mutex_unlock(&lock);
    return was > 0 ? CUDA_SUCCESS : refuse(CUDA_ERROR_INVALID_CONTEXT, "the primary context is not retained");
}

CUresult cuCtxSetCurrent(CUcontext ctx) {
    if (!initialized) {
        return refuse(CUDA_ERROR_NOT_INITIALIZED, "cuInit was not called");
    }
    if (ctx != NULL && ctx != &primary) {
        return refuse(CUDA_ERROR_INVALID_CONTEXT, "context %p is not the primary context", (void *) ctx);
    }
    current = ctx;
    return CUDA_SUCCESS;
}

CUresult cuCtxSynchronize(void) {
    return need_context();
}

/* ---- memory ------------------------------------------------------------------------------------------------------- */

CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total_bytes) {
    CUresult r = need_context();
    if (r == CUDA_SUCCESS) {
        pthread_mutex_lock(&lock);
        *free_bytes = total_memory - used_memory;
        *total_bytes = total_memory;
        pthread_mutex_unlock(&lock);
    }
    return r;
}

/* Zeroed (the driver's memory is not), so that what a kernel would have written reads as 0, not as garbage. */
CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytes) {
    CUresult r = need_context();
    if (r != CUDA_SUCCESS) {
        return r;
    }
    if (bytes == 0) {
        return refuse(CUDA_ERROR_INVALID_VALUE, "cuMemAlloc of 0 bytes");
    }
    pthread_mutex_lock(&lock);
    void *p = NULL;
    struct allocation *table = bytes <= total_memory - used_memory
            ? grow(allocations, &allocation_cap, allocation_count, sizeof *allocations) : NULL;
    if (table) {
        allocations = table;
    }
    if (!table || posix_memalign(&p, ALIGNMENT, bytes) != 0) {
        size_t free_bytes = total_memory - used_memory;
        pthread_mutex_unlock(&lock);
        return refuse(CUDA_ERROR_OUT_OF_MEMORY, "%zu bytes asked, %zu of %zu free", bytes, free_bytes, total_memory);
    }
    memset(p, 0, bytes);
    size_t i = allocation_after((uintptr_t) p);
    memmove(allocations + i + 1, allocations + i, (allocation_count - i) * sizeof *allocations);
    allocations[i] = (struct allocation) {(uintptr_t) p, bytes};
    allocation_count++;
    used_memory += bytes;
    pthread_mutex_unlock(&lock);
    *dptr = (CUdeviceptr) (uintptr_t) p;
    return CUDA_SUCCESS;
}

CUresult cuMemFree_v2(CUdeviceptr dptr) {
    CUresult r = need_context();
    if (r != CUDA_SUCCESS) {
        return r;
    }
    pthread_mutex_lock(&lock);
    size_t i = allocation_after((uintptr_t) dptr);
    if (i == 0 || allocations[i - 1].base != (uintptr_t) dptr) {
        pthread_mutex_unlock(&lock);
        return refuse(CUDA_ERROR_INVALID_VALUE, "0x%llx is not the start of an allocation", (unsigned long long) dptr);
    }
    used_memory -= allocations[i - 1].bytes;
    memmove(allocations + i - 1, allocations + i, (allocation_count - i) * sizeof *allocations);
    allocation_count--;
    pthread_mutex_unlock(&lock);
    free((void *) (uintptr_t) dptr);
    return CUDA_SUCCESS;
}

static CUresult copy(CUdeviceptr to_device, void *to_host, CUdeviceptr from_device, const void *from_host,
                     size_t bytes, CUstream stream) {
    CUresult r = need_stream(stream);
    if (r == CUDA_SUCCESS && to_device) {
        r = need_range(to_device, bytes, "destination");
    }
    if (r == CUDA_SUCCESS && from_device) {
        r = need_range(from_device, bytes, "source");
    }
    if (r == CUDA_SUCCESS && bytes > 0 && ((!to_device && !to_host) || (!from_device && !from_host))) {
        r = refuse(CUDA_ERROR_INVALID_VALUE, "null pointer in a copy of %zu bytes", bytes);
    }
    if (r == CUDA_SUCCESS && bytes > 0) {
        memmove(to_device ? (void *) (uintptr_t) to_device : to_host,
                from_device ? (const void *) (uintptr_t) from_device : from_host, bytes);
    }
    return r;
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t bytes) {
    return copy(dst, NULL, 0, src, bytes, NULL);
}

CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t bytes) {
    return copy(0, dst, src, NULL, bytes, NULL);
}

CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
    return copy(dst, NULL, src, NULL, bytes, NULL);
}

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t bytes, CUstream stream) {
    return copy(dst, NULL, 0, src, bytes, stream);
}

CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t bytes, CUstream stream) {
    return copy(0, dst, src, NULL, bytes, stream);
}

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream) {
    return copy(dst, NULL, src, NULL, bytes, stream);
}

static CUresult memset32(CUdeviceptr dst, unsigned int value, size_t count, CUstream stream) {
    CUresult r = need_stream(stream);
    if (r == CUDA_SUCCESS && dst % 4 != 0) {
        r = refuse(CUDA_ERROR_INVALID_VALUE, "cuMemsetD32 at 0x%llx, not 4-byte aligned", (unsigned long long) dst);
    }
    if (r == CUDA_SUCCESS) {
        r = need_range(dst, count * 4, "memset");
    }
    for (size_t i = 0; r == CUDA_SUCCESS && i < count; i++) {
        ((unsigned int *) (uintptr_t) dst)[i] = value;
    }
    return r;
}

CUresult cuMemsetD32_v2(CUdeviceptr dst, unsigned int value, size_t count) {
    return memset32(dst, value, count, NULL);
}

CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned int value, size_t count, CUstream stream) {
    return memset32(dst, value, count, stream);
}

CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t count, CUstream stream) {
    CUresult r = need_stream(stream);
    if (r == CUDA_SUCCESS) {
        r = need_range(dst, count, "memset");
    }
    if (r == CUDA_SUCCESS) {
        memset((void *) (uintptr_t) dst, value, count);
    }
    return r;
}

/* ---- streams and events: the work they would wait for is done when queued ---------------------------------------- */

/* A zeroed handle of size bytes, added to h; NULL when memory ran out. */
static void *create_handle(struct handles *h, size_t size) {
    void *p = calloc(1, size);
    if (p && !handle_add(h, p)) {
        free(p);
        p = NULL;
    }
    return p;
}

static CUresult destroy_handle(struct handles *h, void *p, const char *what) {
    CUresult r = need_context();
    if (r == CUDA_SUCCESS && !handle_remove(h, p)) {
        return refuse(CUDA_ERROR_INVALID_HANDLE, "%s %p is not live", what, p);
    }
    if (r == CUDA_SUCCESS) {
        free(p);
    }
    return r;
}

CUresult cuStreamCreate(CUstream *stream, unsigned int flags) {
    CUresult r = need_context();
    if (r == CUDA_SUCCESS && flags > 1) {
        r = refuse(CUDA_ERROR_INVALID_VALUE, "stream flags %u", flags);
    }
    if (r == CUDA_SUCCESS && !(*stream = create_handle(&streams, sizeof **stream))) {
        r = refuse(CUDA_ERROR_OUT_OF_MEMORY, "no memory for a stream");
    }
    return r;
}

CUresult cuStreamDestroy_v2(CUstream stream) {
    return destroy_handle(&streams, stream, "stream");
}

CUresult cuStreamSynchronize(CUstream stream) {
    return need_stream(stream);
}

CUresult cuEventCreate(CUevent *event, unsigned int flags) {
    CUresult r = need_context();
    if (r == CUDA_SUCCESS && flags > 0xf) {
        r = refuse(CUDA_ERROR_INVALID_VALUE, "event flags %u", flags);
    }
    if (r == CUDA_SUCCESS && !(*event = create_handle(&events, sizeof **event))) {
        r = refuse(CUDA_ERROR_OUT_OF_MEMORY, "no memory for an event");
    }
    return r;
}

static CUresult need_event(CUevent event) {
    CUresult r = need_context();
    if (r == CUDA_SUCCESS && !handle_live(&events, event)) {
        return refuse(CUDA_ERROR_INVALID_HANDLE, "event %p is not live", (void *) event);
    }
    return r;
}

/* The host's clock: nothing runs on a device, so an event times the host calls between two records. */
CUresult cuEventRecord(CUevent event, CUstream stream) {
    CUresult r = need_event(event);
    if (r == CUDA_SUCCESS) {
        r = need_stream(stream);
    }
    if (r == CUDA_SUCCESS) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        event->ms = t.tv_sec * 1e3 + t.tv_nsec / 1e6;
        event->recorded = 1;
    }
    return r;
}

CUresult cuEventSynchronize(CUevent event) {
    return need_event(event);
}

CUresult cuEventElapsedTime_v2(float *ms, CUevent start, CUevent end) {
    CUresult r = need_event(start);
    if (r == CUDA_SUCCESS) {
        r = need_event(end);
    }
    if (r == CUDA_SUCCESS && (!start->recorded || !end->recorded)) {
        return refuse(CUDA_ERROR_INVALID_HANDLE, "an event that was never recorded");
    }
    if (r == CUDA_SUCCESS) {
        *ms = (float) (end->ms - start->ms);
    }
    return r;
}

CUresult cuEventDestroy_v2(CUevent event) {
    return destroy_handle(&events, event, "event");
}

/* ---- modules: PTX text ------------------------------------------------------------------------------------------- */

static const char *skip_space(const char *p) {
    while (isspace((unsigned char) *p)) {
        p++;
    }
    return p;
}

/* Bytes of a PTX type such as .u64, .f32, .b8 (p after the dot); 0 when it is none. */
static int type_bytes(const char *p) {
    if (!strchr("usbf", *p) || !isdigit((unsigned char) p[1])) {
        return 0;
    }
    int bits = atoi(p + 1);
    return bits % 8 == 0 ? bits / 8 : 0;
}

/*
 * Bytes of one declaration "[.align N] .TYPE [.ptr .space .align N] name[COUNT]" (p after .param or .shared, end
 * at its ',' ')' or ';'); 0 when it is not one.
 */
static long declaration_bytes(const char *p, const char *end) {
    int size = 0;
    for (p = skip_space(p); p < end && *p == '.'; p = skip_space(p)) {
        if (strncmp(p, ".align", 6) == 0) {
            p = skip_space(p + 6);
            while (isdigit((unsigned char) *p)) {
                p++;
            }
            continue;
        }
        if (size == 0) {
            size = type_bytes(p + 1);
        }
        while (p < end && !isspace((unsigned char) *p)) {
            p++;
        }
    }
    if (size == 0 || p >= end || !(isalpha((unsigned char) *p) || *p == '_' || *p == '$' || *p == '%')) {
        return 0;
    }
    const char *bracket = memchr(p, '[', (size_t) (end - p));
    return bracket ? size * atol(bracket + 1) : size;
}

/* Fills f from the entry whose name starts at p; returns where the body ends, or NULL with *why set. */
static const char *parse_entry(const char *p, struct CUfunc_st *f, char *why, size_t why_size) {
    size_t n = strcspn(p, "( \t\r\n");
    if (n == 0 || n >= sizeof f->name) {
        snprintf(why, why_size, "an .entry without a usable name");
        return NULL;
    }
    memcpy(f->name, p, n);
    f->name[n] = 0;
    const char *open = skip_space(p + n);
    const char *close = *open == '(' ? strchr(open, ')') : NULL;
    if (!close) {
        snprintf(why, why_size, "%s: no parameter list", f->name);
        return NULL;
    }
    long param_bytes = 0;
    for (const char *q = open + 1; (q = strstr(q, ".param")) && q < close; q += 6) {
        const char *end = q + strcspn(q, ",)");
        long b = declaration_bytes(q + 6, end);
        if (b == 0) {
            snprintf(why, why_size, "%s: parameter %d is not a .param declaration the stand-in reads", f->name,
                     f->params);
            return NULL;
        }
        param_bytes += b;
        f->params++;
    }
    if (param_bytes > PARAM_BYTES_LIMIT) {
        snprintf(why, why_size, "%s: %ld bytes of parameters, more than %d", f->name, param_bytes, PARAM_BYTES_LIMIT);
        return NULL;
    }
    const char *body = strchr(close, '{');
    if (!body) {
        snprintf(why, why_size, "%s: no body", f->name);
        return NULL;
    }
    for (const char *d = close; (d = strpbrk(d, ".")) && d < body; d++) {
        int x = 1, y = 1, z = 1;
        if ((strncmp(d, ".maxntid", 8) == 0 || strncmp(d, ".reqntid", 8) == 0)
            && sscanf(d + 8, " %d , %d , %d", &x, &y, &z) >= 1) {
            f->max_threads = x * y * z;
        }
    }
    int depth = 0;
    const char *q = body;
    for (; *q; q++) {
        if (*q == '{') {
            depth++;
        } else if (*q == '}' && --depth == 0) {
            break;
        } else if (*q == '\n') {
            const char *line = skip_space(q + 1);
            if (strncmp(line, ".shared", 7) == 0) {
                f->static_shared += (int) declaration_bytes(line + 7, line + strcspn(line, ";"));
            }
        }
    }
    if (!*q) {
        snprintf(why, why_size, "%s: the body does not end", f->name);
        return NULL;
    }
    if (f->static_shared > STATIC_SHARED_LIMIT) {
        snprintf(why, why_size, "%s: %d bytes of static shared memory, more than %d", f->name, f->static_shared,
                 STATIC_SHARED_LIMIT);
        return NULL;
    }
    f->max_dynamic_shared = STATIC_SHARED_LIMIT - f->static_shared;
    return q;
}

static void jit_log(unsigned int count, const CUjit_option *options, void **values, const char *text) {
    char *buffer = NULL;
    size_t size = 0;
    for (unsigned int i = 0; i < count; i++) {
        if (options[i] == CU_JIT_ERROR_LOG_BUFFER) {
            buffer = values[i];
        } else if (options[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES) {
            size = (size_t) (uintptr_t) values[i];
        }
    }
    if (buffer && size > 0) {
        snprintf(buffer, size, "stand-in: %s", text);
    }
}

CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions, CUjit_option *options,
                            void **optionValues) {
    CUresult r = need_context();
    if (r != CUDA_SUCCESS) {
        return r;
    }
    if (numOptions > 0 && (!options || !optionValues)) {
        return refuse(CUDA_ERROR_INVALID_VALUE, "%u JIT options without their arrays", numOptions);
    }
    char why[256] = "";
    const char *text = image;
    if (!text || !strstr(text, ".version") || !strstr(text, ".target")) {
        jit_log(numOptions, options, optionValues, "not PTX text (no .version and .target)");
        return refuse(CUDA_ERROR_INVALID_IMAGE, "not PTX text (no .version and .target)");
    }
    CUmodule m = calloc(1, sizeof *m);
    int cap = 0;
    for (const char *p = text; m && (p = strstr(p, ".entry ")); ) {
        if (m->count == cap) {
            cap = cap ? 2 * cap : 8;
            struct CUfunc_st *grown = realloc(m->functions, (size_t) cap * sizeof *grown);
            if (!grown) {
                snprintf(why, sizeof why, "out of memory");
                break;
            }
            m->functions = grown;
        }
        struct CUfunc_st *f = &m->functions[m->count];
        memset(f, 0, sizeof *f);
        p = parse_entry(skip_space(p + 7), f, why, sizeof why);
        if (!p) {
            break;
        }
        m->count++;
    }
    if (!m || why[0] || !handle_add(&modules, m)) {
        jit_log(numOptions, options, optionValues, why[0] ? why : "out of memory");
        if (m) {
            free(m->functions);
        }
        free(m);
        return why[0] ? refuse(CUDA_ERROR_INVALID_PTX, "%s", why) : refuse(CUDA_ERROR_OUT_OF_MEMORY, "module");
    }
    *module = m;
    return CUDA_SUCCESS;
}

CUresult cuModuleUnload(CUmodule module) {
    CUresult r = need_context();
    if (r == CUDA_SUCCESS && handle_live(&modules, module)) {
        free(module->functions);
    }
    return r == CUDA_SUCCESS ? destroy_handle(&modules, module, "module") : r;
}

CUresult cuModuleGetFunction(CUfunction *function, CUmodule module, const char *name) {
    CUresult r = need_context();
    if (r != CUDA_SUCCESS) {
        return r;
    }
    if (!handle_live(&modules, module)) {
        return refuse(CUDA_ERROR_INVALID_HANDLE, "module %p is not loaded", (void *) module);
    }
    for (int i = 0; i < module->count; i++) {
        if (strcmp(module->functions[i].name, name) == 0) {
            *function = &module->functions[i];
            return CUDA_SUCCESS;
        }
    }
    return refuse(CUDA_ERROR_NOT_FOUND, "the module has no entry %s", name);
}

/* Whether f is an entry of a loaded module (a handle from an unloaded one would be freed memory). */
static int function_live(CUfunction f) {
    pthread_mutex_lock(&lock);
    int live = 0;
    for (size_t i = 0; i < modules.n && !live; i++) {
        CUmodule m = modules.items[i];
        live = f >= m->functions && f < m->functions + m->count;
    }
    pthread_mutex_unlock(&lock);
    return live;
}

CUresult cuFuncSetAttribute(CUfunction function, CUfunction_attribute attrib, int value) {
    CUresult r = need_context();
    if (r != CUDA_SUCCESS) {
        return r;
    }
    if (!function_live(function)) {
        return refuse(CUDA_ERROR_INVALID_HANDLE, "function %p is not an entry of a loaded module", (void *) function);
    }
    if (attrib != CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) {
        return refuse(CUDA_ERROR_INVALID_VALUE, "function attribute %d is not modelled", (int) attrib);
    }
    int most = CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN_VALUE - function->static_shared;
    if (value < 0 || value > most) {
        return refuse(CUDA_ERROR_INVALID_VALUE, "%s: %d bytes of dynamic shared memory asked, at most %d (%d opt-in "
                      "less %d static)", function->name, value, most,
                      CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN_VALUE, function->static_shared);
    }
    function->max_dynamic_shared = value;
    return CUDA_SUCCESS;
}

/* ---- launches ----------------------------------------------------------------------------------------------------- */

static int record(CUfunction f, const unsigned int grid[3], const unsigned int block[3], unsigned int shared) {
    pthread_mutex_lock(&lock);
    struct launch *log = grow(launches, &launch_cap, launch_count, sizeof *launches);
    if (log) {
        launches = log;
        struct launch *l = &launches[launch_count++];
        snprintf(l->name, sizeof l->name, "%s", f->name);
        memcpy(l->grid, grid, sizeof l->grid);
        memcpy(l->block, block, sizeof l->block);
        l->shared = shared;
    }
    pthread_mutex_unlock(&lock);
    return log != NULL;
}

/*
 * kernelParams has no length, so callers end it with a NULL that the driver, which reads exactly the entry's
 * parameter count, never looks at (CudaKernels.packArguments): fewer arguments than the entry's show as a NULL before
 * that count, more as a non-NULL at it.
 */
CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                        unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                        unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra) {
    CUresult r = need_stream(hStream);
    if (r != CUDA_SUCCESS) {
        return r;
    }
    if (!function_live(f)) {
        return refuse(CUDA_ERROR_INVALID_HANDLE, "function %p is not an entry of a loaded module", (void *) f);
    }
    const unsigned int grid[3] = {gridDimX, gridDimY, gridDimZ}, block[3] = {blockDimX, blockDimY, blockDimZ};
    const unsigned int grid_max[3] = {CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X_VALUE, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y_VALUE,
                                      CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z_VALUE};
    const unsigned int block_max[3] = {CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X_VALUE,
                                       CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y_VALUE,
                                       CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z_VALUE};
    for (int i = 0; i < 3; i++) {
        if (grid[i] < 1 || grid[i] > grid_max[i]) {
            return refuse(CUDA_ERROR_INVALID_VALUE, "%s: grid (%u, %u, %u): dimension %c must be 1 to %u", f->name,
                          grid[0], grid[1], grid[2], "xyz"[i], grid_max[i]);
        }
        if (block[i] < 1 || block[i] > block_max[i]) {
            return refuse(CUDA_ERROR_INVALID_VALUE, "%s: block (%u, %u, %u): dimension %c must be 1 to %u", f->name,
                          block[0], block[1], block[2], "xyz"[i], block_max[i]);
        }
    }
    unsigned long long threads = (unsigned long long) blockDimX * blockDimY * blockDimZ;
    if (threads > (unsigned long long) CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK_VALUE) {
        return refuse(CUDA_ERROR_INVALID_VALUE, "%s: block (%u, %u, %u) is %llu threads, more than %d", f->name,
                      blockDimX, blockDimY, blockDimZ, threads, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK_VALUE);
    }
    if (f->max_threads > 0 && threads > (unsigned long long) f->max_threads) {
        return refuse(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "%s: block of %llu threads, its __launch_bounds__ allow %d",
                      f->name, threads, f->max_threads);
    }
    if (sharedMemBytes > (unsigned int) f->max_dynamic_shared) {
        return refuse(CUDA_ERROR_INVALID_VALUE, "%s: %u bytes of dynamic shared memory, the function allows %d (raise "
                      "CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, up to %d)", f->name, sharedMemBytes,
                      f->max_dynamic_shared,
                      CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN_VALUE - f->static_shared);
    }
    if (extra != NULL) {
        return refuse(CUDA_ERROR_INVALID_VALUE, "%s: the stand-in reads arguments from kernelParams only", f->name);
    }
    if (f->params > 0 && kernelParams == NULL) {
        return refuse(CUDA_ERROR_INVALID_VALUE, "%s takes %d arguments, kernelParams is NULL", f->name, f->params);
    }
    for (int i = 0; i < f->params; i++) {
        if (kernelParams[i] == NULL) {
            return refuse(CUDA_ERROR_INVALID_VALUE, "%s takes %d arguments, got %d", f->name, f->params, i);
        }
    }
    if (kernelParams != NULL && kernelParams[f->params] != NULL) {
        return refuse(CUDA_ERROR_INVALID_VALUE, "%s takes %d arguments, got more (or kernelParams does not end with "
                      "NULL)", f->name, f->params);
    }
    return record(f, grid, block, sharedMemBytes) ? CUDA_SUCCESS
           : refuse(CUDA_ERROR_OUT_OF_MEMORY, "no memory for the launch log");
}

/* ---- for tests: the launches accepted so far ---------------------------------------------------------------------- */

size_t standin_launch_count(void) {
    pthread_mutex_lock(&lock);
    size_t n = launch_count;
    pthread_mutex_unlock(&lock);
    return n;
}

/* Launch i: its entry name into name (cap bytes) and grid x, y, z, block x, y, z, dynamic shared bytes into geometry. */
int standin_launch(size_t i, char *name, int cap, unsigned int *geometry) {
    pthread_mutex_lock(&lock);
    int ok = i < launch_count;
    if (ok) {
        struct launch *l = &launches[i];
        snprintf(name, (size_t) cap, "%s", l->name);
        memcpy(geometry, l->grid, sizeof l->grid);
        memcpy(geometry + 3, l->block, sizeof l->block);
        geometry[6] = l->shared;
    }
    pthread_mutex_unlock(&lock);
    return ok ? 0 : 1;
}
