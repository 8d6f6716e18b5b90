package dev.fluxerase.pipeline;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.cpu.NaiveBackend;
import dev.fluxerase.cuda.CudaBackend;
import dev.fluxerase.cuda.CudaException;
import dev.fluxerase.tensor.Backend;

import java.util.List;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The {@code --backend} choice: auto (the GPU when one is usable, else the CPU), cuda, cpu or naive. The choice and
 * why it was made go to {@code report} before any work, so a run on the CPU by accident is visible at once.
 */
public final class Backends {
    public static final List<String> NAMES = List.of("auto", "cuda", "cpu", "naive");

    private Backends() {
    }

    /**
     * The backend {@code name} selects, with the GPU opened through {@code cuda}: {@link #gpu} in {@link #open(String,
     * Consumer)}, a test's stand-in or fake elsewhere.
     */
    public static Backend open(String name, Consumer<String> report, Supplier<Backend> cuda) {
        switch (name) {
            case "cpu" -> {
                return new CpuBackend();
            }
            case "naive" -> {
                return new NaiveBackend();
            }
            case "cuda" -> {
                try {
                    Backend b = cuda.get();
                    report.accept("backend " + b.name());
                    return b;
                } catch (CudaException e) {
                    throw new PipelineException("--backend cuda: " + e.getMessage() + " (--backend cpu runs on the "
                            + "CPU)");
                }
            }
            case "auto" -> {
                try {
                    Backend b = cuda.get();
                    report.accept("backend " + b.name() + " (auto: a usable GPU was found)");
                    return b;
                } catch (CudaException e) {
                    report.accept("backend cpu (auto: " + e.getMessage() + ")");
                    return new CpuBackend();
                }
            }
            default -> throw new PipelineException("--backend " + name + ": unknown (" + String.join(", ", NAMES)
                    + ")");
        }
    }

    public static Backend open(String name, Consumer<String> report) {
        return open(name, report, Backends::gpu);
    }

    /** The first GPU, through the CUDA driver and cuBLASLt that this machine's library search finds. */
    public static Backend gpu() {
        return new CudaBackend();
    }

    /** For work that is not wired to the GPU yet ({@code what}, e.g. "demo"): cpu or naive only. */
    public static Backend host(String name, String what) {
        return switch (name) {
            case "cpu" -> new CpuBackend();
            case "naive" -> new NaiveBackend();
            default -> throw new PipelineException("--backend " + name + ": " + what + " runs on cpu or naive");
        };
    }
}
