package dev.fluxerase.cuda;

import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the CUDA backend would run on here: the driver, each GPU, the libraries it binds and where they were found, and
 * the kernels it ships. {@link #report()} is the text that {@code flux-erase doctor} prints; it never throws.
 */
public final class CudaRuntimeInfo {
    private CudaRuntimeInfo() {
    }

    public static String report() {
        return report(CudaLibraries.system());
    }

    /** Prints {@link #report()} (tools/gpu-check.sh runs this before the GPU tests). */
    public static void main(String[] args) {
        System.out.print(report());
    }

    static String report(CudaLibraries libs) {
        StringBuilder sb = new StringBuilder("CUDA\n");
        int driverVersion = -1;
        try {
            CudaDriver d = CudaDriver.get();
            driverVersion = d.driverVersion();
            sb.append("  driver: libcuda.so.1 at ").append(d.libraryPath()).append(", CUDA ")
                    .append(driverVersion / 1000).append('.').append(driverVersion % 1000 / 10).append('\n');
            int n = d.deviceCount();
            for (int i = 0; i < n; i++) {
                int dev = d.device(i);
                sb.append(String.format("  GPU %d: %s, %.1f GiB, compute capability %d.%d, %d SMs%n", i, d.deviceName(dev),
                        d.totalMemory(dev) / (double) (1L << 30),
                        d.attribute(dev, CudaDriver.ATTR_COMPUTE_CAPABILITY_MAJOR),
                        d.attribute(dev, CudaDriver.ATTR_COMPUTE_CAPABILITY_MINOR),
                        d.attribute(dev, CudaDriver.ATTR_MULTIPROCESSOR_COUNT)));
            }
        } catch (CudaException e) {
            sb.append("  ").append(e.getMessage()).append('\n');
        } catch (RuntimeException e) {
            sb.append("  no CUDA driver: ").append(e).append('\n');
        }
        List<Integer> majors = driverVersion > 0 ? CublasLt.preferredMajors(driverVersion) : List.of(13, 12);
        sb.append("  cuBLASLt: ").append(describe(libs.find("libcublasLt", majors))).append('\n');
        sb.append("  kernels: ").append(kernelsLine()).append('\n');
        sb.append("  library search path:");
        List<CudaLibraries.SearchDir> dirs = libs.searchDirs();
        if (dirs.isEmpty()) {
            sb.append(" (none of the known folders exists)");
        }
        for (CudaLibraries.SearchDir d : dirs) {
            sb.append("\n    ").append(d.dir()).append(" (").append(d.origin()).append(')');
        }
        return sb.append('\n').toString();
    }

    private static String describe(Optional<CudaLibraries.Found> f) {
        return f.map(x -> x.fileName() + " at " + x.path() + " (" + x.origin() + ")").orElse("not found");
    }

    /** Module count and the PTX ISA / target of the shipped kernels, read from their headers. */
    static String kernelsLine() {
        List<String> families = Kernel.families();
        try {
            String ptx = new String(CudaKernels.ptx(families.getFirst()), java.nio.charset.StandardCharsets.US_ASCII);
            Matcher version = Pattern.compile("(?m)^\\.version (\\S+)").matcher(ptx);
            Matcher target = Pattern.compile("(?m)^\\.target (\\S+)").matcher(ptx);
            Matcher tools = Pattern.compile("(?m)^// Cuda compilation tools, (.*)$").matcher(ptx);
            return families.size() + " PTX modules (" + String.join(", ", families) + "), PTX ISA "
                    + (version.find() ? version.group(1) : "?") + " for " + (target.find() ? target.group(1) : "?")
                    + " and newer, from " + (tools.find() ? tools.group(1) : "an unknown nvcc")
                    + "; the driver JIT-compiles them once and caches the result";
        } catch (RuntimeException e) {
            return "missing: " + e.getMessage();
        }
    }
}
