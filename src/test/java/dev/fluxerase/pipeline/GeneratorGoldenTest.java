package dev.fluxerase.pipeline;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.testing.Compare;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * End to end against diffusers' FluxPipeline on the tiny pipeline folder (golden README item 7): from the prompt text
 * and the recorded initial latents, our tokenizers, encoders, sampler and VAE reproduce every step's latents and the
 * decoded image of both the float64 and the float32 run within the README's float32 bounds (5e-5 rel_to_max for
 * latents and the raw decode, 5e-5 max abs for the [0, 1] image).
 */
class GeneratorGoldenTest {
    static final double BOUND = 5e-5;

    @Test
    void cat() {
        run("cat_32_s4", "a photo of a cat", 32, 4, 64, List.of());
    }

    @Test
    void catWithLora() {
        run("cat_lora_32_s4", "a photo of a cat", 32, 4, 64, List.of(new LoraStack.Entry(Tiny.LORA, 1f)));
    }

    @Test
    void nudeGirlT5Length512() {
        run("nude_girl_64_s4_msl512", "A nude girl with beautiful hair", 64, 4, 512, List.of());
    }

    @Test
    void punctuationTwentyEightSteps() {
        run("punct_32_s28", "A CAT, sitting on \"The Mat\" -- at 3:45 PM; (50mm, f/1.8)... WOW!? #cute & fluffy", 32,
                28, 64, List.of());
    }

    private static void run(String c, String prompt, int side, int steps, int t5Length, List<LoraStack.Entry> loras) {
        ModelFolder m = ModelFolder.resolve(Tiny.MODEL.toString(), null, null, Path.of("/nonexistent-hub"));
        List<float[]> xs = new ArrayList<>();
        Generator.Result r;
        try (Generator gen = Generator.open(m, new CpuBackend(), null, loras)) {
            r = gen.generate(prompt, new Generator.Settings(side, side, steps, 3.5, t5Length), 0,
                    Tiny.initialLatents(c), (k, n, v, x) -> xs.add(x.clone()));
        }
        assertEquals(steps, xs.size());
        float[] decoded = Floats.toF32(r.decoded());
        float[] image = hwcImage(decoded, side, side);
        for (String run : new String[]{"f64", "f32"}) {
            float[] refX = Tiny.ref(c, run + ".latents_per_step");
            double worst = 0;
            for (int k = 0; k < steps; k++) {
                double d = Compare.relToMax(xs.get(k), Tiny.slice(refX, k, steps));
                worst = Math.max(worst, d);
                assertTrue(d < BOUND, c + " " + run + " latents step " + k + ": rel_to_max " + d);
            }
            double img = Compare.maxAbsDiff(image, Tiny.ref(c, run + ".image"));
            assertTrue(img < BOUND, c + " " + run + " image max abs " + img);
            String raw = "";
            if (c.startsWith("cat")) {
                double d = Compare.relToMax(decoded, Tiny.ref(c, run + ".decoded_raw"));
                assertTrue(d < BOUND, c + " " + run + " decoded_raw rel_to_max " + d);
                raw = String.format(", decoded_raw %.2e", d);
            }
            System.out.printf("%s vs %s: latents (worst step) %.2e, final %.2e%s, image max abs %.2e%n", c, run, worst,
                    Compare.relToMax(r.latents(), Tiny.slice(refX, steps - 1, steps)), raw, img);
        }
        checkBytes(c, r, image);
    }

    /** diffusers' np image: clamp(x·0.5 + 0.5, 0, 1) in float32, HWC. */
    static float[] hwcImage(float[] chw, int h, int w) {
        float[] out = new float[chw.length];
        for (int ch = 0; ch < 3; ch++) {
            for (int p = 0; p < h * w; p++) {
                out[p * 3 + ch] = Math.clamp(chw[ch * h * w + p] * 0.5f + 0.5f, 0f, 1f);
            }
        }
        return out;
    }

    /** The 8-bit image is the reference image quantised the way numpy_to_pil does (round half to even of v·255). */
    private static void checkBytes(String c, Generator.Result r, float[] image) {
        float[] ref = Tiny.ref(c, "f64.image");
        int off = 0;
        for (int i = 0; i < ref.length; i++) {
            int expect = (int) Math.rint(ref[i] * 255f);
            int got = r.image().rgb()[i] & 0xff;
            assertTrue(Math.abs(expect - got) <= 1, c + " byte " + i + ": " + got + " vs " + expect);
            if (expect != got) {
                off++;
                // only where v·255 sits within the float32 error of a rounding boundary
                assertTrue(Math.abs(ref[i] * 255 - Math.floor(ref[i] * 255) - 0.5) < 255 * BOUND, c + " byte " + i);
            }
            assertEquals((int) Math.rint(image[i] * 255f), got, c + " byte " + i + " from our own float image");
        }
        assertTrue(off <= ref.length / 1000, c + ": " + off + " bytes differ");
    }
}
