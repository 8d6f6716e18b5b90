package dev.fluxerase.cuda;

import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.AttentionBounds;
import dev.fluxerase.testing.BoundedOps;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.Random;
import java.util.function.Supplier;

import static dev.fluxerase.testing.AttentionBounds.FLASH_BF16;
import static dev.fluxerase.testing.AttentionBounds.REFERENCE_F32;
import static dev.fluxerase.testing.BoundedOps.roundBf16;
import static dev.fluxerase.testing.ErrorBounds.max;
import static dev.fluxerase.testing.ErrorBounds.plus;
import static dev.fluxerase.testing.RandomData.gaussian;

/**
 * The tensor-core attention against the f32 reference kernels on the same GPU, at sizes the CPU reference cannot
 * reach: the FLUX joint sequence (L = 4608) forward, and a 1000-token backward. Inputs are rounded to bf16 first, so
 * both kernels multiply the same numbers; neither is exact, so their difference is held to the sum of their two
 * AttentionBounds against the exact result (times CudaGpu.SAFETY). At L = 4608 only the forward's bounds are computed
 * (O(L·d)); the backward's need P, O(L²·d) in double on the host, affordable at 1000 tokens. On the stand-in, every
 * launch at these sizes is checked and no number is.
 */
@ExtendWith(CudaGpu.class)
class CudaAttentionTest {
    private static final String WHAT = "flash vs reference attention ";
    @CudaGpu.Open
    private static CudaBackend flash;
    @CudaGpu.Open(CudaBackend.AttentionKernels.REFERENCE_F32)
    private static CudaBackend reference;

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
        AttentionBounds.Shape s = new AttentionBounds.Shape(24, 4608, 4608, 128);
        float scale = (float) (1 / Math.sqrt(128));
        AttentionBounds.Forward fb = AttentionBounds.forward(FLASH_BF16, s, q, k, v, r.lse(), scale);
        AttentionBounds.Forward rb = AttentionBounds.forward(REFERENCE_F32, s, q, k, v, r.lse(), scale);
        CudaGpu.checkKernel(WHAT + "L=4608 out", r.out(), f.out(), () -> max(plus(fb.out(), rb.out())));
        CudaGpu.checkKernel(WHAT + "L=4608 lse", r.lse(), f.lse(), () -> max(plus(fb.lse(), rb.lse())));
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
        AttentionBounds.Shape s = new AttentionBounds.Shape(4, 1000, 1000, 128);
        float scale = (float) (1 / Math.sqrt(128));
        float[] zero = new float[(int) n];
        AttentionBounds.Forward ff = AttentionBounds.forward(FLASH_BF16, s, q, k, v, r.lse(), scale);
        AttentionBounds.Forward rf = AttentionBounds.forward(REFERENCE_F32, s, q, k, v, r.lse(), scale);
        CudaGpu.checkKernel(WHAT + "L=1000 out", r.out(), f.out(), () -> max(plus(ff.out(), rf.out())));
        Supplier<AttentionBounds.Backward[]> b = BoundedOps.once(() -> new AttentionBounds.Backward[]{
                AttentionBounds.backward(FLASH_BF16, ff, s, q, k, v, dout, zero, zero, zero, scale),
                AttentionBounds.backward(REFERENCE_F32, rf, s, q, k, v, dout, zero, zero, zero, scale)});
        CudaGpu.checkKernel(WHAT + "L=1000 dq", r.dq(), f.dq(), () -> max(plus(b.get()[0].dq(), b.get()[1].dq())));
        CudaGpu.checkKernel(WHAT + "L=1000 dk", r.dk(), f.dk(), () -> max(plus(b.get()[0].dk(), b.get()[1].dk())));
        CudaGpu.checkKernel(WHAT + "L=1000 dv", r.dv(), f.dv(), () -> max(plus(b.get()[0].dv(), b.get()[1].dv())));
    }
}
