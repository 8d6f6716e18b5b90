package dev.fluxerase.vae;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

import static dev.fluxerase.vae.VaeGolden.TINY;
import static dev.fluxerase.vae.VaeGolden.tensor;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Both namings, and one-line errors for checkpoints that do not fit the config. */
class VaeWeightsTest {
    private static final Path WEIGHTS = TINY.resolve("weights_diffusers.safetensors");
    private static final Path INPUTS = TINY.resolve("inputs.safetensors");

    private static AutoencoderConfig g32() {
        return AutoencoderConfig.read(TINY.resolve("config_g32.json"));
    }

    private static JsonNode nameMap() throws IOException {
        return new ObjectMapper().readTree(TINY.resolve("name_map.json").toFile());
    }

    /** The golden's diffusers → BFL map, entry by entry, including which weights become [C, C, 1, 1]. */
    @Test
    void bflNamesMatchGoldenMap() throws IOException {
        JsonNode map = nameMap();
        assertEquals(VaeGolden.MapSource.copyOf(WEIGHTS).names().size(), map.size(), "one entry per weight");
        map.properties().forEach(e -> {
            assertEquals(e.getValue().get("bfl").asText(), VaeWeights.bflName(e.getKey(), 2), e.getKey());
            boolean attentionWeight = e.getKey().matches(".*attentions\\.0\\.(to_q|to_k|to_v|to_out\\.0)\\.weight");
            assertEquals(attentionWeight, e.getValue().get("reshape_to_1x1_conv").asBoolean(), e.getKey());
        });
    }

    /** FLUX.md §5.4's 4-level examples: the decoder's up blocks are reversed. */
    @Test
    void bflNamesForFluxLevels() {
        assertEquals("decoder.up.3.block.2.conv1.weight", VaeWeights.bflName("decoder.up_blocks.0.resnets.2.conv1.weight", 4));
        assertEquals("decoder.up.1.upsample.conv.bias", VaeWeights.bflName("decoder.up_blocks.2.upsamplers.0.conv.bias", 4));
        assertEquals("decoder.up.0.block.0.nin_shortcut.weight",
                VaeWeights.bflName("decoder.up_blocks.3.resnets.0.conv_shortcut.weight", 4));
        assertEquals("encoder.down.2.downsample.conv.weight",
                VaeWeights.bflName("encoder.down_blocks.2.downsamplers.0.conv.weight", 4));
        assertEquals("encoder.norm_out.weight", VaeWeights.bflName("encoder.conv_norm_out.weight", 4));
    }

    /** The golden weights renamed to BFL in memory (attention projections as [C, C, 1, 1]) give bit-identical results. */
    @Test
    void bflCheckpointGivesIdenticalOutputs() throws IOException {
        JsonNode map = nameMap();
        VaeGolden.MapSource diffusers = VaeGolden.MapSource.copyOf(WEIGHTS);
        Map<String, Tensor> renamed = new LinkedHashMap<>();
        diffusers.tensors().forEach((name, t) -> {
            JsonNode e = map.get(name);
            long[] shape = e.get("reshape_to_1x1_conv").asBoolean() ? new long[]{t.dim(0), t.dim(1), 1, 1} : t.shape();
            renamed.put(e.get("bfl").asText(), t.view(shape));
        });
        VaeGolden.MapSource bfl = new VaeGolden.MapSource("bfl-renamed", renamed);

        Tensor z = tensor(INPUTS, "latent_z");
        Tensor image = tensor(INPUTS, "image");
        float[] decodedD;
        float[] meanD;
        try (VaeWeights w = VaeWeights.of(diffusers, g32())) {
            decodedD = VaeGolden.values(VaeDecoder.load(w, VaeGolden.CPU).decode(z));
            meanD = VaeGolden.values(VaeEncoder.load(w, VaeGolden.CPU).encode(image));
        }
        try (VaeWeights w = VaeWeights.of(bfl, g32())) {
            assertEquals(VaeWeights.Naming.BFL, w.naming());
            assertArrayEquals(decodedD, VaeGolden.values(VaeDecoder.load(w, VaeGolden.CPU).decode(z)));
            assertArrayEquals(meanD, VaeGolden.values(VaeEncoder.load(w, VaeGolden.CPU).encode(image)));
        }
        Map<String, Tensor> flat = new LinkedHashMap<>(renamed);
        flat.put("decoder.mid.attn_1.q.weight", renamed.get("decoder.mid.attn_1.q.weight").view(64, 64));
        assertError(new VaeGolden.MapSource("bfl.safetensors", flat), "bfl.safetensors: tensor decoder.mid.attn_1.q.weight:"
                + " expected shape [64, 64, 1, 1], found [64, 64]");
    }

    @Test
    void wrongShapeMissingAndExtraTensorsAreNamed() {
        assertError(edit(m -> m.put("decoder.conv_in.weight", Tensor.zeros(64, 16, 1, 1))),
                "edited: tensor decoder.conv_in.weight: expected shape [64, 16, 3, 3], found [64, 16, 1, 1]");
        assertError(edit(m -> m.remove("decoder.mid_block.attentions.0.to_q.weight")),
                "edited: missing tensor decoder.mid_block.attentions.0.to_q.weight (DIFFUSERS naming");
        assertError(edit(m -> m.put("decoder.up_blocks.0.resnets.2.conv1.weight", Tensor.zeros(1))),
                "edited: unexpected tensor decoder.up_blocks.0.resnets.2.conv1.weight: the config");
        assertError(edit(m -> m.put("decoder.conv_in.bias", Tensor.wrap(DType.I64, MemorySegment.ofArray(new long[64]),
                64))), "edited: tensor decoder.conv_in.bias: expected a float dtype (F32, BF16, F16), found I64");
        float[] nan = new float[64];
        nan[9] = Float.NaN;
        assertError(edit(m -> m.put("decoder.conv_in.bias", Tensor.of(nan, 64))), "edited: tensor decoder.conv_in.bias: 1 "
                + "of its 64 values are not finite (the first, at index 9, is NaN); the file is damaged");
    }

    @Test
    void foreignLayoutsAreRejected() {
        assertError(edit(m -> m.put("quant_conv.weight", Tensor.zeros(32, 32, 1, 1))),
                "edited: has tensor quant_conv.weight: not FLUX's VAE layout");
        assertError(edit(m -> m.put("decoder.up.0.block.0.norm1.weight", Tensor.zeros(32))),
                "edited: mixes diffusers");
        assertError(new VaeGolden.MapSource("unet.safetensors", Map.of("conv_in.weight", Tensor.zeros(1))),
                "unet.safetensors: not a VAE checkpoint");
    }

    @Test
    void badInputTensorsAreNamed() {
        VaeDecoder decoder;
        VaeEncoder encoder;
        try (VaeWeights w = VaeWeights.of(VaeGolden.MapSource.copyOf(WEIGHTS), g32())) {
            decoder = VaeDecoder.load(w, VaeGolden.CPU);
            encoder = VaeEncoder.load(w, VaeGolden.CPU);
        }
        VaeException e = assertThrows(VaeException.class, () -> decoder.decode(Tensor.zeros(1, 4, 8, 8)));
        assertEquals("latents: expected a CPU float tensor [B, 16, H, W], found [1, 4, 8, 8] F32 on CPU", e.getMessage());
        e = assertThrows(VaeException.class, () -> encoder.encode(Tensor.zeros(1, 3, 31, 32)));
        assertEquals("image: height 31 and width 32 must be multiples of 2", e.getMessage());
    }

    /** A batch of two gives each image's own result. */
    @Test
    void batchesAreIndependent() {
        VaeDecoder decoder;
        try (VaeWeights w = VaeWeights.of(VaeGolden.MapSource.copyOf(WEIGHTS), g32())) {
            decoder = VaeDecoder.load(w, VaeGolden.CPU);
        }
        float[] z = VaeGolden.values(tensor(INPUTS, "latent_z"));
        float[] pair = Arrays.copyOf(z, 2 * z.length);
        for (int i = 0; i < z.length; i++) {
            pair[z.length + i] = -z[i];
        }
        float[] one = VaeGolden.values(decoder.decode(Tensor.of(z, 1, 16, 8, 8)));
        float[] neg = new float[z.length];
        for (int i = 0; i < z.length; i++) {
            neg[i] = -z[i];
        }
        float[] other = VaeGolden.values(decoder.decode(Tensor.of(neg, 1, 16, 8, 8)));
        float[] both = VaeGolden.values(decoder.decode(Tensor.of(pair, 2, 16, 8, 8)));
        assertArrayEquals(one, Arrays.copyOfRange(both, 0, one.length));
        assertArrayEquals(other, Arrays.copyOfRange(both, one.length, both.length));
    }

    private static VaeGolden.MapSource edit(Consumer<Map<String, Tensor>> change) {
        Map<String, Tensor> m = new LinkedHashMap<>(VaeGolden.MapSource.copyOf(WEIGHTS).tensors());
        change.accept(m);
        return new VaeGolden.MapSource("edited", m);
    }

    private static void assertError(VaeGolden.MapSource source, String start) {
        VaeException e = assertThrows(VaeException.class, () -> {
            try (VaeWeights w = VaeWeights.of(source, g32())) {
                VaeDecoder.load(w, VaeGolden.CPU);
                VaeEncoder.load(w, VaeGolden.CPU);
            }
        });
        assertTrue(e.getMessage().startsWith(start), e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    }
}
