package dev.fluxerase.erase;

import dev.fluxerase.image.RgbImage;
import dev.fluxerase.pipeline.Latents;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.vae.LatentScaling;
import dev.fluxerase.vae.PixelCodec;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** x0 from the VAE's posterior: the mean, or mean + exp(½·logvar)·ε with the step's ε, then (z − shift)·scale. */
class ImageLatentTest {
    private static final LatentScaling SCALING = new LatentScaling(2.0, 0.5);

    @Test
    void theMeanIsScaledAndDrawsNothing() {
        ImageLatent l = ImageLatent.of(new float[]{1.5f, -0.5f, 0.5f}, null, SCALING);
        Random rng = new Random(3);
        // (1.5 − 0.5)·2, (−0.5 − 0.5)·2, (0.5 − 0.5)·2
        assertArrayEquals(new float[]{2f, -2f, 0f}, l.draw(rng));
        assertEquals(new Random(3).nextLong(), rng.nextLong(), "the mean consumed random numbers");
    }

    @Test
    void aSampleIsMeanPlusStdTimesTheDrawnEpsilon() {
        float[] mean = {1.5f, -0.5f, 0.25f, 0f};
        // std = exp(½·logvar): 1, 2, ½ and e^−3
        float[] logvar = {0f, (float) (2 * Math.log(2)), (float) (-2 * Math.log(2)), -6f};
        float[] std = {1f, 2f, 0.5f, (float) Math.exp(-3)};
        ImageLatent l = ImageLatent.of(mean, logvar, SCALING);
        long seed = 7;
        Random eps = new Random(seed);
        float[] expected = new float[mean.length];
        for (int i = 0; i < mean.length; i++) {
            float e = (float) eps.nextGaussian();
            expected[i] = (mean[i] + std[i] * e - 0.5f) * 2f;
        }
        assertArrayEquals(expected, l.draw(new Random(seed)), 1e-5f);
        // each use draws anew; the mean stays what it was
        Random rng = new Random(seed);
        float[] first = l.draw(rng);
        float[] second = l.draw(rng);
        assertFalse(Arrays.equals(first, second));
        assertArrayEquals(expected, first, 1e-5f);
    }

    /** The pixel codec's encoding is exact: its posterior is the point at the mean, so a sample is the mean. */
    @Test
    void withoutAPosteriorASampleIsTheMean() {
        PixelCodec codec = new PixelCodec(2, 3, SCALING);
        byte[] rgb = new byte[4 * 4 * 3];
        for (int i = 0; i < rgb.length; i++) {
            rgb[i] = (byte) (17 * i);
        }
        RgbImage img = new RgbImage(4, 4, rgb);
        Latents geometry = new Latents(4, 4, 2, 12);
        float[] mean = ImageLatent.encode(codec, geometry, img, RunConfig.LatentDraw.MEAN).draw(new Random(1));
        float[] sample = ImageLatent.encode(codec, geometry, img, RunConfig.LatentDraw.SAMPLE).draw(new Random(1));
        assertArrayEquals(mean, sample);
        assertArrayEquals(geometry.pack(Floats.toF32(codec.encode(img.toTensor()))), mean);
    }
}
