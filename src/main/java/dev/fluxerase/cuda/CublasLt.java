package dev.fluxerase.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * cuBLASLt ({@code libcublasLt.so.13}, else {@code .so.12}) through FFM: one {@link #matmul} that runs a column-major
 * D = alpha·op(A)·op(B) + beta·C with C = D, f32 accumulation, A/B both f32 or both bf16, and D f32 or, with the bias
 * and GELU epilogues of a fused Linear ({@link Output}), bf16. The heuristic's algorithm, descriptors and layouts are
 * created once per distinct problem and kept until {@link #close}.
 */
final class CublasLt implements AutoCloseable {
    static final List<String> DECLARATIONS = List.of(
            "cublasStatus_t cublasLtCreate(cublasLtHandle_t*)",
            "cublasStatus_t cublasLtDestroy(cublasLtHandle_t)",
            "size_t cublasLtGetVersion(void)",
            "const char* cublasLtGetStatusName(cublasStatus_t)",
            "cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t*, cublasComputeType_t, cudaDataType_t)",
            "cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t)",
            "cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t, cublasLtMatmulDescAttributes_t, "
                    + "const void*, size_t)",
            "cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t*, cudaDataType, uint64_t, uint64_t, int64_t)",
            "cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t)",
            "cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t*)",
            "cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t)",
            "cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t, "
                    + "cublasLtMatmulPreferenceAttributes_t, const void*, size_t)",
            "cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t, "
                    + "cublasLtMatrixLayout_t, cublasLtMatrixLayout_t, cublasLtMatrixLayout_t, cublasLtMatmulPreference_t, "
                    + "int, cublasLtMatmulHeuristicResult_t*, int*)",
            "cublasStatus_t cublasLtMatmul(cublasLtHandle_t, cublasLtMatmulDesc_t, const void*, const void*, "
                    + "cublasLtMatrixLayout_t, const void*, cublasLtMatrixLayout_t, const void*, const void*, "
                    + "cublasLtMatrixLayout_t, void*, cublasLtMatrixLayout_t, const cublasLtMatmulAlgo_t*, void*, size_t, "
                    + "cudaStream_t)");

    static final Map<String, MemoryLayout> TYPES = Map.ofEntries(
            Map.entry("cublasStatus_t", ValueLayout.JAVA_INT),
            Map.entry("cublasComputeType_t", ValueLayout.JAVA_INT),
            Map.entry("cudaDataType_t", ValueLayout.JAVA_INT),
            Map.entry("cudaDataType", ValueLayout.JAVA_INT),
            Map.entry("cublasLtMatmulDescAttributes_t", ValueLayout.JAVA_INT),
            Map.entry("cublasLtMatmulPreferenceAttributes_t", ValueLayout.JAVA_INT),
            Map.entry("cublasLtHandle_t", ValueLayout.ADDRESS),
            Map.entry("cublasLtMatmulDesc_t", ValueLayout.ADDRESS),
            Map.entry("cublasLtMatrixLayout_t", ValueLayout.ADDRESS),
            Map.entry("cublasLtMatmulPreference_t", ValueLayout.ADDRESS),
            Map.entry("cudaStream_t", ValueLayout.ADDRESS));

    // cudaDataType_t (library_types.h) and cublasComputeType_t (cublas_api.h)
    static final int CUDA_R_32F = 0;
    static final int CUDA_R_16BF = 14;
    static final int CUBLAS_COMPUTE_32F = 68;
    // cublasLtMatmulDescAttributes_t, cublasOperation_t, cublasLtMatmulPreferenceAttributes_t (cublasLt.h)
    private static final int DESC_TRANSA = 3;
    private static final int DESC_TRANSB = 4;
    private static final int DESC_EPILOGUE = 7;
    private static final int DESC_BIAS_POINTER = 8;
    private static final int DESC_EPILOGUE_AUX_POINTER = 11;
    private static final int DESC_EPILOGUE_AUX_LD = 12;
    // cublasLtEpilogue_t: BIAS adds a bias per row of D; GELU_AUX also writes the GELU's input to the aux matrix
    static final int EPILOGUE_DEFAULT = 1;
    static final int EPILOGUE_BIAS = 4;
    static final int EPILOGUE_GELU_AUX = 160;
    static final int EPILOGUE_GELU_AUX_BIAS = 164;
    private static final int OP_N = 0;
    private static final int OP_T = 1;
    private static final int PREF_MAX_WORKSPACE_BYTES = 1;
    private static final int PREF_MIN_ALIGNMENT_A_BYTES = 5;
    /** cublasLtMatmulHeuristicResult_t: algo (uint64_t[8]), size_t workspaceSize, int state, float waves, int[4]. */
    static final long HEURISTIC_RESULT_BYTES = 64 + 8 + 4 + 4 + 16;
    private static final long HEURISTIC_WORKSPACE_OFFSET = 64;

    static final long WORKSPACE_BYTES = 32L << 20;

    private final Map<String, NativeFunction> fns = new LinkedHashMap<>();
    private final String path;
    private final MemorySegment handle;
    private final CudaDriver driver;
    private final long workspace;
    private final Arena arena = Arena.ofShared();
    private final Map<Key, Prepared> prepared = new HashMap<>();

    CublasLt(CudaDriver driver, SymbolLookup lookup, String path) {
        this.driver = driver;
        this.path = path;
        for (String d : DECLARATIONS) {
            NativeFunction f = NativeFunction.bind(lookup, path, d, TYPES);
            fns.put(f.name(), f);
        }
        MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
        try {
            check((int) fn("cublasLtCreate").invokeExact(out), "cublasLtCreate");
        } catch (Throwable t) {
            throw CudaDriver.rethrow("cublasLtCreate", t);
        }
        this.handle = out.get(ValueLayout.ADDRESS, 0);
        this.workspace = driver.memAlloc(WORKSPACE_BYTES);
    }

    /** Binds the library found by {@code libs}; the CUDA context must be current. */
    static CublasLt load(CudaDriver driver, CudaLibraries libs) {
        CudaLibraries.Found f = locate(driver.driverVersion(), libs);
        SymbolLookup lookup = SymbolLookup.libraryLookup(f.path(), Arena.global());
        return new CublasLt(driver, lookup, f.path().toString());
    }

    /** The library that {@link #load} would bind for this driver, or {@link CudaUnavailableException} saying none is. */
    static CudaLibraries.Found locate(int driverVersion, CudaLibraries libs) {
        return libs.find("libcublasLt", preferredMajors(driverVersion))
                .orElseThrow(() -> new CudaUnavailableException("no cuBLASLt: " + String.join(" / ",
                        preferredMajors(driverVersion).stream().map(m -> "libcublasLt.so." + m).toList())
                        + " not found (set " + CudaLibraries.DIR_ENV
                        + " to a CUDA lib64 folder or the pip nvidia/*/lib folder)"));
    }

    /** CUDA 13 libraries need a CUDA 13 driver; an older driver can only use the .so.12 ones. */
    static List<Integer> preferredMajors(int driverVersion) {
        return driverVersion >= 13000 ? List.of(13, 12) : List.of(12);
    }

    String path() {
        return path;
    }

    long version() {
        try {
            return (long) fn("cublasLtGetVersion").invokeExact();
        } catch (Throwable t) {
            throw CudaDriver.rethrow("cublasLtGetVersion", t);
        }
    }

    private java.lang.invoke.MethodHandle fn(String name) {
        return fns.get(name).handle();
    }

    private void check(int status, String call) {
        if (status == 0) {
            return;
        }
        String name;
        try {
            name = NativeFunction.cString((MemorySegment) fn("cublasLtGetStatusName").invokeExact(status));
        } catch (Throwable t) {
            name = null;
        }
        throw new CudaException(call + " failed: " + (name == null ? "cublasStatus " + status : name) + " (" + path + ")");
    }

    /**
     * D's data type and the epilogue that writes it: {@code bias} [m] in D's type, added to every column (0: none), and
     * for the GELU epilogues {@code aux}, which receives the GELU's input in D's type with leading dimension m (cuBLASLt
     * wants it divisible by 8). cuBLASLt computes the epilogue in f32 on the accumulator and rounds each output once.
     */
    record Output(int type, int epilogue, long bias, long aux) {
        static final Output F32 = new Output(CUDA_R_32F, EPILOGUE_DEFAULT, 0, 0);
    }

    /** The alignments of the epilogue's pointers are part of the problem: the heuristic chooses by them. */
    private record Key(int computeType, int abType, GemmPlan plan, int alignA, int alignB, int alignC, int dType,
                       int epilogue, int alignBias, int alignAux) {
    }

    private record Prepared(MemorySegment desc, MemorySegment layoutA, MemorySegment layoutB, MemorySegment layoutC,
                            MemorySegment algo) {
    }

    /**
     * Column-major D = alpha·op(A)·op(B) + beta·D on {@code stream}, A and B of {@code abType} (f32 or bf16), D f32.
     * With beta = 0, D is not read.
     */
    void matmul(GemmPlan p, int abType, float alpha, long a, long b, float beta, long d, MemorySegment stream) {
        matmul(p, abType, alpha, a, b, beta, d, Output.F32, stream);
    }

    /** The same with D of {@code out}'s type and its epilogue. */
    void matmul(GemmPlan p, int abType, float alpha, long a, long b, float beta, long d, Output out,
                MemorySegment stream) {
        Key key = new Key(CUBLAS_COMPUTE_32F, abType, p, alignment(a), alignment(b), alignment(d), out.type(),
                out.epilogue(), alignment(out.bias()), alignment(out.aux()));
        Prepared pr = prepared.computeIfAbsent(key, k -> prepare(k, out));
        try (Arena call = Arena.ofConfined()) {
            // the descriptor is shared by every call of its key, and the pointers differ from call to call
            if (out.bias() != 0) {
                setPointer(pr.desc(), DESC_BIAS_POINTER, out.bias(), call);
            }
            if (out.aux() != 0) {
                setPointer(pr.desc(), DESC_EPILOGUE_AUX_POINTER, out.aux(), call);
            }
            MemorySegment al = call.allocateFrom(ValueLayout.JAVA_FLOAT, alpha);
            MemorySegment be = call.allocateFrom(ValueLayout.JAVA_FLOAT, beta);
            MemorySegment dm = MemorySegment.ofAddress(d);
            int r = (int) fn("cublasLtMatmul").invokeExact(handle, pr.desc(), al, MemorySegment.ofAddress(a), pr.layoutA(),
                    MemorySegment.ofAddress(b), pr.layoutB(), be, dm, pr.layoutC(), dm, pr.layoutC(), pr.algo(),
                    MemorySegment.ofAddress(workspace), WORKSPACE_BYTES, stream);
            check(r, "cublasLtMatmul(" + p + ")");
        } catch (Throwable t) {
            throw CudaDriver.rethrow("cublasLtMatmul", t);
        }
        if (CudaDebug.syncEachCall()) {
            CudaDebug.waitFor(driver, stream, () -> "cublasLtMatmul(" + p + ", A and B "
                    + (abType == CUDA_R_16BF ? "bf16" : "f32") + ", alpha " + alpha + ", beta " + beta + ")");
        }
    }

    /** The largest power of two (up to 256) dividing the address: what the heuristic may assume. */
    static int alignment(long address) {
        long a = address & -address;
        return a == 0 || a > 256 ? 256 : (int) a;
    }

    private Prepared prepare(Key key, Output output) {
        GemmPlan p = key.plan();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment out = tmp.allocate(ValueLayout.ADDRESS);
            check((int) fn("cublasLtMatmulDescCreate").invokeExact(out, key.computeType(), CUDA_R_32F),
                    "cublasLtMatmulDescCreate");
            MemorySegment desc = out.get(ValueLayout.ADDRESS, 0);
            setDesc(desc, DESC_TRANSA, p.opA() ? OP_T : OP_N, tmp);
            setDesc(desc, DESC_TRANSB, p.opB() ? OP_T : OP_N, tmp);
            if (output.epilogue() != EPILOGUE_DEFAULT) {
                setDesc(desc, DESC_EPILOGUE, output.epilogue(), tmp);
            }
            if (output.bias() != 0) {
                setPointer(desc, DESC_BIAS_POINTER, output.bias(), tmp);
            }
            if (output.aux() != 0) {
                setPointer(desc, DESC_EPILOGUE_AUX_POINTER, output.aux(), tmp);
                MemorySegment ld = tmp.allocateFrom(ValueLayout.JAVA_LONG, p.ldc());
                check((int) fn("cublasLtMatmulDescSetAttribute").invokeExact(desc, DESC_EPILOGUE_AUX_LD, ld, 8L),
                        "cublasLtMatmulDescSetAttribute(EPILOGUE_AUX_LD)");
            }
            MemorySegment la = layout(key.abType(), p.rowsA(), p.colsA(), p.lda(), tmp);
            MemorySegment lb = layout(key.abType(), p.rowsB(), p.colsB(), p.ldb(), tmp);
            MemorySegment lc = layout(key.dType(), p.m(), p.n(), p.ldc(), tmp);

            check((int) fn("cublasLtMatmulPreferenceCreate").invokeExact(out), "cublasLtMatmulPreferenceCreate");
            MemorySegment pref = out.get(ValueLayout.ADDRESS, 0);
            try {
                MemorySegment ws = tmp.allocateFrom(ValueLayout.JAVA_LONG, WORKSPACE_BYTES);
                check((int) fn("cublasLtMatmulPreferenceSetAttribute").invokeExact(pref, PREF_MAX_WORKSPACE_BYTES, ws, 8L),
                        "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)");
                int[] aligns = {key.alignA(), key.alignB(), key.alignC(), key.alignC()};
                for (int i = 0; i < 4; i++) {
                    MemorySegment v = tmp.allocateFrom(ValueLayout.JAVA_INT, aligns[i]);
                    check((int) fn("cublasLtMatmulPreferenceSetAttribute").invokeExact(pref, PREF_MIN_ALIGNMENT_A_BYTES + i,
                            v, 4L), "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT)");
                }
                MemorySegment result = arena.allocate(HEURISTIC_RESULT_BYTES, 8);
                MemorySegment count = tmp.allocate(ValueLayout.JAVA_INT);
                check((int) fn("cublasLtMatmulAlgoGetHeuristic").invokeExact(handle, desc, la, lb, lc, lc, pref, 1, result,
                        count), "cublasLtMatmulAlgoGetHeuristic");
                if (count.get(ValueLayout.JAVA_INT, 0) < 1) {
                    throw new CudaException("cublasLtMatmulAlgoGetHeuristic found no algorithm for " + p + " (type "
                            + key.abType() + ", " + path + ")");
                }
                long need = result.get(ValueLayout.JAVA_LONG, HEURISTIC_WORKSPACE_OFFSET);
                if (need > WORKSPACE_BYTES) {
                    throw new CudaException("cuBLASLt algorithm wants " + need + " workspace bytes, we have " + WORKSPACE_BYTES);
                }
                return new Prepared(desc, la, lb, lc, result.asSlice(0, 64));
            } finally {
                check((int) fn("cublasLtMatmulPreferenceDestroy").invokeExact(pref), "cublasLtMatmulPreferenceDestroy");
            }
        } catch (Throwable t) {
            throw CudaDriver.rethrow("cuBLASLt setup", t);
        }
    }

    /** A device pointer attribute (the bias and aux pointers: 8 bytes). */
    private void setPointer(MemorySegment desc, int attribute, long address, Arena tmp) throws Throwable {
        MemorySegment v = tmp.allocateFrom(ValueLayout.JAVA_LONG, address);
        check((int) fn("cublasLtMatmulDescSetAttribute").invokeExact(desc, attribute, v, 8L),
                "cublasLtMatmulDescSetAttribute(" + attribute + ")");
    }

    private void setDesc(MemorySegment desc, int attribute, int value, Arena tmp) throws Throwable {
        MemorySegment v = tmp.allocateFrom(ValueLayout.JAVA_INT, value);
        check((int) fn("cublasLtMatmulDescSetAttribute").invokeExact(desc, attribute, v, 4L),
                "cublasLtMatmulDescSetAttribute(" + attribute + ")");
    }

    private MemorySegment layout(int type, long rows, long cols, long ld, Arena tmp) throws Throwable {
        MemorySegment out = tmp.allocate(ValueLayout.ADDRESS);
        check((int) fn("cublasLtMatrixLayoutCreate").invokeExact(out, type, rows, cols, ld), "cublasLtMatrixLayoutCreate");
        return out.get(ValueLayout.ADDRESS, 0);
    }

    @Override
    public void close() {
        try {
            for (Prepared p : prepared.values()) {
                check((int) fn("cublasLtMatrixLayoutDestroy").invokeExact(p.layoutA()), "cublasLtMatrixLayoutDestroy");
                check((int) fn("cublasLtMatrixLayoutDestroy").invokeExact(p.layoutB()), "cublasLtMatrixLayoutDestroy");
                check((int) fn("cublasLtMatrixLayoutDestroy").invokeExact(p.layoutC()), "cublasLtMatrixLayoutDestroy");
                check((int) fn("cublasLtMatmulDescDestroy").invokeExact(p.desc()), "cublasLtMatmulDescDestroy");
            }
            prepared.clear();
            check((int) fn("cublasLtDestroy").invokeExact(handle), "cublasLtDestroy");
        } catch (Throwable t) {
            throw CudaDriver.rethrow("cuBLASLt close", t);
        } finally {
            driver.memFree(workspace);
            arena.close();
        }
    }
}
