package dev.fluxerase.testing;

import java.util.Random;

/** Seeded random test data. */
public final class RandomData {
    private RandomData() {
    }

    /** n values drawn from N(0, sd²), rounded to f32. */
    public static float[] gaussian(Random rnd, long n, double sd) {
        float[] a = new float[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (rnd.nextGaussian() * sd);
        }
        return a;
    }
}
