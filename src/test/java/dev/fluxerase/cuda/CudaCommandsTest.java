package dev.fluxerase.cuda;

import dev.fluxerase.cli.CliRun;
import dev.fluxerase.image.Png;
import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.testing.Resources;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The commands wired to the GPU, run with {@code --backend cuda} on the stand-in CUDA libraries, each in a JVM of its
 * own that finds them through -Dflux.erase.cuda.lib.dir as a user's would find a driver: the whole command runs, every
 * launch checked against the limits, and writes what the CPU run writes, with the same names and shapes. The values
 * are not compared: the stand-in runs no kernel, so they are not what a GPU computes (CudaFluxGoldenTest compares
 * them on a GPU).
 */
class CudaCommandsTest {
    private static final Path FLUX_TINY = Resources.path("golden/flux-tiny");

    @TempDir
    Path tmp;

    /** The command's output (stdout and stderr) when it exits 0 on the stand-in. */
    private static String onStandIn(String... args) throws Exception {
        Path dir;
        try {
            dir = CudaStandIn.build();
        } catch (CudaStandIn.NotBuilt e) {
            Assumptions.abort(e.getMessage());
            return null;
        }
        Process p = new ProcessBuilder(CliRun.inOwnJvm(List.of("-D" + CudaLibraries.DIR_PROPERTY + "=" + dir),
                List.of(args))).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "timed out");
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("backend cuda:" + CudaStandIn.DEVICE_NAME), out);
        return out;
    }

    private static Map<String, List<Long>> shapes(Path file) {
        Map<String, List<Long>> out = new TreeMap<>();
        try (TensorSource s = Safetensors.open(file)) {
            for (String n : s.names()) {
                out.put(n, java.util.Arrays.stream(s.info(n).shape()).boxed().toList());
            }
        }
        return out;
    }

    @Test
    void forwardWithLoraGradientsAndAttention() throws Exception {
        String[] common = {"forward", "--weights", FLUX_TINY.resolve("weights_bfl.safetensors").toString(), "--config",
                FLUX_TINY.resolve("config.json").toString(), "--inputs", FLUX_TINY.resolve("inputs.safetensors").toString(),
                "--lora", FLUX_TINY.resolve("lora_weights.safetensors").toString(), "--grad", "--attention",
                "--checkpointing", "--output"};
        Path cpu = tmp.resolve("cpu.safetensors"), cuda = tmp.resolve("cuda.safetensors");
        CliRun r = CliRun.of(concat(common, cpu.toString(), "--backend", "cpu"));
        assertEquals(0, r.exit(), r.err());
        onStandIn(concat(common, cuda.toString(), "--backend", "cuda"));
        assertEquals(shapes(cpu), shapes(cuda));
    }

    @Test
    void generateWritesTheImage() throws Exception {
        Path png = tmp.resolve("cat.png");
        String out = onStandIn("generate", "--model", Resources.path("pipeline-tiny/model").toString(), "--cache-dir",
                tmp.resolve("cache").toString(), "--prompt", "a cat", "--steps", "2", "--width", "32", "--height",
                "16", "--out", png.toString(), "--backend", "cuda");
        assertTrue(out.contains("wrote " + png + " (32x16, 2 steps"), out);
        assertEquals(32, Png.read(png).width());
        assertEquals(16, Png.read(png).height());
    }

    private static String[] concat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
