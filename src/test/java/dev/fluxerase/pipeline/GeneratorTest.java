package dev.fluxerase.pipeline;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.cpu.NaiveBackend;
import dev.fluxerase.lora.LoraModule;
import dev.fluxerase.lora.LoraSet;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Compare;
import dev.fluxerase.testing.Resources;
import dev.fluxerase.testing.ToyFolder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Generation beyond the goldens: BFL single files, stacked LoRAs, seeded noise, geometry and input checks. */
class GeneratorTest {
    static final Generator.Settings SMALL = new Generator.Settings(16, 16, 2, 3.5, 16);

    @TempDir
    Path tmp;

    @AfterEach
    void unlink() {
        Folders.removeLinks(tmp);
    }

    static ModelFolder tiny() {
        return ModelFolder.resolve(Tiny.MODEL.toString(), null, null, Path.of("/nonexistent-hub"));
    }

    @Test
    void bflSingleFilesGenerateWhatTheDiffusersFolderGenerates() throws Exception {
        Path t = tmp.resolve("flux1-dev.safetensors");
        Path v = tmp.resolve("ae.safetensors");
        Folders.bflTransformer(t);
        Folders.bflVae(v);
        float[] init = Tiny.initialLatents("cat_32_s4");
        Generator.Settings s = new Generator.Settings(32, 32, 2, 3.5, 64);
        PromptCache cache = new PromptCache(tmp.resolve("cache"));
        Generator.Result diffusers;
        try (Generator g = Generator.open(tiny(), new CpuBackend(), cache, List.of())) {
            diffusers = g.generate("a photo of a cat", s, 0, init, null);
        }
        Generator.Result bfl;
        ModelFolder m = ModelFolder.resolve(Tiny.MODEL.toString(), t, v, tmp);
        try (Generator g = Generator.open(m, new CpuBackend(), cache, List.of())) {
            bfl = g.generate("a photo of a cat", s, 0, init, null);
        }
        assertEquals(1, cache.hits());
        double d = Compare.relToMax(bfl.latents(), diffusers.latents());
        assertTrue(d < 1e-6, "BFL vs diffusers naming: latents rel_to_max " + d);
        assertTrue(Compare.maxAbsDiff(Floats.toF32(bfl.decoded()), Floats.toF32(diffusers.decoded())) < 1e-5);
    }

    @Test
    void twoLorasStackToTheSumOfTheirEffects() {
        LoraSet file = LoraSet.load(Tiny.LORA);
        // A second LoRA on the same modules, the first with B negated, at strength 0.5: 1.0·L + 0.5·(−L) = 0.5·L.
        List<LoraModule> negated = new ArrayList<>();
        for (LoraModule m : file.modules()) {
            float[] b = Floats.toF32(m.b());
            for (int i = 0; i < b.length; i++) {
                b[i] = -b[i];
            }
            negated.add(new LoraModule(m.module(), m.a(), Tensor.of(b, m.b().shape()), m.alpha(), null, null));
        }
        LoraStack.Attached both = LoraStack.combine(List.of(file, LoraSet.of(negated)), List.of(1f, 0.5f), List.of());
        assertEquals(1f, both.multiplier());
        assertEquals(file.size(), both.modules().size());
        for (LoraModule m : both.modules()) {
            LoraModule one = file.get(m.module());
            assertEquals(2 * one.rank(), m.rank());
            float[] merged = product(m, 1f);
            float[] half = product(one, 0.5f);
            assertTrue(Compare.maxAbsDiff(merged, half) < 1e-6, m.module());
        }
        LoraStack.Attached single = LoraStack.combine(List.of(file), List.of(0.7f), List.of());
        assertEquals(0.7f, single.multiplier());
        assertEquals(file.modules(), single.modules());
    }

    /** s·(alpha/rank)·B·A as a dense [out, in] matrix. */
    private static float[] product(LoraModule m, float s) {
        float[] a = Floats.toF32(m.a());
        float[] b = Floats.toF32(m.b());
        int r = m.rank();
        int in = (int) m.in();
        int out = (int) m.out();
        float[] w = new float[out * in];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                double acc = 0;
                for (int k = 0; k < r; k++) {
                    acc += (double) b[o * r + k] * a[k * in + i];
                }
                w[o * in + i] = (float) (s * m.scale() * acc);
            }
        }
        return w;
    }

    @Test
    void loraSpecParsesAnOptionalScale() throws Exception {
        Path f = Files.writeString(tmp.resolve("a:b.safetensors"), "x");
        assertEquals(new LoraStack.Entry(Path.of("x.safetensors"), 0.8f), LoraStack.Entry.parse("x.safetensors:0.8"));
        assertEquals(new LoraStack.Entry(Path.of("x.safetensors"), 1f), LoraStack.Entry.parse("x.safetensors"));
        assertEquals(new LoraStack.Entry(Path.of("x.safetensors"), -1.5f), LoraStack.Entry.parse("x.safetensors:-1.5"));
        assertEquals(new LoraStack.Entry(f, 1f), LoraStack.Entry.parse(f.toString()));
        assertThrows(PipelineException.class, () -> LoraStack.Entry.parse("x.safetensors:NaN"));
        Path lora = Files.writeString(tmp.resolve("l.safetensors"), "x");
        assertEquals("--lora " + lora + ":abc: the scale \"abc\" is not a number (FILE or FILE:SCALE, e.g. " + lora
                + ":0.8)", assertThrows(PipelineException.class, () -> LoraStack.Entry.parse(lora + ":abc"))
                .getMessage());
    }

    @Test
    void aLoraForAnotherModelIsOneLine() {
        PipelineException missing = assertThrows(PipelineException.class,
                () -> Generator.open(tiny(), new CpuBackend(), null, List.of(new LoraStack.Entry(tmp.resolve("no"), 1f))));
        assertTrue(missing.getMessage().contains("no such file"), missing.getMessage());
        RuntimeException wrong = assertThrows(RuntimeException.class, () -> Generator.open(tiny(), new CpuBackend(), null,
                List.of(new LoraStack.Entry(Resources.path("lora/flux-tiny-lora.safetensors"), 1f))));
        assertFalse(wrong.getMessage().contains("\n"), wrong.getMessage());
    }

    @Test
    void seededNoiseIsReproducibleAndStandardNormal() {
        Latents g = new Latents(64, 64, 2, 16);
        float[] a = g.noise(42);
        assertArrayEquals(a, g.noise(42));
        assertFalse(java.util.Arrays.equals(a, g.noise(43)));
        double sum = 0;
        double sq = 0;
        for (float v : a) {
            sum += v;
            sq += v * v;
        }
        double mean = sum / a.length;
        double std = Math.sqrt(sq / a.length - mean * mean);
        assertTrue(Math.abs(mean) < 0.05 && Math.abs(std - 1) < 0.05, mean + " " + std);
        // drawn in [C, h, w] order, then packed
        java.util.Random r = new java.util.Random(42);
        assertEquals((float) r.nextGaussian(), g.unpack(a)[0]);
        assertEquals((float) r.nextGaussian(), g.unpack(a)[1]);
    }

    @Test
    void packingIsDiffusersPackLatents() {
        Latents g = new Latents(8, 12, 2, 3);
        float[] z = new float[3 * 6 * 4];
        for (int i = 0; i < z.length; i++) {
            z[i] = i;
        }
        float[] p = g.pack(z);
        assertEquals(6, g.tokens());
        // token (r=1, c=0), channel 2, (py=1, px=0): z[2, 3, 0]
        assertEquals(z[(2 * 6 + 3) * 4], p[(1 * 2 + 0) * 12 + 2 * 4 + 1 * 2 + 0]);
        assertArrayEquals(z, g.unpack(p));
        PipelineException e = assertThrows(PipelineException.class, () -> new Latents(30, 32, 8, 16));
        assertTrue(e.getMessage().contains("multiples of 16"), e.getMessage());
    }

    @Test
    void sameSeedSameImageAndEmbeddingsGoThroughTheCache() {
        PromptCache cache = new PromptCache(tmp.resolve("cache"));
        try (Generator g = Generator.open(tiny(), new CpuBackend(), cache, List.of())) {
            Generator.Result a = g.generate("a cat", SMALL, 5, null, null);
            Generator.Result b = g.generate("a cat", SMALL, 5, null, null);
            assertArrayEquals(a.latents(), b.latents());
            assertEquals(a.image(), b.image());
            assertEquals(1, cache.hits());
            Generator.Result c = g.generate("a cat", SMALL, 6, null, null);
            assertFalse(java.util.Arrays.equals(a.latents(), c.latents()));
        }
    }

    /**
     * Three seeds in one batched sampling give, bit for bit, the three images generated one at a time: every op of the
     * model treats batch elements apart, and the CPU kernels' summation order depends on sizes, not on where a row sits.
     * On the tiny pipeline at 16² (4 tokens) and on a toy-like pixel-codec folder at 32² (64 tokens, 192 rows a call).
     */
    @Test
    void batchedGenerationEqualsOneImageAtATime() {
        long[] seeds = {3, 11, 12};
        ModelFolder toy = ModelFolder.resolve(ToyFolder.create(tmp.resolve("toy")).toString(), null, null, tmp);
        Generator.Settings toySize = new Generator.Settings(32, 32, 2, 3.5, 16);
        for (Backend be : List.<Backend>of(new CpuBackend(), new NaiveBackend())) {
            for (ModelFolder m : List.of(tiny(), toy)) {
                Generator.Settings s = m == toy ? toySize : SMALL;
                try (Generator g = Generator.open(m, be, new PromptCache(tmp.resolve("cache")), List.of())) {
                    List<Generator.Result> batch = g.generate("a cat", s, seeds, null);
                    assertEquals(3, batch.size());
                    for (int i = 0; i < seeds.length; i++) {
                        Generator.Result one = g.generate("a cat", s, seeds[i], null, null);
                        assertArrayEquals(one.latents(), batch.get(i).latents(), be.name() + " " + m.spec() + " seed "
                                + seeds[i]);
                        assertArrayEquals(Floats.toF32(one.decoded()), Floats.toF32(batch.get(i).decoded()));
                        assertEquals(one.image(), batch.get(i).image());
                    }
                    assertFalse(java.util.Arrays.equals(batch.get(1).latents(), batch.get(2).latents()));
                }
            }
        }
    }

    /** The listener of a batched sampling sees every step once, with the B images' latents one after the other. */
    @Test
    void batchedSamplingReportsEachStepForAllImages() {
        try (Generator g = Generator.open(tiny(), new CpuBackend(), new PromptCache(tmp.resolve("cache")), List.of())) {
            List<Integer> steps = new ArrayList<>();
            int[] width = new int[1];
            List<Generator.Result> r = g.generate("a cat", SMALL, new long[]{1, 2}, (k, n, v, x) -> {
                steps.add(k);
                width[0] = x.length;
            });
            assertEquals(List.of(0, 1), steps);
            assertEquals(2 * r.getFirst().latents().length, width[0]);
        }
    }
}
