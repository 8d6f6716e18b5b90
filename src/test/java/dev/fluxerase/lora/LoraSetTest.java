package dev.fluxerase.lora;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoraSetTest {
    private static final Path AUTHORS = LoraFiles.resource("eraseanything-nudity-lora.safetensors");
    private static final Path TINY = LoraFiles.resource("flux-tiny-lora.safetensors");

    /** hidden 64 but FLUX-dev's block counts, so the authors' keys exist and only the shapes are wrong. */
    private static final FluxConfig HIDDEN_64 =
            new FluxConfig(64, 64, 768, 4096, 64, 4.0, 2, 19, 38, new int[]{4, 14, 14}, 10000, true, true);

    private static List<String> defaultModules(int depth) {
        List<String> m = new ArrayList<>();
        for (int i = 0; i < depth; i++) {
            m.add("transformer_blocks." + i + ".attn.add_k_proj");
            m.add("transformer_blocks." + i + ".attn.add_q_proj");
        }
        return m;
    }

    @Test
    void authorsLoraLoadsAndValidatesAgainstFluxDev() throws Exception {
        LoraSet set = LoraSet.load(AUTHORS, FluxConfig.FLUX_DEV);
        assertEquals(LoraSet.Format.DIFFUSERS, set.format());
        assertEquals(38, set.size());
        assertEquals(List.of(), set.warnings());
        assertEquals(defaultModules(19), set.modules().stream().map(LoraModule::module).toList());
        for (LoraModule m : set.modules()) {
            assertEquals(8, m.rank());
            assertEquals(8f, m.alpha());
            assertEquals(1f, m.scale());
            assertArrayEquals(new long[]{8, 3072}, m.a().shape());
            assertArrayEquals(new long[]{3072, 8}, m.b().shape());
            assertEquals("transformer." + m.module() + ".lora_A.weight", m.keyA());
            assertEquals("transformer." + m.module() + ".lora_B.weight", m.keyB());
        }
        // every tensor of the file became a factor: 76 tensors, 38 A + 38 B
        Set<String> keys = new TreeSet<>();
        LoraFiles.header(AUTHORS).fieldNames().forEachRemaining(keys::add);
        keys.remove("__metadata__");
        Set<String> used = new TreeSet<>();
        set.modules().forEach(m -> {
            used.add(m.keyA());
            used.add(m.keyB());
        });
        assertEquals(keys, used);
        // BF16 → F32 is exact: compare with the raw bytes decoded independently
        LoraModule m = set.get("transformer_blocks.11.attn.add_q_proj");
        assertF32Equals(LoraFiles.raw(AUTHORS, m.keyA()), m.a());
        assertF32Equals(LoraFiles.raw(AUTHORS, m.keyB()), m.b());
    }

    private static void assertF32Equals(double[] expected, Tensor t) {
        assertEquals(expected.length, t.numel());
        for (int i = 0; i < expected.length; i++) {
            assertEquals((float) expected[i], t.get(i), "element " + i);
        }
    }

    @Test
    void authorsLoraFailsAgainstAHidden64Config() {
        LoraSet set = LoraSet.load(AUTHORS);
        LoraException e = assertThrows(LoraException.class, () -> set.validate(HIDDEN_64));
        String msg = e.getMessage();
        assertTrue(msg.contains("eraseanything-nudity-lora.safetensors"), msg);
        assertTrue(msg.contains("'transformer.transformer_blocks.0.attn.add_k_proj.lora_A.weight'"), msg);
        assertTrue(msg.contains("expected shape [8, 64]") && msg.contains("got [8, 3072]"), msg);
        assertFalse(msg.contains("\n"), msg);
        assertThrows(LoraException.class, () -> LoraSet.load(AUTHORS, HIDDEN_64));
    }

    @Test
    void validateRejectsModulesTheConfigDoesNotHave() throws Exception {
        FluxConfig tiny = LoraTargetsTest.tinyConfig();
        LoraException e = assertThrows(LoraException.class, () -> LoraSet.load(AUTHORS, tiny));
        // tiny has 2 double blocks and hidden 64: block 0 fails on shape first
        assertTrue(e.getMessage().contains("expected shape [8, 64]"), e.getMessage());
        LoraSet deep = LoraSet.of(List.of(new LoraModule("transformer_blocks.2.attn.to_q", Tensor.zeros(4, 64),
                Tensor.zeros(64, 4), 4, null, null)));
        e = assertThrows(LoraException.class, () -> deep.validate(tiny));
        assertTrue(e.getMessage().contains("transformer_blocks.2.attn.to_q") && e.getMessage().contains("not a Linear"),
                e.getMessage());
        LoraSet wrongB = LoraSet.of(List.of(new LoraModule("proj_out", Tensor.zeros(4, 64), Tensor.zeros(64, 4), 4, null,
                null)));
        e = assertThrows(LoraException.class, () -> wrongB.validate(tiny));
        assertTrue(e.getMessage().contains("'proj_out.lora_B.weight'") && e.getMessage().contains("[16, 4]")
                && e.getMessage().contains("got [64, 4]"), e.getMessage());
    }

    @Test
    void tinyGoldenLoraLoadsAgainstTheTinyConfig() throws Exception {
        LoraSet set = LoraSet.load(TINY, LoraTargetsTest.tinyConfig());
        assertEquals(defaultModules(2), set.modules().stream().map(LoraModule::module).toList());
        for (LoraModule m : set.modules()) {
            // bare peft keys, no alpha tensors, no peft metadata: alpha = rank = 4 (manifest: rank 4, alpha 4)
            assertEquals(m.module() + ".lora_A.weight", m.keyA());
            assertEquals(4, m.rank());
            assertEquals(4f, m.alpha());
            assertF32Equals(LoraFiles.raw(TINY, m.keyA()), m.a());
            assertF32Equals(LoraFiles.raw(TINY, m.keyB()), m.b());
        }
    }

    @Test
    void saveThenLoadGivesIdenticalFactors(@TempDir Path dir) throws Exception {
        Random rng = new Random(7);
        List<LoraModule> mods = List.of(
                new LoraModule("transformer_blocks.10.attn.to_q", LoraFiles.random(rng, 3, 64), LoraFiles.random(rng, 64, 3),
                        1.5f, null, null),
                new LoraModule("transformer_blocks.2.ff.net.2", LoraFiles.random(rng, 2, 256), LoraFiles.random(rng, 64, 2),
                        0.25f, null, null),
                new LoraModule("norm_out.linear", LoraFiles.random(rng, 5, 64), LoraFiles.random(rng, 128, 5), 5f, null,
                        null));
        LoraSet set = LoraSet.of(mods);
        Path f32 = dir.resolve("f32.safetensors");
        set.save(f32);
        // the tiny model's widths with 12 double blocks, so that block 10 exists
        LoraSet back = LoraSet.load(f32,
                new FluxConfig(16, 16, 24, 32, 64, 4.0, 2, 12, 2, new int[]{4, 14, 14}, 10000, true, true));
        assertEquals(List.of(), back.warnings());
        assertEquals(List.of("norm_out.linear", "transformer_blocks.2.ff.net.2", "transformer_blocks.10.attn.to_q"),
                back.modules().stream().map(LoraModule::module).toList());
        for (LoraModule m : mods) {
            LoraModule r = back.get(m.module());
            assertArrayEquals(Floats.toF32(m.a()), Floats.toF32(r.a()), m.module());
            assertArrayEquals(Floats.toF32(m.b()), Floats.toF32(r.b()), m.module());
            assertArrayEquals(m.a().shape(), r.a().shape());
            assertArrayEquals(m.b().shape(), r.b().shape());
            assertEquals(m.alpha(), r.alpha());
            assertEquals("transformer." + m.module() + ".lora_A.weight", r.keyA());
        }
        Path bf16 = dir.resolve("bf16.safetensors");
        set.save(bf16, DType.BF16);
        assertEquals("BF16", LoraFiles.header(bf16).get("transformer.norm_out.linear.lora_B.weight").get("dtype").asText());
        assertEquals("F32", LoraFiles.header(bf16).get("transformer.norm_out.linear.alpha").get("dtype").asText());
        LoraSet half = LoraSet.load(bf16);
        for (LoraModule m : mods) {
            float[] a = Floats.toF32(m.a());
            float[] r = Floats.toF32(half.get(m.module()).a());
            for (int i = 0; i < a.length; i++) {
                assertEquals(Floats.bf16ToF32(Floats.f32ToBf16(a[i])), r[i]);
            }
            assertEquals(m.alpha(), half.get(m.module()).alpha());
        }
        assertThrows(IllegalArgumentException.class, () -> set.save(dir.resolve("x.safetensors"), DType.F16));
    }

    @Test
    void savedDefaultTargetsFileIsWhatDiffusersExpects(@TempDir Path dir) throws Exception {
        LoraSet set = LoraSet.create(FluxConfig.FLUX_DEV, LoraSet.DEFAULT_TARGETS, 8, 8f, 1, LoraSet.Init.GAUSSIAN);
        Path file = dir.resolve("pytorch_lora_weights.safetensors");
        set.save(file);
        JsonNode h = LoraFiles.header(file);
        assertEquals("{\"format\":\"pt\"}", h.get("__metadata__").toString());
        // the authors' key set (what diffusers' save_lora_weights wrote) plus one alpha per module
        Set<String> expected = new LinkedHashSet<>();
        LoraFiles.header(AUTHORS).fieldNames().forEachRemaining(expected::add);
        expected.remove("__metadata__");
        for (String m : defaultModules(19)) {
            expected.add("transformer." + m + ".alpha");
        }
        Set<String> actual = new LinkedHashSet<>();
        h.fieldNames().forEachRemaining(actual::add);
        actual.remove("__metadata__");
        assertEquals(new TreeSet<>(expected), new TreeSet<>(actual));
        assertEquals(114, actual.size());
        long offset = 0;
        List<String> order = new ArrayList<>();
        for (String k : actual) {
            JsonNode e = h.get(k);
            assertEquals("F32", e.get("dtype").asText(), k);
            long[] shape = new long[e.get("shape").size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = e.get("shape").get(i).asLong();
            }
            long[] want = k.endsWith(".alpha") ? new long[0]
                    : k.endsWith(".lora_A.weight") ? new long[]{8, 3072} : new long[]{3072, 8};
            assertArrayEquals(want, shape, k);
            assertEquals(offset, e.get("data_offsets").get(0).asLong(), k);
            offset = e.get("data_offsets").get(1).asLong();
            assertEquals(4 * Tensor.numel(shape), offset - e.get("data_offsets").get(0).asLong(), k);
            order.add(k);
        }
        // deterministic order: blocks numerically, then alpha, lora_A, lora_B
        assertEquals("transformer.transformer_blocks.0.attn.add_k_proj.alpha", order.get(0));
        assertEquals("transformer.transformer_blocks.0.attn.add_k_proj.lora_A.weight", order.get(1));
        assertEquals("transformer.transformer_blocks.2.attn.add_k_proj.alpha", order.get(12));
        assertEquals("transformer.transformer_blocks.18.attn.add_q_proj.lora_B.weight", order.get(113));
        assertEquals(8.0, LoraFiles.raw(file, "transformer.transformer_blocks.5.attn.add_q_proj.alpha")[0]);
    }

    @Test
    void createDrawsAWithTheRequestedStatisticsAndZeroB() {
        LoraSet g = LoraSet.create(FluxConfig.FLUX_DEV, LoraSet.DEFAULT_TARGETS, 8, 16f, 42, LoraSet.Init.GAUSSIAN);
        assertEquals(defaultModules(19), g.modules().stream().map(LoraModule::module).toList());
        double[] s = stats(g);
        // std 1/r = 0.125; with 933,888 samples the sampling error of the std is ~0.07 %
        assertEquals(0.125, s[1], 0.125 * 0.01);
        assertEquals(0, s[0], 3 * 0.125 / Math.sqrt(s[3]));
        for (LoraModule m : g.modules()) {
            assertEquals(16f, m.alpha());
            assertEquals(2f, m.scale());
            assertArrayEquals(new long[]{8, 3072}, m.a().shape());
            assertArrayEquals(new long[]{3072, 8}, m.b().shape());
            assertTrue(Arrays.equals(new float[3072 * 8], Floats.toF32(m.b())), m.module());
        }
        LoraSet k = LoraSet.create(FluxConfig.FLUX_DEV, List.of("attn.to_q", "ff.net.2"), 4, 4f, 42, LoraSet.Init.KAIMING);
        assertEquals(19 + 38 + 19, k.size());
        for (LoraModule m : k.modules()) {
            double bound = 1 / Math.sqrt(m.in());
            double[] ms = stats(LoraSet.of(List.of(m)));
            assertTrue(ms[2] <= bound, m.module() + " max " + ms[2] + " > " + bound);
            assertTrue(ms[2] > 0.99 * bound, m.module());
        }
        LoraSet kq = LoraSet.create(FluxConfig.FLUX_DEV, List.of("transformer_blocks.0.attn.to_q"), 64, 64f, 3,
                LoraSet.Init.KAIMING);
        double[] ks = stats(kq);
        // U(−b, b) has std b/√3 with b = 1/√3072; 196,608 samples
        assertEquals(1 / Math.sqrt(3 * 3072.0), ks[1], 0.01 / Math.sqrt(3 * 3072.0));
    }

    /** mean, std, max |x| and count over every A of a set. */
    private static double[] stats(LoraSet set) {
        double sum = 0;
        double sq = 0;
        double max = 0;
        long n = 0;
        for (LoraModule m : set.modules()) {
            for (float v : Floats.toF32(m.a())) {
                sum += v;
                sq += (double) v * v;
                max = Math.max(max, Math.abs(v));
                n++;
            }
        }
        double mean = sum / n;
        return new double[]{mean, Math.sqrt(sq / n - mean * mean), max, n};
    }

    @Test
    void createIsSeededPerModule() {
        FluxConfig cfg = FluxConfig.FLUX_SCHNELL;
        LoraSet both = LoraSet.create(cfg, LoraSet.DEFAULT_TARGETS, 4, 4f, 9, LoraSet.Init.GAUSSIAN);
        LoraSet again = LoraSet.create(cfg, LoraSet.DEFAULT_TARGETS, 4, 4f, 9, LoraSet.Init.GAUSSIAN);
        LoraSet qOnly = LoraSet.create(cfg, List.of("attn.add_q_proj"), 4, 4f, 9, LoraSet.Init.GAUSSIAN);
        LoraSet other = LoraSet.create(cfg, LoraSet.DEFAULT_TARGETS, 4, 4f, 10, LoraSet.Init.GAUSSIAN);
        String q = "transformer_blocks.3.attn.add_q_proj";
        assertArrayEquals(Floats.toF32(both.get(q).a()), Floats.toF32(again.get(q).a()));
        assertArrayEquals(Floats.toF32(both.get(q).a()), Floats.toF32(qOnly.get(q).a()));
        assertFalse(Arrays.equals(Floats.toF32(both.get(q).a()), Floats.toF32(other.get(q).a())));
        assertFalse(Arrays.equals(Floats.toF32(both.get(q).a()),
                Floats.toF32(both.get("transformer_blocks.3.attn.add_k_proj").a())));
        assertThrows(IllegalArgumentException.class,
                () -> LoraSet.create(cfg, List.of("attn.nothing"), 4, 4f, 9, LoraSet.Init.GAUSSIAN));
        assertThrows(IllegalArgumentException.class,
                () -> LoraSet.create(cfg, LoraSet.DEFAULT_TARGETS, 0, 4f, 9, LoraSet.Init.GAUSSIAN));
    }

    @Test
    void duplicateModulesAreRejected() {
        LoraModule m = new LoraModule("proj_out", Tensor.zeros(1, 4), Tensor.zeros(4, 1), 1, null, null);
        assertThrows(LoraException.class, () -> LoraSet.of(List.of(m, m)));
        assertThrows(IllegalArgumentException.class,
                () -> new LoraModule("proj_out", Tensor.zeros(2, 4), Tensor.zeros(4, 1), 1, null, null));
    }
}
