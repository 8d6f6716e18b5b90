package dev.fluxerase.testing;

import dev.fluxerase.tensor.Floats;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static dev.fluxerase.testing.AttentionBounds.FLASH_BF16;
import static dev.fluxerase.testing.BoundedOps.roundBf16;
import static dev.fluxerase.testing.RandomData.gaussian;

/**
 * The bf16 terms of {@link AttentionBounds#FLASH_BF16}, which no CPU backend exercises: an emulation of the flash
 * kernels' bf16 roundings (P before P·V and P·dO, dS before its products, dO as staged; everything else in double)
 * against the exact result must stay within the flash bounds. Those roundings are the bulk of the flash kernels' error,
 * so a bound that missed or undercounted one fails here rather than on the rare GPU run.
 */
class AttentionBoundsTest {
    private static final int HEADS = 2, LQ = 64, LK = 96, D = 128;
    private static final float SCALE = (float) (1 / Math.sqrt(D));

    private static double round(double x) {
        return Floats.roundToBf16((float) x);
    }

    /** out, lse, dq, dk, dv of one emulation; bf16 says whether P, dS and dO are rounded as the flash kernels round them. */
    private record Result(float[] out, float[] lse, float[] dq, float[] dk, float[] dv) {
    }

    private static Result emulate(float[] q, float[] k, float[] v, float[] dOut, boolean bf16) {
        float[] out = new float[HEADS * LQ * D], lse = new float[HEADS * LQ];
        double[] dq = new double[out.length], dk = new double[HEADS * LK * D], dv = new double[dk.length];
        AttentionBounds.Shape shape = new AttentionBounds.Shape(HEADS, LQ, LK, D);
        for (int h = 0; h < HEADS; h++) {
            int qb = h * LQ * D, kb = h * LK * D;
            double[] z = new double[LQ * LK];
            double[] ell = new double[LQ];
            AttentionBounds.scores(q, k, qb, kb, shape, SCALE, z, new double[LQ * LK], ell);
            double[][] p = new double[LQ][LK];
            double[][] ds = new double[LQ][LK];
            for (int i = 0; i < LQ; i++) {
                lse[h * LQ + i] = (float) ell[i];
                double m = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < LK; j++) {
                    m = Math.max(m, z[i * LK + j]);
                }
                // the kernel rounds the exponentials relative to the row's maximum, before normalising
                double l = Math.exp(ell[i] - m);
                double[] o = new double[D];
                for (int j = 0; j < LK; j++) {
                    double unnormalized = Math.exp(z[i * LK + j] - m);
                    double staged = bf16 ? round(unnormalized) : unnormalized;
                    p[i][j] = Math.exp(z[i * LK + j] - ell[i]);
                    for (int e = 0; e < D; e++) {
                        o[e] += staged * v[kb + j * D + e] / l;
                    }
                }
                double delta = 0;
                for (int e = 0; e < D; e++) {
                    out[qb + i * D + e] = (float) o[e];
                    delta += dOut[qb + i * D + e] * o[e];
                }
                for (int j = 0; j < LK; j++) {
                    double dp = 0;
                    for (int e = 0; e < D; e++) {
                        float g = dOut[qb + i * D + e];
                        dp += (bf16 ? round(g) : g) * v[kb + j * D + e];
                    }
                    ds[i][j] = p[i][j] * (dp - delta);
                }
            }
            for (int i = 0; i < LQ; i++) {
                for (int j = 0; j < LK; j++) {
                    double pj = bf16 ? round(p[i][j]) : p[i][j];
                    double sj = bf16 ? round(ds[i][j]) : ds[i][j];
                    for (int e = 0; e < D; e++) {
                        float g = dOut[qb + i * D + e];
                        dv[kb + j * D + e] += pj * (bf16 ? round(g) : g);
                        dk[kb + j * D + e] += SCALE * sj * q[qb + i * D + e];
                        dq[qb + i * D + e] += SCALE * sj * k[kb + j * D + e];
                    }
                }
            }
        }
        return new Result(out, lse, floats(dq), floats(dk), floats(dv));
    }

    private static float[] floats(double[] a) {
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = (float) a[i];
        }
        return r;
    }

    @Test
    void flashRoundingsStayWithinTheFlashBounds() {
        Random rnd = new Random(3);
        float[] q = roundBf16(gaussian(rnd, HEADS * LQ * D, 1.5)), k = roundBf16(gaussian(rnd, HEADS * LK * D, 1.5));
        float[] v = roundBf16(gaussian(rnd, HEADS * LK * D, 1)), dOut = gaussian(rnd, HEADS * LQ * D, 1);
        Result exact = emulate(q, k, v, dOut, false);
        Result flash = emulate(q, k, v, dOut, true);
        AttentionBounds.Shape s = new AttentionBounds.Shape(HEADS, LQ, LK, D);
        AttentionBounds.Forward f = AttentionBounds.forward(FLASH_BF16, s, q, k, v, exact.lse(), SCALE);
        float[] zq = new float[q.length], zk = new float[k.length];
        AttentionBounds.Backward b = AttentionBounds.backward(FLASH_BF16, f, s, q, k, v, dOut, zq, zk, zk, SCALE);
        ErrorBounds.check("emulated flash out", exact.out(), flash.out(), f.out());
        ErrorBounds.check("emulated flash dq", exact.dq(), flash.dq(), b.dq());
        ErrorBounds.check("emulated flash dk", exact.dk(), flash.dk(), b.dk());
        ErrorBounds.check("emulated flash dv", exact.dv(), flash.dv(), b.dv());
    }
}
