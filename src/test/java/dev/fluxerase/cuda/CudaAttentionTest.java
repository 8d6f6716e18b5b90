package dev.fluxerase.cuda;

import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.Random;

import static dev.fluxerase.cuda.CudaGpu.assertClose;
import static dev.fluxerase.cuda.CudaGpu.roundBf16;
import static dev.fluxerase.testing.RandomData.gaussian;

/**
 * The tensor-core attention against the f32 reference kernels on the same GPU, at sizes the CPU reference cannot
 * reach: the FLUX joint sequence (L = 4608) forward, and a 1024-token backward. Inputs are rounded to bf16 first so
 * that the difference is the kernels' own rounding of P and dS (BF16_TOL of max|expected|). On the stand-in, every
 * launch at these sizes is checked and no number is.
 */
@ExtendWith(CudaGpu.class)
class CudaAttentionTest {
    private static final double BF16_TOL = 1.5e-2;
    private static CudaBackend flash;
    private static CudaBackend reference;

    @BeforeAll
    static void setUp() {
        if (CudaGpu.available()) {
            flash = CudaGpu.backend(CudaBackend.AttentionKernels.FLASH_BF16);
            reference = CudaGpu.backend(CudaBackend.AttentionKernels.REFERENCE_F32);
        }
    }

    @AfterAll
    static void tearDown() {
        if (flash != null) {
            flash.close();
            reference.close();
        }
    }

    private record Run(float[] out, float[] lse, float[] dq, float[] dk, float[] dv) {
    }

    private static Run run(CudaBackend be, float[] q, float[] k, float[] v, float[] dout, long[] shape, boolean backward) {
        float scale = (float) (1 / Math.sqrt(shape[3]));
        Tensor tq = be.upload(q, shape), tk = be.upload(k, shape), tv = be.upload(v, shape);
        Tensor o = be.allocate(dev.fluxerase.tensor.DType.F32, shape);
        Tensor lse = be.allocate(dev.fluxerase.tensor.DType.F32, shape[0], shape[1], shape[2]);
        be.attention(tq, tk, tv, o, lse, null, scale);
        Run r;
        if (backward) {
            Tensor dq = be.allocate(dev.fluxerase.tensor.DType.F32, shape);
            Tensor dk = be.allocate(dev.fluxerase.tensor.DType.F32, shape);
            Tensor dv = be.allocate(dev.fluxerase.tensor.DType.F32, shape);
            be.attentionBackward(be.upload(dout, shape), tq, tk, tv, o, lse, dq, dk, dv, scale);
            r = new Run(be.download(o), be.download(lse), be.download(dq), be.download(dk), be.download(dv));
            be.free(dq);
            be.free(dk);
            be.free(dv);
        } else {
            r = new Run(be.download(o), be.download(lse), null, null, null);
        }
        be.free(tq);
        be.free(tk);
        be.free(tv);
        be.free(o);
        be.free(lse);
        return r;
    }

    @Test
    void fluxJointSequenceForward() {
        long[] shape = {1, 24, 4608, 128};
        Random rnd = new Random(1);
        long n = 24L * 4608 * 128;
        float[] q = roundBf16(gaussian(rnd, n, 1.2)), k = roundBf16(gaussian(rnd, n, 1.2)), v = roundBf16(gaussian(rnd, n, 1));
        Run f = run(flash, q, k, v, null, shape, false);
        Run r = run(reference, q, k, v, null, shape, false);
        assertClose("out at L=4608", r.out(), f.out(), BF16_TOL);
        assertClose("lse at L=4608", r.lse(), f.lse(), 1e-5);
    }

    @Test
    void backwardAtOneThousandTokens() {
        long[] shape = {1, 4, 1000, 128};
        Random rnd = new Random(2);
        long n = 4L * 1000 * 128;
        float[] q = roundBf16(gaussian(rnd, n, 1.2)), k = roundBf16(gaussian(rnd, n, 1.2)), v = roundBf16(gaussian(rnd, n, 1));
        float[] dout = roundBf16(gaussian(rnd, n, 1));
        Run f = run(flash, q, k, v, dout, shape, true);
        Run r = run(reference, q, k, v, dout, shape, true);
        assertClose("out", r.out(), f.out(), BF16_TOL);
        assertClose("dq", r.dq(), f.dq(), 3 * BF16_TOL);
        assertClose("dk", r.dk(), f.dk(), 3 * BF16_TOL);
        assertClose("dv", r.dv(), f.dv(), 3 * BF16_TOL);
    }
}
