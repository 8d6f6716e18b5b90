package dev.fluxerase.cuda;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.flux.FluxLayout;
import dev.fluxerase.flux.FluxWeights;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The full-size harness's own code on the CPU with a tiny config (no GPU needed): every phase runs, reports one JSON
 * line with finite results, and the LoRA and input gradients it checks are non-zero.
 */
class FullSizeFluxTimingTest {
    private static final FluxConfig TINY =
            new FluxConfig(16, 16, 8, 24, 32, 2.0, 2, 2, 2, new int[]{4, 6, 6}, 10000, true, true);
    private static final ObjectMapper JSON = new ObjectMapper();

    private static List<JsonNode> run(java.util.function.Consumer<FullSizeFluxTiming> what) {
        List<JsonNode> lines = new ArrayList<>();
        what.accept(new FullSizeFluxTiming(new CpuBackend(), line -> {
            try {
                lines.add(JSON.readTree(line));
            } catch (Exception e) {
                throw new AssertionError("not JSON: " + line, e);
            }
        }, 1));
        return lines;
    }

    @Test
    void modelPhasesReportFiniteNonZeroResults() {
        List<JsonNode> lines = run(t -> t.model(TINY, 4, 5));
        assertEquals(List.of("forward", "lora_fwd_bwd_ckpt", "lora_fwd_bwd", "lora_fwd_bwd_bf16_mlp"),
                lines.stream().map(l -> l.get("phase").asText()).toList());
        for (JsonNode l : lines) {
            assertTrue(l.get("finite").asBoolean(), l.toString());
            assertEquals(16, l.get("img_tokens").asInt());
            assertEquals(5, l.get("txt_tokens").asInt());
            assertTrue(l.get("ms").asDouble() > 0, l.toString());
        }
        // B starts at zero, so only dB is non-zero after one backward: it must be, or the LoRA was not reached
        assertTrue(lines.get(1).get("check").asDouble() > 0);
        assertEquals(lines.get(1).get("check").asDouble(), lines.get(2).get("check").asDouble(),
                1e-4 * lines.get(1).get("check").asDouble(), "checkpointing changes the LoRA gradients");
        // ‖dB‖² with BF16 MLP activations: within bf16 rounding of the F32 run's, not the same bits
        assertEquals(lines.get(2).get("check").asDouble(), lines.get(3).get("check").asDouble(),
                5e-2 * lines.get(2).get("check").asDouble(), "BF16 MLP activations moved the LoRA gradients");
    }

    @Test
    void blockPhasesReportInputGradients() {
        List<JsonNode> lines = run(t -> t.blocks(TINY, 4, 5));
        assertEquals(List.of("blocks_forward", "blocks_fwd_bwd_inputs"),
                lines.stream().map(l -> l.get("phase").asText()).toList());
        assertTrue(lines.get(1).get("check").asDouble() > 0);
    }

    @Test
    void randomWeightsAreBf16WithTheLayoutShapesAndSeeded() {
        FluxWeights w = FullSizeFluxTiming.randomWeights(new CpuBackend(), TINY, 1);
        FluxWeights again = FullSizeFluxTiming.randomWeights(new CpuBackend(), TINY, 1);
        for (FluxLayout.Param p : FluxLayout.of(TINY).params()) {
            Tensor t = w.tensor(p.name());
            assertEquals(DType.BF16, t.dtype());
            assertArrayEquals(p.shape(), t.shape());
            float[] v = Floats.toF32(t);
            assertArrayEquals(v, Floats.toF32(again.tensor(p.name())), p.name());
            double bound = p.shape().length == 2 ? 1 / Math.sqrt(p.shape()[1]) : 0.02;
            for (float x : v) {
                if (p.shape().length == 1 && p.name().endsWith(".weight")) {
                    assertEquals(1f, x, p.name());
                } else {
                    assertTrue(Math.abs(x) <= bound * 1.01, p.name() + ": " + x + " outside ±" + bound);
                }
            }
        }
    }

    @Test
    void oneBlockEachHasFluxDevWidths() {
        FluxConfig dev = FluxConfig.FLUX_DEV;
        FluxConfig one = FullSizeFluxTiming.ONE_BLOCK_EACH;
        assertEquals(1, one.depth());
        assertEquals(1, one.depthSingleBlocks());
        assertEquals(dev.hiddenSize(), one.hiddenSize());
        assertEquals(dev.numHeads(), one.numHeads());
        assertEquals(dev.mlpHidden(), one.mlpHidden());
        assertEquals(dev.contextInDim(), one.contextInDim());
        assertArrayEquals(dev.axesDim(), one.axesDim());
        assertEquals(dev.guidanceEmbed(), one.guidanceEmbed());
    }
}
