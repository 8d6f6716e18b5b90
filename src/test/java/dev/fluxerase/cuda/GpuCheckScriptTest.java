package dev.fluxerase.cuda;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.testing.ErrorBounds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.AssertionFailedError;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * tools/gpu-check.sh on this machine, which has no GPU: whatever happens, $OUT ends up with a complete summary.json and
 * at most the 8 files the device tool brings back. The GPU machine is lent rarely and briefly, so the script's plumbing
 * is tried here. Needs bash, tar and python3 (skipped otherwise).
 */
class GpuCheckScriptTest {
    private static final Path SCRIPT = Path.of("tools/gpu-check.sh");
    private static final Set<String> RETURNED = Set.of("summary.json", "tests.log", "gpu-check.tar.gz");

    private record Run(int exit, String output, JsonNode summary, Set<String> files) {
    }

    private static Run run(Path out, String... args) throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")) || Files.isExecutable(Path.of("/bin/python3"))
                || onPath("python3"), "python3 not found: gpu-check.sh not tried");
        List<String> cmd = new ArrayList<>(List.of("bash", SCRIPT.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("OUT", out.toString());
        pb.environment().remove(CudaLibraries.DIR_ENV);
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "gpu-check.sh timed out:\n" + output);
        Set<String> files;
        try (Stream<Path> s = Files.list(out)) {
            files = s.map(f -> f.getFileName().toString()).collect(Collectors.toSet());
        }
        JsonNode summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
        return new Run(p.exitValue(), output, summary, files);
    }

    private static boolean onPath(String exe) {
        return Stream.of(System.getenv().getOrDefault("PATH", "").split(":"))
                .anyMatch(d -> !d.isEmpty() && Files.isExecutable(Path.of(d, exe)));
    }

    private static List<String> steps(JsonNode summary) {
        List<String> names = new ArrayList<>();
        summary.get("steps").forEach(s -> names.add(s.get("step").asText()));
        return names;
    }

    @Test
    void syntaxIsValid() throws Exception {
        Process p = new ProcessBuilder("bash", "-n", SCRIPT.toString()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), output);
    }

    @Test
    void withoutTheRuntimeItStopsAndStillWritesTheSummary(@TempDir Path tmp) throws Exception {
        Run r = run(tmp, tmp.resolve("no-such-runtime.tar.gz").toString());
        assertEquals(2, r.exit(), r.output());
        assertEquals(Set.of("summary.json", "gpu-check.tar.gz"), r.files(), r.output());
        assertTrue(r.summary().get("finished").asBoolean());
        assertTrue(r.summary().get("stopped").asText().startsWith("could not unpack "), r.summary().toString());
        assertEquals(List.of("unpack"), steps(r.summary()));
    }

    /**
     * A runtime made of links to this build (this JDK, target/test-classes, the JUnit console jar) and, for the shaded
     * jar, a {@link #manifestJar} of target/classes and the dependencies.
     */
    private static Optional<Path> runtimeOfThisBuild(Path tmp) throws Exception {
        Path m2 = Path.of(System.getProperty("user.home"), ".m2/repository/org/junit/platform/junit-platform-console-standalone");
        if (!Files.isDirectory(m2) || !Files.isDirectory(Path.of("target/classes"))) {
            return Optional.empty();
        }
        Optional<Path> console;
        try (Stream<Path> s = Files.walk(m2)) {
            console = s.filter(f -> f.getFileName().toString().matches("junit-platform-console-standalone-[0-9.]+\\.jar"))
                    .findFirst();
        }
        if (console.isEmpty()) {
            return Optional.empty();
        }
        Path rt = Files.createDirectories(tmp.resolve("rt/flux-erase-runtime/lib"));
        Files.createSymbolicLink(rt.resolve(console.get().getFileName()), console.get().toAbsolutePath());
        manifestJar(rt.resolve("flux-erase.jar"));
        Files.createSymbolicLink(rt.resolveSibling("test-classes"), Path.of("target/test-classes").toAbsolutePath());
        Files.createSymbolicLink(rt.resolveSibling("java"), Path.of(System.getProperty("java.home")));
        Path tarball = tmp.resolve("runtime.tar.gz");
        Process p = new ProcessBuilder("tar", "-czf", tarball.toString(), "-C", tmp.resolve("rt").toString(),
                "flux-erase-runtime").inheritIO().start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "tar failed");
        // The tarball keeps the links; removing them here spares JUnit's warning about links out of the temp folder.
        try (Stream<Path> s = Files.walk(tmp.resolve("rt"))) {
            for (Path f : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
        return Optional.of(tarball);
    }

    /**
     * A jar of nothing but a manifest whose Class-Path is target/classes and this JVM's class path (a surefire
     * manifest-only jar read out), less JUnit's and Jazzer's jars, which the console launcher must not see twice: what
     * the shaded jar holds, so that test classes that use the dependencies (CudaEraseTest) load.
     */
    private static void manifestJar(Path jar) throws Exception {
        Set<String> entries = new LinkedHashSet<>(List.of(Path.of("target/classes").toAbsolutePath().toUri().toString()));
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            URI entry = Path.of(e).toAbsolutePath().toUri();
            List<URI> expanded = new ArrayList<>(List.of(entry));
            if (Path.of(entry).getFileName().toString().startsWith("surefire")) {
                try (JarFile booter = new JarFile(Path.of(entry).toFile())) {
                    String listed = booter.getManifest().getMainAttributes().getValue(Attributes.Name.CLASS_PATH);
                    expanded.clear();
                    for (String u : listed.trim().split("\\s+")) {
                        expanded.add(entry.resolve(u));
                    }
                }
            }
            for (URI u : expanded) {
                if (!Path.of(u).getFileName().toString().matches("(junit-|opentest4j|apiguardian|jazzer).*")) {
                    entries.add(u.toString());
                }
            }
        }
        Manifest m = new Manifest();
        m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        m.getMainAttributes().put(Attributes.Name.CLASS_PATH, String.join(" ", entries));
        new JarOutputStream(Files.newOutputStream(jar), m).close();
    }

    /** gpu-check.sh with {@link #runtimeOfThisBuild}, where there is no usable GPU; {@code --keep-going} if asked. */
    private static Run runWithoutGpu(Path tmp, boolean keepGoing) throws Exception {
        Optional<Path> tarball = runtimeOfThisBuild(tmp);
        assumeTrue(tarball.isPresent(), "no JUnit console jar in ~/.m2 (tools/build-gpu-runtime.sh fetches it)");
        assumeTrue(CudaGpu.unavailableReason() != null, "this machine has a usable GPU");
        Path out = Files.createDirectories(tmp.resolve("out"));
        return keepGoing ? run(out, "--keep-going", tarball.get().toString()) : run(out, tarball.get().toString());
    }

    @Test
    void withoutCudaItStopsAfterTheReportSayingWhatIsMissing(@TempDir Path tmp) throws Exception {
        Run r = runWithoutGpu(tmp, false);
        assertEquals(2, r.exit(), r.output());
        assertEquals(List.of("unpack", "nvidia_smi", "python_libs", "report"), steps(r.summary()));
        String stopped = r.summary().get("stopped").asText();
        assertTrue(stopped.startsWith("missing ") && stopped.contains("cuBLASLt") && r.output().contains(stopped), stopped);
        assertTrue(r.summary().get("libraries").has("cublasLt"), r.summary().toString());
        assertTrue(RETURNED.containsAll(r.files()), r.files().toString());
    }

    @Test
    void keepGoingRunsEveryStepAndReturnsThreeFiles(@TempDir Path tmp) throws Exception {
        Run r = runWithoutGpu(tmp, true);
        Path out = tmp.resolve("out");
        assertEquals(2, r.exit(), r.output());
        assertEquals(RETURNED, r.files(), r.output());
        JsonNode s = r.summary();
        assertEquals(List.of("unpack", "nvidia_smi", "python_libs", "report", "torch_check", "tests", "flux_blocks",
                "torch_blocks", "flux_model", "erase_model", "timing", "torch_ops", "memcheck"), steps(s));
        assertTrue(s.get("finished").asBoolean());
        assertEquals(420, s.get("budget_s").asInt());
        JsonNode tests = s.get("junit").get("tests");
        assertTrue(tests.get("tests").asInt() > 0 && tests.get("skipped").asInt() == tests.get("tests").asInt(),
                tests.toString());
        assertTrue(s.get("outcome").asText().contains("GPU tests were skipped"), s.toString());
        // one JVM per class: each class reports its own exit in tests.log
        String log = Files.readString(out.resolve("tests.log"));
        for (String c : List.of("CudaDriverTest", "CudaBackendParityTest", "CudaAttentionTest", "CudaFluxGoldenTest",
                "CudaEraseTest")) {
            assertTrue(log.contains("gpu-check: test class " + c + ": exit 0"), c + " in\n" + log);
        }
        JsonNode memcheck = s.get("steps").get(s.get("steps").size() - 1);
        // without a GPU the memcheck step is skipped, with the reason (no compute-sanitizer, or no usable GPU)
        assertTrue(memcheck.has("skipped") && memcheck.get("exit").isNull(), memcheck.toString());
        for (JsonNode step : s.get("steps")) {
            assertTrue(step.get("limit").asInt() <= 240, step.toString());
        }
        Process list = new ProcessBuilder("tar", "-tzf", out.resolve("gpu-check.tar.gz").toString()).start();
        String archived = new String(list.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(list.waitFor(30, TimeUnit.SECONDS));
        for (String f : List.of("gpu-check/cuda-report.txt", "gpu-check/steps.jsonl", "gpu-check/timing.log",
                "gpu-check/flux-model.log", "gpu-check/erase-model.log", "gpu-check/junit-tests/", "gpu-check/junit-tests/CudaDriverTest/",
                "gpu-check/junit-tests/CudaFluxGoldenTest/")) {
            assertTrue(archived.lines().anyMatch(f::equals), f + " not in the archive:\n" + archived);
        }
    }

    /**
     * gpu_check_summary.py collects the tests' BOUND lines from tests.log into summary.json's bounds, closest to its
     * bound first: the lines ErrorBounds prints (a failed check's too, and a NaN result's), among other output.
     */
    @Test
    void summaryCollectsTheBoundLinesClosestFirst(@TempDir Path tmp) throws Exception {
        assumeTrue(onPath("python3"), "python3 not found");
        PrintStream out = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
        try {
            ErrorBounds.check("gemm f32 ta=false tb=true", new float[]{2, -4}, new float[]{2, -4.0001f}, 1e-3);
            ErrorBounds.check("flash attention lq=1 lk=1 d=128 lse", new float[]{10}, new float[]{10.001f}, 2e-3);
            assertThrows(AssertionFailedError.class,
                    () -> ErrorBounds.check("silu", new float[]{1}, new float[]{Float.NaN}, 1));
        } finally {
            System.setOut(out);
        }
        Path work = Files.createDirectories(tmp.resolve("work"));
        Files.writeString(work.resolve("tests.log"), "gpu-check: test class CudaBackendParityTest\n"
                + printed.toString(StandardCharsets.UTF_8) + "│  ├─ norms() ✔\n");
        Process p = new ProcessBuilder("python3", "tools/gpu/gpu_check_summary.py", work.toString(),
                tmp.resolve("summary.json").toString(), "420").redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, log);
        JsonNode bounds = new ObjectMapper().readTree(tmp.resolve("summary.json").toFile()).get("bounds");
        List<String> names = new ArrayList<>();
        bounds.forEach(b -> names.add(b.get("name").asText()));
        assertEquals(List.of("silu", "flash attention lq=1 lk=1 d=128 lse", "gemm f32 ta=false tb=true"), names);
        assertTrue(bounds.get(0).get("measured").isNull() && bounds.get(0).get("ratio").isNull(), bounds.toString());
        JsonNode lse = bounds.get(1);
        assertEquals(2e-4, lse.get("bound").asDouble(), 1e-7);
        assertEquals(lse.get("measured").asDouble() / lse.get("bound").asDouble(), lse.get("ratio").asDouble(), 1e-3);
        assertTrue(lse.get("ratio").asDouble() > bounds.get(2).get("ratio").asDouble(), bounds.toString());
    }

    /**
     * The full-size erase figures: FullSizeEraseTiming's lines land in erase_model, its steps' seconds per
     * forward-equivalent and the run times they give in erase_projection, and CudaEraseTest's LoRA bound lines in
     * bounds and erase_tiny.
     */
    @Test
    void summaryCarriesTheEraseFiguresAndTheirProjection(@TempDir Path tmp) throws Exception {
        assumeTrue(onPath("python3"), "python3 not found");
        Path work = Files.createDirectories(tmp.resolve("work"));
        Files.writeString(work.resolve("erase-model.log"), """
                loading
                ERASE_TIMING {"phase":"erase_step","forward_equivalents":19,"seconds":9.5,"peak_bytes":45000000000}
                ERASE_TIMING {"phase":"preservation_step","forward_equivalents":59,"seconds":29.5,"peak_bytes":46000000000}
                ERASE_TIMING {"phase":"generate","steps":4,"seconds":2.0,"first_s":3.0,"peak_bytes":30000000000}
                """);
        Files.writeString(work.resolve("tests.log"), """
                CudaEraseTest step 0: esd 1.0 (cpu 1.0), attn 2.0 (cpu 2.0), bound 5e-2
                BOUND CudaEraseTest lora_B change vs cpu (relative l2) measured=1.000e-01 bound=5.000e-01 ratio=0.2
                """);
        Process p = new ProcessBuilder("python3", "tools/gpu/gpu_check_summary.py", work.toString(),
                tmp.resolve("summary.json").toString(), "420").redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, log);
        JsonNode s = new ObjectMapper().readTree(tmp.resolve("summary.json").toFile());
        assertEquals(3, s.get("erase_model").size(), s.toString());
        assertEquals("generate", s.get("erase_model").get(2).get("phase").asText());
        JsonNode proj = s.get("erase_projection");
        // (9.5 + 29.5) s / (19 + 59) = 0.5 s per forward-equivalent; 1000 x 41 x 0.5 s and 200 x 48 x 0.5 s
        assertEquals(78, proj.get("forward_equivalents").asInt());
        assertEquals(0.5, proj.get("s_per_forward_equivalent").asDouble(), 1e-9);
        assertEquals(1000 * 41 * 0.5 / 3600, proj.get("paper_1000_steps_h").asDouble(), 1e-3);
        assertEquals(200 * 48 * 0.5 / 3600, proj.get("released_200_steps_h").asDouble(), 1e-3);
        assertEquals(46_000_000_000L, proj.get("peak_bytes").asLong());
        assertEquals("CudaEraseTest lora_B change vs cpu (relative l2)", s.get("bounds").get(0).get("name").asText());
        assertEquals(2, s.get("erase_tiny").size(), s.get("erase_tiny").toString());
    }
}
