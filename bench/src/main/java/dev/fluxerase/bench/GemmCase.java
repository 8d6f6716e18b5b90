package dev.fluxerase.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.cpu.CpuGemm;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

/**
 * One GEMM to time, M×K×N. Kinds: {@code f32} is c = a·b with a [M,K], b [K,N] (what numpy's a @ b computes);
 * {@code f32-wt} and {@code bf16-wt} are the Linear forward y = x·Wᵀ with W [N,K] in F32 or BF16; {@code bf16-frozen} is
 * bf16-wt with W marked frozen, through a {@link CpuBackend} that keeps it packed (packed on the first call). Activations
 * live on the heap, weights in native memory as they do when read in place from a mapped safetensors file.
 */
public final class GemmCase implements AutoCloseable {
    public final long m;
    public final long k;
    public final long n;
    public final String kind;
    private final Arena arena = Arena.ofShared();
    private final Tensor a;
    private final Tensor b;
    private final Tensor c;
    private final boolean transB;
    /** The backend that keeps frozen weights packed, for bf16-frozen; null for the others. */
    private final CpuBackend cached;

    public GemmCase(String shape, String kind) {
        String[] d = shape.split("x");
        if (d.length != 3) {
            throw new IllegalArgumentException("shape must be MxKxN, got " + shape);
        }
        this.m = Long.parseLong(d[0]);
        this.k = Long.parseLong(d[1]);
        this.n = Long.parseLong(d[2]);
        this.kind = kind;
        SplittableRandom rnd = new SplittableRandom(42);
        this.a = Tensor.of(random(rnd, m * k), m, k);
        this.c = Tensor.zeros(m, n);
        this.cached = kind.equals("bf16-frozen") ? new CpuBackend(true) : null;
        switch (kind) {
            case "f32" -> {
                transB = false;
                b = nativeF32(rnd, k, n);
            }
            case "f32-wt" -> {
                transB = true;
                b = nativeF32(rnd, n, k);
            }
            case "bf16-wt", "bf16-frozen" -> {
                transB = true;
                MemorySegment s = arena.allocate(n * k * 2, 64);
                for (long i = 0; i < n * k; i++) {
                    s.setAtIndex(ValueLayout.JAVA_SHORT, i, Floats.f32ToBf16((float) rnd.nextDouble(-1, 1)));
                }
                Tensor w = Tensor.wrap(DType.BF16, s, n, k);
                b = cached != null ? w.frozen() : w;
            }
            default -> throw new IllegalArgumentException("kind must be f32, f32-wt, bf16-wt or bf16-frozen, got " + kind);
        }
    }

    public void run() {
        if (cached != null) {
            cached.gemm(false, transB, 1f, a, b, 0f, c);
            return;
        }
        CpuGemm.gemm(false, transB, 1f, a, b, 0f, c);
    }

    public double flops() {
        return 2.0 * m * n * k;
    }

    /** One element of the result, so that a benchmark can consume it. */
    public float probe() {
        return c.get(c.numel() / 2);
    }

    @Override
    public void close() {
        arena.close();
    }

    private Tensor nativeF32(SplittableRandom rnd, long rows, long cols) {
        MemorySegment s = arena.allocate(rows * cols * 4, 64);
        for (long i = 0; i < rows * cols; i++) {
            s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextDouble(-1, 1));
        }
        return Tensor.wrap(DType.F32, s, rows, cols);
    }

    private static float[] random(SplittableRandom rnd, long count) {
        float[] v = new float[Math.toIntExact(count)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextDouble(-1, 1);
        }
        return v;
    }
}
