package dev.fluxerase.erase;

import java.util.Random;

/**
 * Where every random number of a run comes from. Each use gets its own {@link java.util.Random} (whose algorithms,
 * including {@code nextGaussian} and {@code Collections.shuffle}'s use of it, the Java specification fixes), seeded by
 * SplitMix64's finaliser of (run seed, stream, index). Step s always draws from {@code step(seed, s)}, so a run
 * resumed at step s replays exactly the numbers an uninterrupted run draws there, with no generator state to save.
 */
public final class RunRandom {
    private static final long STEP = 1;
    private static final long EPOCH = 2;
    private static final long WORDS = 3;
    private static final long POSTERIOR = 4;
    private static final long CROP = 5;

    private RunRandom() {
    }

    /** The numbers of training step {@code step} (see docs/erase.md for the order they are drawn in). */
    static Random step(long seed, long step) {
        return new Random(mix(seed, STEP, step));
    }

    /** The order in which epoch {@code epoch} visits the concept images. */
    static Random epoch(long seed, long epoch) {
        return new Random(mix(seed, EPOCH, epoch));
    }

    /** The choice of irrelevant concepts when WordNet picks them. */
    static Random words(long seed) {
        return new Random(mix(seed, WORDS, 0));
    }

    /**
     * The ε of step {@code step}'s draws from the VAE posterior ({@code latents: sample}). A stream of its own, so
     * that choosing the posterior over the mean changes x0 and no other number of the step.
     */
    static Random posterior(long seed, long step) {
        return new Random(mix(seed, POSTERIOR, step));
    }

    /** The random crop of concept image {@code image} (its place in file-name order), drawn once per run. */
    static Random crop(long seed, long image) {
        return new Random(mix(seed, CROP, image));
    }

    /** SplitMix64's output function applied to seed ⊕ stream·C1 + (index + 1)·γ. */
    public static long mix(long seed, long stream, long index) {
        long z = (seed ^ (stream * 0xD1B54A32D192ED03L)) + (index + 1) * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** n standard normal values ({@link Random#nextGaussian}, float32). */
    static float[] gaussian(Random rng, int n) {
        float[] z = new float[n];
        for (int i = 0; i < n; i++) {
            z[i] = (float) rng.nextGaussian();
        }
        return z;
    }
}
