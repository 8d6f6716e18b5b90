package dev.fluxerase.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The driver declarations we bind are exactly cuda.h's: a C file assigns each real function to a pointer of our declared
 * type and must compile without a warning (gcc treats a mismatched pointer type as one).
 */
class CudaDriverDeclarationsTest {

    static Path cudaInclude() {
        for (String p : List.of("/usr/local/cuda/include", "/usr/local/cuda/targets/x86_64-linux/include")) {
            if (Files.isRegularFile(Path.of(p, "cuda.h"))) {
                return Path.of(p);
            }
        }
        return null;
    }

    /** gcc's output when {@code c} (which includes cuda.h) does not compile cleanly, else null; skips without cuda.h or gcc. */
    private static String compileErrors(Path tmp, String c) throws Exception {
        Path include = cudaInclude();
        Assumptions.assumeTrue(include != null, "cuda.h not found under /usr/local/cuda: not checked against it");
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/gcc")), "gcc not found: not checked against cuda.h");
        Path src = tmp.resolve("check.c");
        Files.writeString(src, c);
        Process proc = new ProcessBuilder("/usr/bin/gcc", "-c", "-std=c11", "-Wall", "-Werror",
                "-Werror=incompatible-pointer-types", "-I", include.toString(), "-o", tmp.resolve("check.o").toString(),
                src.toString()).redirectErrorStream(true).start();
        assertTrue(proc.waitFor(60, TimeUnit.SECONDS), "gcc timed out");
        String out = new String(proc.getInputStream().readAllBytes());
        return proc.exitValue() == 0 ? null : out;
    }

    @Test
    void declarationsCompileAgainstCudaH(@TempDir Path tmp) throws Exception {
        StringBuilder c = new StringBuilder("#include <cuda.h>\n");
        int i = 0;
        for (String d : CudaDriver.DECLARATIONS) {
            NativeFunction.Parsed p = NativeFunction.parse(d, CudaDriver.TYPES);
            String args = p.argTypes().isEmpty() ? "void" : String.join(", ", p.argTypes());
            c.append(p.returnType()).append(" (*check").append(i++).append(")(").append(args).append(") = ")
                    .append(p.name()).append(";\n");
        }
        String errors = compileErrors(tmp, c.toString());
        assertNull(errors, "our declarations differ from cuda.h:\n" + errors + "\n" + c);
    }

    /** Each enum value we pass or compare is cuda.h's (a runtime-API code such as cudaErrorInsufficientDriver = 35 is not). */
    @Test
    void constantsAreCudaHs(@TempDir Path tmp) throws Exception {
        Map<String, Integer> ours = Map.of(
                "CUDA_ERROR_NO_DEVICE", CudaDriver.CUDA_ERROR_NO_DEVICE,
                "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", CudaDriver.CUDA_ERROR_UNSUPPORTED_PTX_VERSION,
                "CU_JIT_ERROR_LOG_BUFFER", CudaDriver.CU_JIT_ERROR_LOG_BUFFER,
                "CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES", CudaDriver.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                "CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT", CudaDriver.ATTR_MULTIPROCESSOR_COUNT,
                "CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR", CudaDriver.ATTR_COMPUTE_CAPABILITY_MAJOR,
                "CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR", CudaDriver.ATTR_COMPUTE_CAPABILITY_MINOR,
                "CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN", CudaDriver.ATTR_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                "CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES", CudaDriver.FUNC_ATTR_MAX_DYNAMIC_SHARED_SIZE_BYTES);
        StringBuilder c = new StringBuilder("#include <cuda.h>\n");
        ours.forEach((name, value) -> c.append("_Static_assert(").append(name).append(" == ").append(value).append(", \"")
                .append(name).append(" is not ").append(value).append("\");\n"));
        String errors = compileErrors(tmp, c.toString());
        assertNull(errors, "our constants differ from cuda.h:\n" + errors);
    }

    @Test
    void declarationsBecomeTheRightLayouts() {
        NativeFunction.Parsed p = NativeFunction.parse("CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr, const void*, size_t, CUstream)",
                CudaDriver.TYPES);
        assertEquals(FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS,
                ValueLayout.JAVA_LONG, ValueLayout.ADDRESS), p.descriptor());
        assertEquals("cuMemcpyHtoDAsync_v2", p.name());
        assertEquals(FunctionDescriptor.of(ValueLayout.JAVA_INT),
                NativeFunction.parse("CUresult cuCtxSynchronize(void)", CudaDriver.TYPES).descriptor());
        assertEquals(FunctionDescriptor.of(ValueLayout.JAVA_LONG),
                NativeFunction.parse("size_t cublasLtGetVersion(void)", CublasLt.TYPES).descriptor());
        for (String d : CublasLt.DECLARATIONS) {
            NativeFunction.parse(d, CublasLt.TYPES);
        }
        Map<String, java.lang.foreign.MemoryLayout> none = Map.of();
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> NativeFunction.parse("CUresult cuInit(CUflags)", none));
    }
}
