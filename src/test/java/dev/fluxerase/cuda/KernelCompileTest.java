package dev.fluxerase.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Compiles every kernels/*.cu with nvcc (flags of kernels/nvcc-flags.txt, warnings are errors), assembles the PTX for
 * sm_80 and sm_90 with ptxas (warnings, spills and local memory are errors), and, when this nvcc is the one that made
 * the shipped PTX, checks the shipped PTX is byte for byte what the sources give. Two nvcc processes at a time.
 */
class KernelCompileTest {
    private static final List<String> ARCHS = List.of("sm_80", "sm_90");

    static Path nvcc() {
        List<Path> candidates = new ArrayList<>();
        String env = System.getenv("NVCC");
        if (env != null && !env.isBlank()) {
            candidates.add(Path.of(env));
        }
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isBlank()) {
                candidates.add(Path.of(dir, "nvcc"));
            }
        }
        candidates.add(Path.of("/usr/local/cuda/bin/nvcc"));
        return candidates.stream().filter(Files::isExecutable).findFirst().orElse(null);
    }

    private record Result(String family, String log) {
    }

    private static String run(List<String> cmd, Path log) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return "timed out: " + String.join(" ", cmd);
        }
        String out = Files.readString(log, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            return "exit " + p.exitValue() + ": " + String.join(" ", cmd) + "\n" + out;
        }
        if (out.toLowerCase(java.util.Locale.ROOT).contains("warning")) {
            return "warning: " + String.join(" ", cmd) + "\n" + out;
        }
        return null;
    }

    private static Result compile(Path nvcc, String family, Path tmp) throws IOException, InterruptedException {
        Path ptx = tmp.resolve(family + ".ptx");
        List<String> cmd = new ArrayList<>(List.of(nvcc.toString()));
        cmd.addAll(KernelSources.nvccFlags());
        cmd.addAll(List.of("-I", KernelSources.DIR.toString(), "-o", ptx.toString(),
                KernelSources.DIR.resolve(family + ".cu").toString()));
        String err = run(cmd, tmp.resolve(family + ".nvcc.log"));
        if (err != null) {
            return new Result(family, err);
        }
        for (String arch : ARCHS) {
            err = run(List.of(nvcc.toString(), "-cubin", "-arch=" + arch, "-Xptxas", "-Werror,-warn-spills,-warn-lmem-usage",
                    "-o", tmp.resolve(family + "." + arch + ".cubin").toString(), ptx.toString()),
                    tmp.resolve(family + "." + arch + ".log"));
            if (err != null) {
                return new Result(family, err);
            }
        }
        return new Result(family, null);
    }

    private static String toolsLine(String ptx) {
        return ptx.lines().filter(l -> l.startsWith("// Cuda compilation tools")).findFirst().orElse("?");
    }

    @Test
    @Timeout(value = 110, unit = TimeUnit.SECONDS)
    void everyKernelCompilesForSm80AndSm90WithoutWarnings(@TempDir Path tmp) throws Exception {
        Path nvcc = nvcc();
        Assumptions.assumeTrue(nvcc != null, "nvcc not found (PATH, $NVCC, /usr/local/cuda/bin): kernels not compiled");
        long t0 = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        List<Future<Result>> jobs = new ArrayList<>();
        try {
            for (String family : KernelSources.families()) {
                jobs.add(pool.submit(() -> compile(nvcc, family, tmp)));
            }
            List<String> failures = new ArrayList<>();
            for (Future<Result> f : jobs) {
                Result r = f.get();
                if (r.log() != null) {
                    failures.add(r.family() + ".cu: " + r.log());
                }
            }
            if (!failures.isEmpty()) {
                fail(String.join("\n", failures));
            }
        } finally {
            pool.shutdownNow();
        }
        System.out.printf("KernelCompileTest: %d families, nvcc + ptxas %s in %.1f s%n", jobs.size(), ARCHS,
                (System.nanoTime() - t0) / 1e9);

        for (String family : KernelSources.families()) {
            String fresh = Files.readString(tmp.resolve(family + ".ptx"), StandardCharsets.US_ASCII);
            String shipped = KernelSources.shippedPtx(family);
            String body = shipped.substring(shipped.indexOf('\n') + 1);
            if (toolsLine(fresh).equals(toolsLine(body))) {
                assertEquals(fresh, body, family + ".ptx differs from what its sources compile to: run kernels/build-ptx.sh");
            } else {
                System.out.println("KernelCompileTest: " + family + ".ptx was made by " + toolsLine(body)
                        + ", this nvcc is " + toolsLine(fresh) + "; byte comparison skipped (source hashes still checked)");
            }
            assertTrue(fresh.contains(".target sm_80"), family + ".ptx targets sm_80");
        }
    }
}
