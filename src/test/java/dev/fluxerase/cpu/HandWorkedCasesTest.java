package dev.fluxerase.cpu;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.ConvGeometry;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;

import static dev.fluxerase.cpu.TestTensors.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Small cases worked out by hand (or from the closed-form definition), run on both CPU backends. Tolerances of 1e-7 to
 * 3e-7 on values of order 1 are one to three f32 ulps: the reference rounds once from double, the CPU backend's vector
 * exp/tanh are within an ulp or two.
 */
class HandWorkedCasesTest {
    private final Random rnd = new Random(3);

    static Stream<Backend> backends() {
        return Stream.of(new NaiveBackend(), new CpuBackend());
    }

    @ParameterizedTest
    @MethodSource("backends")
    void gemmWithBetaZeroIgnoresNaNInC(Backend be) {
        Tensor a = Tensor.of(new float[]{1, 2, 3, 4}, 2, 2);
        Tensor b = Tensor.of(new float[]{5, 6, 7, 8}, 2, 2);
        Tensor c = Tensor.of(new float[]{Float.NaN, Float.NaN, Float.POSITIVE_INFINITY, Float.NaN}, 2, 2);
        be.gemm(false, false, 1, a, b, 0, c);
        assertArrayEquals(new float[]{19, 22, 43, 50}, Floats.toF32(c));
        be.gemm(true, true, 2, a, b, 1, c);
        // aᵀ·bᵀ = [[1,3],[2,4]]·[[5,7],[6,8]] = [[23,31],[34,46]]
        assertArrayEquals(new float[]{19 + 46, 22 + 62, 43 + 68, 50 + 92}, Floats.toF32(c));
    }

    @ParameterizedTest
    @MethodSource("backends")
    void ropeRotatesAPairByNinetyDegrees(Backend be) {
        Tensor x = Tensor.of(new float[]{1, 0, 0, 1, 3, 4, 3, 4}, 1, 1, 2, 4);
        Tensor cos = Tensor.of(new float[]{0, 0, 1, 0}, 2, 2);
        Tensor sin = Tensor.of(new float[]{1, 1, 0, -1}, 2, 2);
        Tensor y = Tensor.zeros(1, 1, 2, 4);
        be.rope(x, cos, sin, y);
        // position 0 rotates both pairs by +90°: (1,0) → (0,1), (0,1) → (−1,0); position 1: 0° and −90°
        assertArrayEquals(new float[]{0, 1, -1, 0, 3, 4, 4, -3}, Floats.toF32(y));
        Tensor back = Tensor.zeros(1, 1, 2, 4);
        be.ropeBackward(y, cos, sin, back);
        assertArrayEquals(Floats.toF32(x), Floats.toF32(back));
        be.rope(x, cos, sin, x);
        assertArrayEquals(Floats.toF32(y), Floats.toF32(x), "in place");
    }

    @ParameterizedTest
    @MethodSource("backends")
    void geluTanhKnownValues(Backend be) {
        Tensor x = Tensor.of(new float[]{1, -1, 2, 0.5f, -3, 0}, 6);
        be.geluTanh(x, x);
        // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) evaluated in double
        float[] expected = {0.84119199f, -0.15880801f, 1.95459769f, 0.34571401f, -0.00363739f, 0f};
        assertArrayEquals(expected, Floats.toF32(x), 3e-7f);
    }

    @ParameterizedTest
    @MethodSource("backends")
    void softmaxOfAKnownRow(Backend be) {
        Tensor x = Tensor.of(new float[]{1, 2, 3, 1000, 1000, 1000}, 2, 3);
        be.softmax(x, x);
        // e^(x−3)/Σ: e^−2, e^−1, 1 over 1.503214724; the second row proves the max shift (no overflow)
        assertArrayEquals(new float[]{0.09003057f, 0.24472847f, 0.66524096f, 1 / 3f, 1 / 3f, 1 / 3f},
                Floats.toF32(x), 2e-7f);
    }

    @ParameterizedTest
    @MethodSource("backends")
    void attentionLseAndOutputOfAKnownCase(Backend be) {
        Tensor q = Tensor.of(new float[]{1, 0}, 1, 1, 1, 2);
        Tensor k = Tensor.of(new float[]{1, 0, 0, 1}, 1, 1, 2, 2);
        Tensor v = Tensor.of(new float[]{2, 0, 0, 4}, 1, 1, 2, 2);
        Tensor out = Tensor.zeros(1, 1, 1, 2);
        Tensor lse = Tensor.zeros(1, 1, 1);
        Tensor probs = Tensor.zeros(1, 1, 1, 2);
        be.attention(q, k, v, out, lse, probs, 1f);
        // scores (1, 0): lse = ln(e + 1), p = (e, 1)/(e + 1)
        double e = Math.E;
        assertEquals(1.3132616875, lse.get(0), 2e-7);
        assertArrayEquals(new float[]{(float) (e / (e + 1)), (float) (1 / (e + 1))}, Floats.toF32(probs), 2e-7f);
        assertArrayEquals(new float[]{(float) (2 * e / (e + 1)), (float) (4 / (e + 1))}, Floats.toF32(out), 1e-6f);
    }

    @ParameterizedTest
    @MethodSource("backends")
    void layerNormOfOneToFour(Backend be) {
        Tensor x = Tensor.of(new float[]{1, 2, 3, 4}, 1, 4);
        Tensor y = Tensor.zeros(1, 4);
        Tensor mean = Tensor.zeros(1);
        Tensor rstd = Tensor.zeros(1);
        be.layerNorm(x, y, mean, rstd, 1e-6f);
        // mean 2.5, biased variance 1.25, rstd = 1/√(1.25 + 1e-6)
        assertEquals(2.5f, mean.get(0));
        assertEquals((float) (1 / Math.sqrt(1.25 + 1e-6)), rstd.get(0), 1e-7f);
        assertArrayEquals(new float[]{-1.34164025f, -0.44721342f, 0.44721342f, 1.34164025f}, Floats.toF32(y), 1e-6f);
    }

    /**
     * Hand-worked AdamW (lr 0.1, β 0.9/0.999, eps 1e-8, wd 0.01), p = 1, gradients 0.5 then −1.
     * Step 1: p = 0.999; m = 0.05; v = 0.00025; m̂ = 0.5, √v̂ = 0.5 → p = 0.999 − 0.1·0.5/(0.5 + 1e-8) = 0.899000002.
     * Step 2: p = 0.899·0.999 = 0.898101; m = 0.045 − 0.1 = −0.055; v = 0.00024975 + 0.001 = 0.00124975;
     * m̂ = −0.055/0.19 = −0.28947368; √v̂ = √(0.00124975/0.001999) = 0.79068805 → p = 0.898101 + 0.1·0.36610354 = 0.93471135.
     */
    /**
     * The hyper-parameters are f32 (0.9f is 0.89999998), so the expected values hold to about 1e-6 relative, the size of
     * that input rounding; v to 3e-5, since 1 − 0.999f is 1.3e-5 relative away from 0.001. A wrong formula (missing bias correction, eps inside the root, coupled decay) is off by far more.
     */
    @ParameterizedTest
    @MethodSource("backends")
    void adamwTwoStepsByHand(Backend be) {
        Tensor p = Tensor.of(new float[]{1}, 1);
        Tensor m = Tensor.zeros(1);
        Tensor v = Tensor.zeros(1);
        be.adamw(p, Tensor.of(new float[]{0.5f}, 1), m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 1);
        assertEquals(0.899000002, p.get(0), 1e-6 * 0.9);
        assertEquals(0.05, m.get(0), 1e-6 * 0.05);
        assertEquals(0.00025, v.get(0), 3e-5 * 0.00025);
        be.adamw(p, Tensor.of(new float[]{-1f}, 1), m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 2);
        assertEquals(0.93471135, p.get(0), 1e-6 * 0.93);
        assertEquals(-0.055, m.get(0), 1e-6 * 0.055);
        assertEquals(0.00124975, v.get(0), 3e-5 * 0.00125);
    }

    /** [B, L, H·D] → [B, H, L, D] as one strided copy per batch, and the adjoint (swap, accumulate) putting it back. */
    @ParameterizedTest
    @MethodSource("backends")
    void copyStridedSplitsAndMergesHeads(Backend be) {
        int b = 2;
        int l = 3;
        int h = 2;
        int d = 4;
        Tensor x = randn(rnd, 1, b, l, h * d);
        Tensor heads = Tensor.zeros(b, h, l, d);
        long[] src = {(long) l * h * d, d, (long) h * d, 1};
        long[] dst = {(long) h * l * d, (long) l * d, d, 1};
        long[] sizes = {b, h, l, d};
        be.copyStrided(x, 0, src, heads, 0, dst, sizes, false);
        for (int bi = 0; bi < b; bi++) {
            for (int hi = 0; hi < h; hi++) {
                for (int li = 0; li < l; li++) {
                    for (int di = 0; di < d; di++) {
                        assertEquals(x.get(((long) bi * l + li) * h * d + (long) hi * d + di),
                                heads.get((((long) bi * h + hi) * l + li) * d + di));
                    }
                }
            }
        }
        Tensor back = Tensor.zeros(b, l, h * d);
        be.fill(back, 1f);
        be.copyStrided(heads, 0, dst, back, 0, src, sizes, true);
        float[] xs = Floats.toF32(x);
        float[] bs = Floats.toF32(back);
        for (int i = 0; i < xs.length; i++) {
            assertEquals(xs[i] + 1f, bs[i], 0f);
        }
        assertThrows(IllegalArgumentException.class,
                () -> be.copyStrided(x, 1, src, heads, 0, dst, sizes, false), "out-of-range src");
    }

    @ParameterizedTest
    @MethodSource("backends")
    void memoryOpsConvertAndRound(Backend be) {
        Tensor t = be.allocate(DType.BF16, 3);
        assertArrayEquals(new float[]{0, 0, 0}, be.download(t));
        // 1 + 2⁻⁸ is halfway between bf16 neighbours 1 and 1 + 2⁻⁷: ties to even → 1; 1 + 3·2⁻⁸ → 1 + 2⁻⁶ (even)
        Tensor src = be.upload(new float[]{1 + 0x1p-8f, 1 + 3 * 0x1p-8f, -2.5f}, 3);
        be.copy(src, t);
        assertArrayEquals(new float[]{1f, 1 + 0x1p-6f, -2.5f}, be.download(t));
        Tensor h = be.allocate(DType.F16, 3);
        be.copy(t, h);
        assertArrayEquals(be.download(t), be.download(h));
        be.fill(h, 0.1f);
        assertEquals(Floats.f16ToF32(Floats.f32ToF16(0.1f)), be.download(h)[2]);
        Tensor f = be.allocate(DType.F32, 2, 2);
        assertTrue(f.data().heapBase().isPresent(), "small F32 tensors live on the heap");
        assertThrows(IllegalArgumentException.class, () -> be.copy(src, f));
    }

    /** A strided copy that would read past its source, or has the wrong number of strides, is refused in one line. */
    @ParameterizedTest
    @MethodSource("backends")
    void stridedCopyLayoutErrors(Backend be) {
        Tensor src = Tensor.zeros(2, 3);
        Tensor dst = Tensor.zeros(6);
        long[] sizes = {1, 1, 2, 4};
        IllegalArgumentException far = assertThrows(IllegalArgumentException.class, () -> be.copyStrided(src, 0,
                new long[]{0, 0, 3, 1}, dst, 0, new long[]{0, 0, 4, 1}, sizes, false));
        assertEquals("copyStrided: src elements [0, 6] (offset 0, strides [0, 0, 3, 1], sizes [1, 1, 2, 4]) outside "
                + "[2, 3] F32", far.getMessage());
        IllegalArgumentException rank = assertThrows(IllegalArgumentException.class, () -> be.copyStrided(src, 0,
                new long[]{3, 1}, dst, 0, new long[]{0, 0, 3, 1}, new long[]{2, 3}, false));
        assertTrue(rank.getMessage().startsWith("copyStrided: sizes and strides must have 4 entries"), rank.getMessage());
        IllegalArgumentException negative = assertThrows(IllegalArgumentException.class, () -> be.copyStrided(src, 0,
                new long[]{0, 0, 3, 1}, dst, 0, new long[]{0, 0, 3, 1}, new long[]{1, 0, -1, 3}, false));
        assertEquals("copyStrided: negative size in [1, 0, -1, 3]", negative.getMessage());
        be.copyStrided(src, 0, new long[]{0, 0, 3, 1}, dst, 0, new long[]{0, 0, 3, 1}, new long[]{1, 1, 0, 3}, false);
    }

    @ParameterizedTest
    @MethodSource("backends")
    void downsamplingConvPadsOnlyRightAndBottom(Backend be) {
        Tensor x = Tensor.zeros(1, 4, 4, 1);
        for (int i = 0; i < 16; i++) {
            x.set(i, i + 1);
        }
        // channel 0 sums each 3×3 window at stride 2; channel 1 has one tap, (ky, kx) = (2, 0)
        float[] w = new float[18];
        Arrays.fill(w, 0, 9, 1f);
        w[9 + 6] = 1f;
        Tensor y = Tensor.zeros(1, 2, 2, 2);
        be.conv2d(x, Tensor.of(w, 2, 3, 3, 1), Tensor.of(new float[]{0.5f, 0f}, 2), y, ConvGeometry.DOWN, false);
        // windows at rows/columns {0, 1, 2} and {2, 3, pad}: 1+2+3+5+6+7+9+10+11 = 54, 3+4+7+8+11+12 = 45,
        // 9+10+11+13+14+15 = 72, 11+12+15+16 = 54; the single tap reads x[2][0] = 9, x[2][2] = 11, then the padding row
        assertArrayEquals(new float[]{54.5f, 9, 45.5f, 11, 72.5f, 0, 54.5f, 0}, Floats.toF32(y));
    }

    @ParameterizedTest
    @MethodSource("backends")
    void upsamplingConvSeesEachPixelTwiceEachWay(Backend be) {
        Tensor x = Tensor.of(new float[]{1, 2, 3, 4}, 1, 2, 2, 1);
        float[] ones = new float[9];
        Arrays.fill(ones, 1f);
        Tensor y = Tensor.zeros(1, 4, 4, 1);
        be.fill(y, 100f);
        be.conv2d(x, TestTensors.as(DType.BF16, Tensor.of(ones, 1, 3, 3, 1)), null, y, ConvGeometry.UP, true);
        // 3×3 window sums, zero-padded, over [[1,1,2,2],[1,1,2,2],[3,3,4,4],[3,3,4,4]], added to the 100 in y
        float[] sums = {4, 8, 10, 8, 10, 18, 21, 16, 14, 24, 27, 20, 12, 20, 22, 16};
        float[] expected = new float[16];
        for (int i = 0; i < 16; i++) {
            expected[i] = 100 + sums[i];
        }
        assertArrayEquals(expected, Floats.toF32(y));
    }

    @ParameterizedTest
    @MethodSource("backends")
    void groupNormPerImageAndGroup(Backend be) {
        // two pixels of four channels in two groups; image 1 is image 0 + 100, which the normalisation removes
        float[] image = {1, 3, 10, 10, 5, 7, 10, 10};
        float[] values = new float[16];
        for (int i = 0; i < 8; i++) {
            values[i] = image[i];
            values[8 + i] = image[i] + 100;
        }
        Tensor gamma = Tensor.of(new float[]{1, 2, 1, 1}, 4);
        Tensor beta = TestTensors.as(DType.F16, Tensor.of(new float[]{0, 1, 0.5f, -0.5f}, 4));
        // group 0 holds {1, 3, 5, 7}: μ 4, variance 5, with eps 4 rstd = 1/3; group 1 is constant: y = beta
        float[] plain = {-1, 1 / 3f, 0.5f, -0.5f, 1 / 3f, 3, 0.5f, -0.5f};
        // v·sigmoid(v) of those, in double
        float[] swished = {-0.268941421f, 0.194190069f, 0.311229666f, -0.188770334f, 0.194190069f, 2.85772238f,
                0.311229666f, -0.188770334f};
        for (boolean swish : new boolean[]{false, true}) {
            Tensor x = Tensor.of(values.clone(), 2, 2, 4);
            be.groupNorm(x, gamma, beta, x, 2, 4f, swish);
            float[] one = swish ? swished : plain;
            float[] expected = new float[16];
            System.arraycopy(one, 0, expected, 0, 8);
            System.arraycopy(one, 0, expected, 8, 8);
            assertArrayEquals(expected, Floats.toF32(x), 3e-7f, "swish " + swish);
        }
    }
}
