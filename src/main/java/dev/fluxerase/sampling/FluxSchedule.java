package dev.fluxerase.sampling;

/**
 * FLUX's sampling schedule (BFL {@code flux.sampling.get_schedule}; diffusers' FluxPipeline gives the same values):
 * the grid {@code t_k = 1 − k/n}, k = 0..n, bent towards high noise by
 * {@code time_shift(mu, t) = e^mu / (e^mu + (1/t − 1))} where {@code mu} grows linearly with the packed image token
 * count (0.5 at 256 tokens, 1.15 at 4096, not clamped). schnell samples without the shift. The last sigma is 0.
 */
public final class FluxSchedule {

    public static final long BASE_IMAGE_SEQ_LEN = 256;
    public static final long MAX_IMAGE_SEQ_LEN = 4096;
    public static final double BASE_SHIFT = 0.5;
    public static final double MAX_SHIFT = 1.15;
    /** Pixels per packed image token along each side: the VAE's 8× downsampling times the 2×2 patch packing. */
    public static final int PIXELS_PER_TOKEN_SIDE = 16;

    private FluxSchedule() {
    }

    /** BFL's {@code get_lin_function}: {@code m·N + b} through (256, 0.5) and (4096, 1.15), evaluated as BFL does. */
    public static double mu(long imageSeqLen) {
        double m = (MAX_SHIFT - BASE_SHIFT) / (MAX_IMAGE_SEQ_LEN - BASE_IMAGE_SEQ_LEN);
        double b = BASE_SHIFT - m * BASE_IMAGE_SEQ_LEN;
        return m * imageSeqLen + b;
    }

    /** The packed image token count of a {@code width × height} image: {@code (h/16)·(w/16)}. */
    public static long imageSeqLen(int width, int height) {
        for (int side : new int[]{width, height}) {
            if (side <= 0 || side % PIXELS_PER_TOKEN_SIDE != 0) {
                throw new IllegalArgumentException("image sides must be positive multiples of "
                        + PIXELS_PER_TOKEN_SIDE + ", got " + width + "x" + height);
            }
        }
        return (long) (height / PIXELS_PER_TOKEN_SIDE) * (width / PIXELS_PER_TOKEN_SIDE);
    }

    /** {@code e^mu / (e^mu + (1/t − 1))}; maps 0 to 0 and 1 to 1. */
    public static double timeShift(double mu, double t) {
        double e = StrictMath.exp(mu);
        return e / (e + (1 / t - 1));
    }

    /**
     * The {@code steps + 1} sigmas in double precision, from 1 down to exactly 0: {@code t_k = (n − k)/n} correctly
     * rounded, then shifted with {@link #mu}(imageSeqLen) when {@code shift} is set.
     */
    public static double[] sigmas(int steps, long imageSeqLen, boolean shift) {
        checkSteps(steps);
        double mu = mu(imageSeqLen);
        double[] out = new double[steps + 1];
        for (int k = 0; k <= steps; k++) {
            double t = (double) (steps - k) / steps;
            out[k] = shift ? timeShift(mu, t) : t;
        }
        return out;
    }

    /**
     * The sigmas bit for bit as BFL's float32 torch code computes them on an x86 CPU with AVX2, which is what the
     * reference sampler steps with. Three torch details matter: {@code linspace} fills 8-lane vectors as
     * {@code base + i·step} (pairs of vectors, the tail one by one; the lower half counts up from 1, the upper half
     * down from 0); {@code scalar / tensor} is {@code reciprocal(tensor) · scalar}; {@code e^mu} is rounded to
     * float32 before it meets the tensor.
     */
    public static float[] sigmasFloat32(int steps, long imageSeqLen, boolean shift) {
        checkSteps(steps);
        float[] t = torchLinspaceAvx2(steps + 1);
        if (!shift) {
            return t;
        }
        float e = (float) StrictMath.exp(mu(imageSeqLen));
        for (int k = 0; k < t.length; k++) {
            float shifted = (1f / t[k]) - 1f; // 1/t − 1 (then ** 1.0, a copy)
            t[k] = (1f / (e + shifted)) * e;
        }
        return t;
    }

    /** torch.linspace(1, 0, n) in float32 as ATen's CPU kernel produces it with 8-lane (AVX2) float vectors. */
    private static float[] torchLinspaceAvx2(int n) {
        final int lanes = 8;
        float start = 1f;
        float end = 0f;
        float step = (end - start) / (n - 1);
        int halfway = n / 2;
        float[] out = new float[n];
        int idx = 0;
        while (n - idx >= 2 * lanes) {
            for (int v = 0; v < 2; v++, idx += lanes) {
                float base = idx < halfway ? start + step * idx : end - step * (n - idx - 1);
                out[idx] = base;
                for (int i = 1; i < lanes; i++) {
                    out[idx + i] = base + i * step;
                }
            }
        }
        for (; idx < n; idx++) {
            out[idx] = idx < halfway ? start + step * idx : end - step * (n - idx - 1);
        }
        return out;
    }

    private static void checkSteps(int steps) {
        if (steps < 1) {
            throw new IllegalArgumentException("steps must be at least 1, got " + steps);
        }
    }
}
