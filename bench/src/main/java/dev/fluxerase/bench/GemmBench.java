package dev.fluxerase.bench;

import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * CpuGemm at 2048³ and at FLUX shapes (M×K×N: 1280 tokens, hidden 3072, MLP 12288), for f32 a·b and the Linear forward
 * x·Wᵀ with F32 or BF16 weights. The primary score is GEMMs per second; the {@code gflops} line is the GFLOP/s: the
 * {@link Flops} counter adds 2·M·N·K/10⁹ per GEMM and JMH divides it by the measured time.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 5, time = 4)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "-Xmx8g"})
public class GemmBench {
    @Param({"2048x2048x2048", "1280x3072x3072", "1280x3072x12288"})
    public String shape;

    @Param({"f32", "f32-wt", "bf16-wt", "bf16-frozen"})
    public String kind;

    private GemmCase gemm;

    /** GFLOP done, reported by JMH per second of measured time. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Flops {
        public double gflops;
    }

    @Setup(Level.Trial)
    public void setup() {
        gemm = new GemmCase(shape, kind);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        gemm.close();
    }

    @Benchmark
    public float gemm(Flops flops) {
        gemm.run();
        flops.gflops += gemm.flops() / 1e9;
        return gemm.probe();
    }
}
