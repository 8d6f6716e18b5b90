package dev.fluxerase.bench;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;
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
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Attention at FLUX's shapes (24 heads of 128, batch 1), forward and backward: the CPU backend's streaming kernel
 * (FlashAttention-2 style, no L×L buffer) against a plain reference built from the same backend's GEMM and softmax,
 * one head at a time: S = scale·Q·Kᵀ, P = softmax(S), O = P·V, and in the backward dP = dO·Vᵀ, dS = P⊙(dP − rowsum),
 * dQ = scale·dS·K, dK = scale·dSᵀ·Q, dV = Pᵀ·dO. The {@code gflops} counter adds the nominal FLOPs (4·L²·D per head
 * forward, 8·L²·D backward; the streaming backward's recomputed scores are not counted), so its rate is comparable
 * with GemmBench's, which tools/attention-guard.sh does.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 4)
@Measurement(iterations = 3, time = 6)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "-Xmx8g"})
public class AttentionBench {
    static final int HEADS = 24;
    static final int DIM = 128;

    @Param({"512", "1280", "4608"})
    public int tokens;

    @Param({"streaming", "reference"})
    public String impl;

    private final CpuBackend be = new CpuBackend();
    private float scale;
    private Tensor q;
    private Tensor k;
    private Tensor v;
    private Tensor out;
    private Tensor lse;
    private Tensor dOut;
    private Tensor dq;
    private Tensor dk;
    private Tensor dv;
    /** The reference's one-head buffers [L, L]: probabilities, their gradient, the scores' gradient. */
    private Tensor s;
    private Tensor dp;
    private Tensor ds;

    @Setup(Level.Trial)
    public void setup() {
        scale = (float) (1 / Math.sqrt(DIM));
        SplittableRandom rnd = new SplittableRandom(3);
        q = random(rnd);
        k = random(rnd);
        v = random(rnd);
        dOut = random(rnd);
        out = be.allocate(DType.F32, 1, HEADS, tokens, DIM);
        lse = be.allocate(DType.F32, 1, HEADS, tokens);
        dq = be.allocate(DType.F32, 1, HEADS, tokens, DIM);
        dk = be.allocate(DType.F32, 1, HEADS, tokens, DIM);
        dv = be.allocate(DType.F32, 1, HEADS, tokens, DIM);
        if (impl.equals("reference")) {
            s = be.allocate(DType.F32, tokens, tokens);
            dp = be.allocate(DType.F32, tokens, tokens);
            ds = be.allocate(DType.F32, tokens, tokens);
        }
        // the backward reads the forward's out and lse
        be.attention(q, k, v, out, lse, null, scale);
    }

    private Tensor random(SplittableRandom rnd) {
        float[] x = new float[HEADS * tokens * DIM];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (rnd.nextDouble() * 2 - 1);
        }
        return be.upload(x, 1, HEADS, tokens, DIM);
    }

    private Tensor head(Tensor t, int h) {
        return t.view((long) HEADS * tokens, DIM).sliceRows((long) h * tokens, tokens);
    }

    @Benchmark
    public Tensor forward(GemmBench.Flops flops) {
        if (impl.equals("streaming")) {
            be.attention(q, k, v, out, lse, null, scale);
        } else {
            for (int h = 0; h < HEADS; h++) {
                be.gemm(false, true, scale, head(q, h), head(k, h), 0f, s);
                be.softmax(s, s);
                be.gemm(false, false, 1f, s, head(v, h), 0f, head(out, h));
            }
        }
        flops.gflops += 4.0 * tokens * tokens * DIM * HEADS / 1e9;
        return out;
    }

    @Benchmark
    public Tensor backward(GemmBench.Flops flops) {
        be.fill(dq, 0f);
        be.fill(dk, 0f);
        be.fill(dv, 0f);
        if (impl.equals("streaming")) {
            be.attentionBackward(dOut, q, k, v, out, lse, dq, dk, dv, scale);
        } else {
            for (int h = 0; h < HEADS; h++) {
                be.gemm(false, true, scale, head(q, h), head(k, h), 0f, s);
                be.softmax(s, s);
                be.gemm(true, false, 1f, s, head(dOut, h), 1f, head(dv, h));
                be.gemm(false, true, 1f, head(dOut, h), head(v, h), 0f, dp);
                // softmaxBackward adds into its output
                be.fill(ds, 0f);
                be.softmaxBackward(dp, s, ds);
                be.gemm(false, false, scale, ds, head(k, h), 1f, head(dq, h));
                be.gemm(true, false, scale, ds, head(q, h), 1f, head(dk, h));
            }
        }
        flops.gflops += 8.0 * tokens * tokens * DIM * HEADS / 1e9;
        return dq;
    }
}
