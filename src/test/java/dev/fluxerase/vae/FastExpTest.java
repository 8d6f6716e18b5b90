package dev.fluxerase.vae;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FastExpTest {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /** Within 3 ulp of the exact e^x over the range that matters (e^x a normal float), vector = scalar bit for bit. */
    @Test
    void accurateAndVectorEqualsScalar() {
        Random r = new Random(3);
        float[] x = new float[F.length() * 4096];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextDouble() * 174 - 87);
        }
        x[0] = 0f;
        x[1] = -0f;
        x[2] = 1f;
        x[3] = -87f;
        float[] v = new float[x.length];
        for (int i = 0; i < x.length; i += F.length()) {
            FastExp.exp(FloatVector.fromArray(F, x, i)).intoArray(v, i);
        }
        for (int i = 0; i < x.length; i++) {
            float s = FastExp.exp(x[i]);
            assertEquals(Float.floatToIntBits(s), Float.floatToIntBits(v[i]), "x = " + x[i]);
            double exact = Math.exp(x[i]);
            assertTrue(Math.abs(s - exact) <= 3 * Math.ulp((float) exact), "x = " + x[i] + ": " + s + " vs " + exact);
        }
        assertEquals(1f, FastExp.exp(0f));
    }

    @Test
    void siluAtTheExtremes() {
        assertEquals(1000f, FastExp.silu(1000f));
        float neg = FastExp.silu(-1000f);
        assertTrue(neg <= 0 && neg > -1e-30, "silu(−1000) = " + neg);
        assertEquals(0f, FastExp.silu(0f));
        assertEquals(1 / (1 + Math.exp(-1)), FastExp.silu(1f), 2e-7);
        float[] big = {Float.MAX_VALUE, -Float.MAX_VALUE, 90f, -90f, 1e-30f, -1e-30f, 5f, -5f, 1f, 2f, 3f, 4f, 6f, 7f, 8f,
                9f};
        float[] out = new float[F.length()];
        float[] in = new float[F.length()];
        System.arraycopy(big, 0, in, 0, Math.min(big.length, in.length));
        FastExp.silu(FloatVector.fromArray(F, in, 0)).intoArray(out, 0);
        for (int i = 0; i < in.length; i++) {
            assertEquals(Float.floatToIntBits(FastExp.silu(in[i])), Float.floatToIntBits(out[i]), "x = " + in[i]);
            assertTrue(Float.isFinite(out[i]), "x = " + in[i]);
        }
    }
}
