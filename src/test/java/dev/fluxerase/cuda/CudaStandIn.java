package dev.fluxerase.cuda;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The stand-in CUDA libraries of tools/cuda-standin (docs/cuda.md): built once per JVM with the system C compiler into
 * target/cuda-standin, and the launch log they keep.
 */
final class CudaStandIn {
    static final Path SOURCES = Path.of("tools/cuda-standin");
    static final Path DIR = Path.of("target/cuda-standin");
    /** How the stand-in driver names its device, which is how a test knows it is not on a GPU. */
    static final String DEVICE_NAME = "flux-erase CUDA stand-in";
    /** build.sh's exit status when there is no C compiler. */
    private static final int NO_COMPILER = 3;

    /** The stand-in could not be built here (no C compiler): a reason to skip, not a failure. */
    static final class NotBuilt extends Exception {
        NotBuilt(String message) {
            super(message);
        }
    }

    private static Object built;

    private CudaStandIn() {
    }

    /** The folder holding libcuda.so.1 and libcublasLt.so.13; a build that fails for another reason fails the test. */
    static synchronized Path build() throws NotBuilt {
        if (built == null) {
            built = runBuild();
        }
        if (built instanceof NotBuilt e) {
            throw e;
        }
        return (Path) built;
    }

    private static Object runBuild() {
        try {
            Process p = new ProcessBuilder("bash", SOURCES.resolve("build.sh").toString(), DIR.toString())
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("tools/cuda-standin/build.sh timed out");
            }
            if (p.exitValue() == NO_COMPILER) {
                return new NotBuilt(out);
            }
            if (p.exitValue() != 0) {
                throw new IllegalStateException("tools/cuda-standin/build.sh failed:\n" + out);
            }
            return DIR.toAbsolutePath();
        } catch (IOException e) {
            return new NotBuilt("bash could not be run to build the CUDA stand-in: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The libraries in {@code dir} first, as -Dflux.erase.cuda.lib.dir would put them. */
    static CudaLibraries libraries(Path dir) {
        return new CudaLibraries(Map.of(), dir.toString(), Path.of(System.getProperty("user.home", "/root")),
                Path.of("/"));
    }

    static boolean is(CudaDriver d) {
        return d.deviceName(d.device(0)).startsWith(DEVICE_NAME);
    }

    /** One launch the stand-in accepted: its entry, grid, block and dynamic shared memory. */
    record Launch(String name, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ, int sharedBytes) {
    }

    private static final List<String> LOG_DECLARATIONS = List.of(
            "size_t standin_launch_count(void)",
            "int standin_launch(size_t, char*, int, unsigned int*)");

    private static NativeFunction logFunction(CudaDriver d, int which) {
        SymbolLookup lib = SymbolLookup.libraryLookup(Path.of(d.libraryPath()), Arena.global());
        return NativeFunction.bind(lib, d.libraryPath(), LOG_DECLARATIONS.get(which), Map.of());
    }

    /** How many launches the stand-in {@code d} has accepted so far. */
    static long launchCount(CudaDriver d) {
        try {
            return (long) logFunction(d, 0).handle().invokeExact();
        } catch (Throwable t) {
            throw CudaDriver.rethrow("standin_launch_count", t);
        }
    }

    /** The launches accepted since the {@code from}-th. */
    static List<Launch> launches(CudaDriver d, long from) {
        NativeFunction f = logFunction(d, 1);
        List<Launch> out = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment name = a.allocate(128);
            MemorySegment g = a.allocate(ValueLayout.JAVA_INT, 7);
            for (long i = from; (int) f.handle().invokeExact(i, name, 128, g) == 0; i++) {
                int[] v = g.toArray(ValueLayout.JAVA_INT);
                out.add(new Launch(name.getString(0), v[0], v[1], v[2], v[3], v[4], v[5], v[6]));
            }
        } catch (Throwable t) {
            throw CudaDriver.rethrow("standin_launch", t);
        }
        return out;
    }
}
