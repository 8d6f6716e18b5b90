package dev.fluxerase.cuda;

import dev.fluxerase.tensor.BackendContract;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.testing.BoundedOps;
import dev.fluxerase.testing.Compare;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static dev.fluxerase.testing.RandomData.gaussian;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The stand-in CUDA libraries themselves (tools/cuda-standin): they export what the bindings declare, with the same C
 * signatures; they refuse a launch that a GPU would refuse, with the driver's code and the reason; they check and
 * account memory; and their cuBLASLt computes the column-major GEMM that {@link GemmPlan} maps to.
 */
class CudaStandInTest {
    private static String notBuilt;
    private static CudaDriver d;
    private static int dev;

    @BeforeAll
    static void load() {
        try {
            d = CudaDriver.load(CudaStandIn.libraries(CudaStandIn.build()));
            dev = d.device(0);
            d.setCurrentContext(d.primaryContextRetain(dev));
        } catch (CudaStandIn.NotBuilt e) {
            notBuilt = e.getMessage();
        }
    }

    @AfterAll
    static void release() {
        if (d != null) {
            d.primaryContextRelease(dev);
        }
    }

    @BeforeEach
    void built() {
        Assumptions.assumeTrue(d != null, notBuilt);
    }

    /** A C file that assigns each stand-in function to a pointer of the type the Java declaration gives must compile. */
    private static String signatureErrors(Path tmp, String source, List<String> declarations,
                                          java.util.Map<String, java.lang.foreign.MemoryLayout> types) throws Exception {
        StringBuilder c = new StringBuilder("#include \"" + CudaStandIn.SOURCES.resolve(source).toAbsolutePath() + "\"\n");
        int i = 0;
        for (String decl : declarations) {
            NativeFunction.Parsed p = NativeFunction.parse(decl, types);
            String args = p.argTypes().isEmpty() ? "void" : String.join(", ", p.argTypes());
            c.append(p.returnType()).append(" (*check").append(i++).append(")(").append(args).append(") = ")
                    .append(p.name()).append(";\n");
        }
        Path file = tmp.resolve("check-" + source);
        Files.writeString(file, c);
        Process proc = new ProcessBuilder(System.getenv().getOrDefault("CC", "cc"), "-std=c11", "-fsyntax-only", "-Wall",
                "-Werror", "-Werror=incompatible-pointer-types", file.toString()).redirectErrorStream(true).start();
        String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(proc.waitFor(60, TimeUnit.SECONDS), "cc timed out");
        return proc.exitValue() == 0 ? null : out + "\n" + c;
    }

    @Test
    void everyBoundFunctionExistsWithTheDeclaredSignature(@TempDir Path tmp) throws Exception {
        assertNull(signatureErrors(tmp, "cuda.c", CudaDriver.DECLARATIONS, CudaDriver.TYPES));
        assertNull(signatureErrors(tmp, "cublaslt.c", CublasLt.DECLARATIONS, CublasLt.TYPES));
    }

    /** Loaded by its path here, it must not become the libcuda.so.1 that a lookup by name (CudaDriver.get) finds. */
    @Test
    void isNotFoundByName() {
        Optional<SymbolLookup> byName;
        try {
            byName = Optional.of(SymbolLookup.libraryLookup("libcuda.so.1", Arena.ofAuto()));
        } catch (IllegalArgumentException none) {
            byName = Optional.empty();
        }
        assertTrue(byName.flatMap(l -> l.find("standin_launch_count")).isEmpty(), "the stand-in was found by name");
    }

    @Test
    void looksLikeAnH100() {
        assertTrue(CudaStandIn.is(d));
        assertEquals(13000, d.driverVersion());
        assertEquals(9, d.attribute(dev, CudaDriver.ATTR_COMPUTE_CAPABILITY_MAJOR));
        assertEquals(132, d.attribute(dev, CudaDriver.ATTR_MULTIPROCESSOR_COUNT));
        assertEquals(227 * 1024, d.attribute(dev, CudaDriver.ATTR_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN));
        assertEquals(80L << 30, d.totalMemory(dev));
        CudaException unknown = assertThrows(CudaException.class, () -> d.attribute(dev, 12345));
        assertTrue(unknown.getMessage().contains("device attribute 12345 is not modelled"), unknown.getMessage());
    }

    @Test
    void memoryIsCheckedAndAccounted() throws Exception {
        long[] before = d.memoryInfo();
        long p = d.memAlloc(1 << 20);
        assertEquals(before[0] - (1 << 20), d.memoryInfo()[0]);
        assertEquals(0, p % 256, "the driver's allocations are 256-byte aligned");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocateFrom(ValueLayout.JAVA_INT, 1, 2);
            d.copyHtoD(p + (1 << 20) - 8, host, 8);
            CudaException past = assertThrows(CudaException.class, () -> d.copyHtoD(p + (1 << 20) - 4, host, 8));
            assertTrue(past.getMessage().startsWith("cuMemcpyHtoD_v2 failed: CUDA_ERROR_INVALID_VALUE (invalid argument; "
                    + "stand-in: destination [0x"), past.getMessage());
            assertTrue(past.getMessage().endsWith(", +8 bytes) is not inside one allocation)"), past.getMessage());
        }
        CudaException inner = assertThrows(CudaException.class, () -> d.memFree(p + 256));
        assertTrue(inner.getMessage().contains("is not the start of an allocation"), inner.getMessage());
        CudaException oom = assertThrows(CudaException.class, () -> d.memAlloc(1L << 62));
        assertTrue(oom.getMessage().startsWith("cuMemAlloc_v2(" + (1L << 62) + " bytes) failed: CUDA_ERROR_OUT_OF_MEMORY"),
                oom.getMessage());
        // the context is current per thread, as CudaBackend.enter assumes
        RuntimeException[] onOtherThread = new RuntimeException[1];
        Thread t = new Thread(() -> {
            try {
                d.memAlloc(256);
            } catch (RuntimeException e) {
                onOtherThread[0] = e;
            }
        });
        t.start();
        t.join();
        assertTrue(onOtherThread[0] instanceof CudaException e && e.getMessage().contains("CUDA_ERROR_INVALID_CONTEXT"),
                String.valueOf(onOtherThread[0]));
        d.memFree(p);
        assertEquals(before[0], d.memoryInfo()[0]);
    }

    private static Object[] zeros(Kernel k) {
        return k.params().stream().map(kind -> switch (kind) {
            case 'I' -> (Object) 0;
            case 'F' -> 0f;
            default -> 0L;
        }).toArray();
    }

    @Test
    void everyEntryIsParsedFromItsPtx() {
        MemorySegment stream = d.streamCreate();
        try (CudaKernels k = new CudaKernels(d, stream)) {
            long from = CudaStandIn.launchCount(d);
            for (Kernel kernel : Kernel.values()) {
                // accepted only if the stand-in read as many parameters from the PTX as Java packs
                k.launch(kernel, 1, 1, 1, 128, 0, zeros(kernel));
            }
            List<CudaStandIn.Launch> log = CudaStandIn.launches(d, from);
            assertEquals(List.of(Kernel.values()).stream().map(Kernel::entry).toList(),
                    log.stream().map(CudaStandIn.Launch::name).toList());
        } finally {
            d.streamDestroy(stream);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment module = d.moduleLoad(a.allocateFrom(ValueLayout.JAVA_BYTE, CudaKernels.ptx("elementwise")),
                    "elementwise");
            CudaException missing = assertThrows(CudaException.class, () -> d.moduleFunction(module, "no_such_kernel"));
            assertTrue(missing.getMessage().startsWith("cuModuleGetFunction(no_such_kernel) failed: CUDA_ERROR_NOT_FOUND"),
                    missing.getMessage());
            d.moduleUnload(module);
            CudaException bad = assertThrows(CudaException.class, () -> d.moduleLoad(a.allocateFrom("not ptx"), "x"));
            assertEquals("cuModuleLoadDataEx(x) failed: CUDA_ERROR_INVALID_IMAGE (device kernel image is invalid; "
                    + "stand-in: not PTX text (no .version and .target)); JIT log: stand-in: not PTX text (no .version "
                    + "and .target)", bad.getMessage());
        }
    }

    @Test
    void launchesOutsideTheLimitsAreRefusedNamingTheKernel() {
        MemorySegment stream = d.streamCreate();
        long p = d.memAlloc(4096);
        try (CudaKernels k = new CudaKernels(d, stream); Arena a = Arena.ofConfined()) {
            long from = CudaStandIn.launchCount(d);
            k.launch(Kernel.FILL, 3, 2, 1, 256, 1024, 1000L, p, 0, 1f);
            assertEquals(List.of(new CudaStandIn.Launch("fill", 3, 2, 1, 256, 1, 1, 1024)), CudaStandIn.launches(d, from));

            assertRefused("fill: block (2048, 1, 1): dimension x must be 1 to 1024", "CUDA_ERROR_INVALID_VALUE",
                    () -> k.launch(Kernel.FILL, 1, 1, 1, 2048, 0, 1000L, p, 0, 1f));
            assertRefused("fill: grid (1, 65536, 1): dimension y must be 1 to 65535", "CUDA_ERROR_INVALID_VALUE",
                    () -> k.launch(Kernel.FILL, 1, 65536, 1, 256, 0, 1000L, p, 0, 1f));
            assertRefused("fill: 49153 bytes of dynamic shared memory, the function allows 49152 (raise "
                    + "CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, up to 232448)", "CUDA_ERROR_INVALID_VALUE",
                    () -> k.launch(Kernel.FILL, 1, 1, 1, 256, 48 * 1024 + 1, 1000L, p, 0, 1f));
            Object[] bwd = zeros(Kernel.FLASH_ATTN_BWD);
            k.launch(Kernel.FLASH_ATTN_BWD, 1, 1, 1, 128, Kernel.FLASH_BWD_SMEM_BYTES, bwd);
            assertRefused("flash_attn_bwd: " + (Kernel.FLASH_BWD_SMEM_BYTES + 1) + " bytes of dynamic shared memory, the "
                    + "function allows " + Kernel.FLASH_BWD_SMEM_BYTES, "CUDA_ERROR_INVALID_VALUE",
                    () -> k.launch(Kernel.FLASH_ATTN_BWD, 1, 1, 1, 128, Kernel.FLASH_BWD_SMEM_BYTES + 1, bwd));
            assertRefused("flash_attn_fwd: block of 256 threads, its __launch_bounds__ allow 128", "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
                    () -> k.launch(Kernel.FLASH_ATTN_FWD, 1, 1, 1, 256, 0, zeros(Kernel.FLASH_ATTN_FWD)));

            MemorySegment fill = k.function(Kernel.FILL);
            MemorySegment three = CudaKernels.packArguments(a, Kernel.SCALE, 1000L, p, 1f);
            assertRefused("fill takes 4 arguments, got 3", "CUDA_ERROR_INVALID_VALUE",
                    () -> d.launch(fill, "fill", 1, 1, 1, 256, 1, 1, 0, stream, three));
            MemorySegment five = CudaKernels.packArguments(a, Kernel.CAST, 1000L, p, 0, p, 1);
            assertRefused("fill takes 4 arguments, got more (or kernelParams does not end with NULL)",
                    "CUDA_ERROR_INVALID_VALUE", () -> d.launch(fill, "fill", 1, 1, 1, 256, 1, 1, 0, stream, five));
            CudaException optIn = assertThrows(CudaException.class, () -> d.functionSetAttribute(fill,
                    CudaDriver.FUNC_ATTR_MAX_DYNAMIC_SHARED_SIZE_BYTES, 227 * 1024 + 1));
            assertTrue(optIn.getMessage().contains("at most 232448"), optIn.getMessage());
            assertEquals(List.of("fill", "flash_attn_bwd"), CudaStandIn.launches(d, from).stream()
                    .map(CudaStandIn.Launch::name).toList(), "refused launches are not logged");
        } finally {
            d.memFree(p);
            d.streamDestroy(stream);
        }
    }

    private static void assertRefused(String why, String name, Runnable launch) {
        CudaException e = assertThrows(CudaException.class, launch::run);
        String kernel = why.substring(0, why.indexOf(why.contains(":") ? ':' : ' '));
        assertTrue(e.getMessage().startsWith("cuLaunchKernel(" + kernel + ") failed: " + name + " ("), e.getMessage());
        assertTrue(e.getMessage().contains("stand-in: " + why), e.getMessage());
    }

    /** c = alpha·op(a)·op(b) + beta·c through CublasLt and the stand-in, A and B of {@code type}. */
    private static float[] gemm(CublasLt lt, int type, boolean ta, boolean tb, float[] a, long ar, long ac, float[] b,
                                long br, long bc, float alpha, float beta, float[] c) {
        long m = ta ? ac : ar, n = tb ? br : bc, k = ta ? ar : ac;
        GemmPlan plan = GemmPlan.rowMajor(ta, tb, new BackendContract.Gemm(m, n, k));
        long pa = upload(type, a), pb = upload(type, b), pc = upload(CublasLt.CUDA_R_32F, c);
        MemorySegment stream = d.streamCreate();
        try (Arena ar2 = Arena.ofConfined()) {
            lt.matmul(plan, type, alpha, pb, pa, beta, pc, stream);
            MemorySegment out = ar2.allocate(4L * c.length, 4);
            d.copyDtoH(out, pc, out.byteSize());
            return out.toArray(ValueLayout.JAVA_FLOAT);
        } finally {
            d.streamDestroy(stream);
            d.memFree(pa);
            d.memFree(pb);
            d.memFree(pc);
        }
    }

    private static long upload(int type, float[] v) {
        long bytes = (type == CublasLt.CUDA_R_16BF ? 2L : 4L) * v.length;
        long p = d.memAlloc(bytes);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(bytes, 4);
            for (int i = 0; i < v.length; i++) {
                if (type == CublasLt.CUDA_R_16BF) {
                    host.setAtIndex(ValueLayout.JAVA_SHORT, i, Floats.f32ToBf16(v[i]));
                } else {
                    host.setAtIndex(ValueLayout.JAVA_FLOAT, i, v[i]);
                }
            }
            d.copyHtoD(p, host, bytes);
        }
        return p;
    }

    @Test
    void cublasLtComputesTheColumnMajorGemmInF32AndBf16() {
        Random rnd = new Random(11);
        long m = 37, n = 21, k = 50;
        try (CublasLt lt = cublasLt()) {
            for (int type : new int[]{CublasLt.CUDA_R_32F, CublasLt.CUDA_R_16BF}) {
                for (boolean ta : new boolean[]{false, true}) {
                    for (boolean tb : new boolean[]{false, true}) {
                        long ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
                        float[] a = gaussian(rnd, ar * ac, 1), b = gaussian(rnd, br * bc, 1);
                        float[] c = gaussian(rnd, m * n, 1);
                        if (type == CublasLt.CUDA_R_16BF) {
                            a = BoundedOps.roundBf16(a);
                            b = BoundedOps.roundBf16(b);
                        }
                        float[] ab = GemmPlanTest.rowMajorGemm(ta, tb, a, ar, ac, b, br, bc);
                        float[] expected = new float[ab.length];
                        for (int i = 0; i < ab.length; i++) {
                            expected[i] = 0.75f * ab[i] + 0.5f * c[i];
                        }
                        float[] got = gemm(lt, type, ta, tb, a, ar, ac, b, br, bc, 0.75f, 0.5f, c);
                        Compare.assertClose("type " + type + " ta=" + ta + " tb=" + tb, expected, got, 1e-6);
                    }
                }
            }
        }
    }

    /** The GEMMs of the timing runs are checked but too large for the reference loop: such a GEMM leaves D as it was. */
    @Test
    void aGemmOverTheWorkLimitIsCheckedButNotComputed() {
        Random rnd = new Random(12);
        long m = 1024, n = 1024, k = 512;
        float[] c = gaussian(rnd, m * n, 1);
        try (CublasLt lt = cublasLt()) {
            float[] got = gemm(lt, CublasLt.CUDA_R_32F, false, false, gaussian(rnd, m * k, 1), m, k,
                    gaussian(rnd, k * n, 1), k, n, 1f, 1f, c);
            assertArrayEquals(c, got);
        }
    }

    private static CublasLt cublasLt() {
        return CublasLt.load(d, CudaStandIn.libraries(CudaStandIn.DIR));
    }
}
