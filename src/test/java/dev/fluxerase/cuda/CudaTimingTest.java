package dev.fluxerase.cuda;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.RandomData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.Locale;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Timings at FLUX sizes, wall clock around synchronize() (so launch overhead counts), each printed as one line
 * "CUDA_TIMING {json}" that tools/gpu-check.sh collects. Asserts only that results are finite: speed is reported. On the
 * stand-in the launches and GEMM plans at FLUX sizes are checked, and nothing is reported.
 */
@ExtendWith(CudaGpu.class)
class CudaTimingTest {
    @CudaGpu.Open
    private static CudaBackend gpu;

    private static double seconds(Runnable op, int reps) {
        op.run();
        gpu.synchronize();
        long t0 = System.nanoTime();
        for (int i = 0; i < reps; i++) {
            op.run();
        }
        gpu.synchronize();
        return (System.nanoTime() - t0) / 1e9 / reps;
    }

    /** Not on the stand-in, whose "kernels" take no time: a rate for them would read as a measurement. */
    private static void report(String name, String shape, double flops, double s) {
        CudaGpu.kernelResult(name + " time", () -> System.out.println(String.format(Locale.ROOT,
                "CUDA_TIMING {\"op\":\"%s\",\"shape\":\"%s\",\"device\":\"%s\",\"ms\":%.4f,\"tflops\":%.2f}", name, shape,
                gpu.name(), s * 1e3, flops / s / 1e12)));
    }

    @Test
    void attentionAtFluxSize() {
        long[] shape = {1, 24, 4608, 128};
        Random rnd = new Random(3);
        long n = 24L * 4608 * 128;
        Tensor q = gpu.upload(RandomData.gaussian(rnd, n, 1), shape), k = gpu.upload(RandomData.gaussian(rnd, n, 1), shape);
        Tensor v = gpu.upload(RandomData.gaussian(rnd, n, 1), shape), o = gpu.allocate(DType.F32, shape);
        Tensor lse = gpu.allocate(DType.F32, 1, 24, 4608);
        Tensor dq = gpu.allocate(DType.F32, shape), dk = gpu.allocate(DType.F32, shape), dv = gpu.allocate(DType.F32, shape);
        float scale = (float) (1 / Math.sqrt(128));
        double fwdFlops = 4.0 * 24 * 4608.0 * 4608 * 128;
        double f = seconds(() -> gpu.attention(q, k, v, o, lse, null, scale), 5);
        report("attention_fwd_flash_bf16", "B1 H24 L4608 D128", fwdFlops, f);
        double b = seconds(() -> gpu.attentionBackward(o, q, k, v, o, lse, dq, dk, dv, scale), 3);
        report("attention_bwd_flash_bf16", "B1 H24 L4608 D128", 2.5 * fwdFlops, b);
        double so = gpu.sum(o), sdq = gpu.sum(dq);
        CudaGpu.kernelResult("finite attention", () -> assertTrue(Double.isFinite(so) && Double.isFinite(sdq)));
    }

    @Test
    void linearAtFluxSize() {
        Random rnd = new Random(4);
        long tokens = 4608, in = 3072, out = 12288;
        Tensor x = gpu.upload(RandomData.gaussian(rnd, tokens * in, 1), tokens, in);
        Tensor w32 = gpu.upload(RandomData.gaussian(rnd, out * in, 0.02), out, in);
        Tensor w = gpu.allocate(DType.BF16, out, in);
        gpu.copy(w32, w);
        gpu.free(w32);
        Tensor y = gpu.allocate(DType.F32, tokens, out);
        double flops = 2.0 * tokens * in * out;
        double s = seconds(() -> gpu.gemm(false, true, 1, x, w, 0, y), 10);
        report("linear_bf16_weight", tokens + "x" + in + " * (" + out + "x" + in + ")^T", flops, s);
        Tensor dy = y;
        Tensor dx = gpu.allocate(DType.F32, tokens, in);
        double sb = seconds(() -> gpu.gemm(false, false, 1, dy, w, 1, dx), 10);
        report("linear_dx_bf16_weight", tokens + "x" + out + " * " + out + "x" + in, flops, sb);
        double sy = gpu.sum(y);
        CudaGpu.kernelResult("finite linear", () -> assertTrue(Double.isFinite(sy)));
    }
}
