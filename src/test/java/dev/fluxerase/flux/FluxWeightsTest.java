package dev.fluxerase.flux;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.flux.FluxLayout.Naming;
import dev.fluxerase.flux.FluxLayout.Param;
import dev.fluxerase.flux.FluxLayout.Slot;
import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Compare;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FluxWeightsTest {
    @TempDir
    Path tmp;

    private static Set<String> keys(JsonNode map) {
        Set<String> k = new TreeSet<>();
        map.fieldNames().forEachRemaining(k::add);
        return k;
    }

    /** Every diffusers tensor of name_map.json is the BFL slice the layout says, halves swapped for norm_out. */
    @Test
    void layoutAgreesWithTheReferenceNameMap() {
        FluxConfig c = Golden.config();
        FluxLayout layout = FluxLayout.of(c);
        JsonNode map = Golden.nameMap();
        Map<String, long[]> diffusers = layout.fileTensors(Naming.DIFFUSERS);
        assertEquals(keys(map), new TreeSet<>(diffusers.keySet()));
        Set<String> bflNames = new TreeSet<>();
        map.properties().forEach(e -> bflNames.add(e.getValue().get("bfl").asText()));
        assertEquals(bflNames, new TreeSet<>(layout.fileTensors(Naming.BFL).keySet()));
        long h = c.hiddenSize();
        int checked = 0;
        for (Param p : layout.params()) {
            Slot d = p.diffusers();
            Slot b = p.bfl();
            JsonNode m = map.get(d.tensor());
            assertEquals(m.get("bfl").asText(), b.tensor(), p.name());
            if (m.get("swap_halves").asBoolean()) {
                // diffusers rows [0, h) are BFL rows [h, 2h) and vice versa
                assertEquals((d.row() + h) % (2 * h), b.row(), p.name());
                assertEquals(h, d.rows());
            } else {
                assertEquals(p.name(), d.tensor());
                assertEquals(0, d.row());
                JsonNode rows = m.get("rows");
                long r0 = rows.isNull() ? 0 : rows.get(0).asLong();
                long r1 = rows.isNull() ? layout.fileTensors(Naming.BFL).get(b.tensor())[0] : rows.get(1).asLong();
                assertEquals(r0, b.row(), p.name());
                assertEquals(r1 - r0, b.rows(), p.name());
            }
            checked++;
        }
        assertEquals(map.size() + 2, checked, "every diffusers tensor, norm_out.linear's two in two halves");
    }

    @Test
    void bf16FileIsReadInPlaceAsRowSlices() {
        FluxConfig c = Golden.config();
        try (FluxWeights w = FluxWeights.open(Golden.weightsBf16(), c)) {
            assertEquals(Naming.BFL, w.naming());
            assertEquals("", w.prefix());
            assertEquals(List.of(), w.unexpected());
            Tensor q = w.tensor("transformer_blocks.1.attn.add_k_proj.weight");
            assertEquals(DType.BF16, q.dtype());
            assertTrue(q.data().isMapped(), "a slice of the mapped file");
            try (TensorSource s = Safetensors.open(Golden.weightsBf16())) {
                Tensor qkv = s.tensor("double_blocks.1.txt_attn.qkv.weight");
                assertArrayEquals(Floats.toF32(qkv.sliceRows(c.hiddenSize(), c.hiddenSize())), Floats.toF32(q));
            }
        }
    }

    @Test
    void diffusersNamingGivesTheSameModelAndGradientsUnderItsOwnNames() {
        Path dir = tmp.resolve("transformer");
        Path file = dir.resolve("diffusion_pytorch_model.safetensors");
        dir.toFile().mkdirs();
        Golden.writeDiffusersWeights(file);
        FluxConfig c = Golden.config();
        Backend be = new CpuBackend();
        float[] outBfl;
        try (FluxWeights w = FluxWeights.open(Golden.WEIGHTS_BFL, c)) {
            outBfl = be.download(new FluxModel(w, be).forward(Golden.inputs(be, c), false));
        }
        try (FluxWeights w = FluxWeights.open(dir, c)) {
            assertEquals(Naming.DIFFUSERS, w.naming());
            FluxModel m = new FluxModel(w, be);
            assertArrayEquals(outBfl, be.download(m.forward(Golden.inputs(be, c), false)));
            FluxGradients g = m.newGradients(true, false);
            m.backward(Golden.gradOutput(be), g);
            Map<String, Tensor> grads = w.toFileLayout(n -> be.download(g.param(n)));
            JsonNode map = Golden.nameMap();
            assertEquals(keys(map), new TreeSet<>(grads.keySet()));
            Map<String, float[]> ref = Golden.read("grads.safetensors");
            Map<String, long[]> bflShapes = FluxLayout.of(c).fileTensors(Naming.BFL);
            for (Map.Entry<String, Tensor> e : grads.entrySet()) {
                JsonNode m2 = map.get(e.getKey());
                float[] full = ref.get(m2.get("bfl").asText());
                long[] shape = bflShapes.get(m2.get("bfl").asText());
                int rowSize = (int) (Tensor.numel(shape) / shape[0]);
                JsonNode rows = m2.get("rows");
                int r0 = rows.isNull() ? 0 : rows.get(0).asInt();
                float[] expect = new float[(int) e.getValue().numel()];
                System.arraycopy(full, r0 * rowSize, expect, 0, expect.length);
                if (m2.get("swap_halves").asBoolean()) {
                    float[] s = new float[expect.length];
                    System.arraycopy(expect, expect.length / 2, s, 0, expect.length / 2);
                    System.arraycopy(expect, 0, s, expect.length / 2, expect.length / 2);
                    expect = s;
                }
                double r = Compare.relToMax(Floats.toF32(e.getValue()), expect);
                assertTrue(r < 2e-3, e.getKey() + " " + r);
            }
        }
    }

    @Test
    void diffusersFolderConfigIsFoundBesideTheWeights() throws Exception {
        Path dir = tmp.resolve("transformer");
        Files.createDirectories(dir);
        Golden.writeDiffusersWeights(dir.resolve("diffusion_pytorch_model.safetensors"));
        Files.writeString(dir.resolve("config.json"), """
                {"_class_name": "FluxTransformer2DModel", "attention_head_dim": 32, "axes_dims_rope": [4, 14, 14],
                 "guidance_embeds": true, "in_channels": 16, "joint_attention_dim": 32, "num_attention_heads": 2,
                 "num_layers": 2, "num_single_layers": 2, "out_channels": null, "patch_size": 1,
                 "pooled_projection_dim": 24}""");
        Files.writeString(tmp.resolve("model_index.json"), "{\"_class_name\": \"FluxPipeline\"}");
        try (FluxWeights w = FluxWeights.open(tmp, null)) {
            assertEquals(Golden.config(), w.config());
            assertEquals(Naming.DIFFUSERS, w.naming());
        }
    }

    @Test
    void prefixedBflKeysAreFoundAndKeptForGradients() {
        Map<String, Tensor> t = new LinkedHashMap<>();
        try (TensorSource s = Safetensors.open(Golden.WEIGHTS_BFL)) {
            for (String n : s.names()) {
                t.put("model.diffusion_model." + n, Tensor.of(Floats.toF32(s.tensor(n)), s.info(n).shape()));
            }
        }
        t.put("vae.decoder.conv_in.weight", Tensor.zeros(2, 2));
        Path file = tmp.resolve("prefixed.safetensors");
        SafetensorsWriter.write(file, t, Map.of());
        try (FluxWeights w = FluxWeights.open(file, Golden.config())) {
            assertEquals("model.diffusion_model.", w.prefix());
            assertEquals(List.of("vae.decoder.conv_in.weight"), w.unexpected());
            Map<String, Tensor> back = w.toFileLayout(n -> Floats.toF32(w.tensor(n)));
            assertEquals(t.size() - 1, back.size());
            for (Map.Entry<String, Tensor> e : back.entrySet()) {
                assertArrayEquals(Floats.toF32(t.get(e.getKey())), Floats.toF32(e.getValue()), e.getKey());
            }
        }
    }

    @Test
    void missingAndMisshapenTensorsAreNamed() {
        Map<String, Tensor> t = new HashMap<>();
        try (TensorSource s = Safetensors.open(Golden.WEIGHTS_BFL)) {
            for (String n : s.names()) {
                t.put(n, Tensor.of(Floats.toF32(s.tensor(n)), s.info(n).shape()));
            }
        }
        Map<String, Tensor> missing = new LinkedHashMap<>(t);
        missing.remove("single_blocks.1.linear2.bias");
        Path a = tmp.resolve("missing.safetensors");
        SafetensorsWriter.write(a, missing, Map.of());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FluxWeights.open(a, Golden.config()));
        assertTrue(e.getMessage().startsWith(a + ": tensor single_blocks.1.linear2.bias missing (expected [64]"),
                e.getMessage());
        Map<String, Tensor> misshapen = new LinkedHashMap<>(t);
        misshapen.put("double_blocks.0.txt_attn.qkv.weight", Tensor.zeros(64, 192));
        Path b = tmp.resolve("misshapen.safetensors");
        SafetensorsWriter.write(b, misshapen, Map.of());
        e = assertThrows(IllegalArgumentException.class, () -> FluxWeights.open(b, Golden.config()));
        assertTrue(e.getMessage().startsWith(b + ": tensor double_blocks.0.txt_attn.qkv.weight: expected shape"
                + " [192, 64], got [64, 192] F32"), e.getMessage());
        Path c = tmp.resolve("not-flux.safetensors");
        SafetensorsWriter.write(c, Map.of("a", Tensor.zeros(1)), Map.of());
        e = assertThrows(IllegalArgumentException.class, () -> FluxWeights.open(c, null));
        assertTrue(e.getMessage().contains("not a FLUX transformer"), e.getMessage());
    }

    @Test
    void presetsAreChosenByShape() {
        FluxConfig dev = FluxConfig.select(tmp, cfg -> cfg.guidanceEmbed() ? null : "no");
        assertSame(FluxConfig.FLUX_DEV, dev);
        FluxConfig schnell = FluxConfig.select(tmp, cfg -> cfg.guidanceEmbed() ? "guidance_in missing" : null);
        assertSame(FluxConfig.FLUX_SCHNELL, schnell);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FluxConfig.select(tmp, cfg -> "shape"));
        assertTrue(e.getMessage().contains("heads and the RoPE axes cannot be inferred"), e.getMessage());
    }
}
