package dev.fluxerase.cuda;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.erase.StepRecord;
import dev.fluxerase.erase.TinyRun;
import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.flux.FluxLayout;
import dev.fluxerase.flux.FluxWeights;
import dev.fluxerase.tensor.Floats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The full-size erase and generate harness's own code on the CPU at the tiny pipeline's transformer size (no GPU
 * needed): the random checkpoint file reads back as the harness's weights, and a run gives one erasure step, one
 * preservation step and a generate, each a finite JSON line, with no prompt missing the cache.
 */
class FullSizeEraseTimingTest {
    private static final FluxConfig TINY = FluxConfig.read(TinyRun.MODEL.resolve("transformer/config.json"));
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void tinyRunReportsBothStepsAndTheGenerate() throws Exception {
        List<JsonNode> lines = new ArrayList<>();
        new FullSizeEraseTiming(tmp, "cpu", CpuBackend::new, line -> {
            try {
                lines.add(JSON.readTree(line));
            } catch (Exception e) {
                throw new AssertionError("not JSON: " + line, e);
            }
        }).run(new FullSizeEraseTiming.Size(TINY, 4, 16, 2, 0));
        assertEquals(List.of("erase_step", "preservation_step", "generate"),
                lines.stream().map(l -> l.get("phase").asText()).toList());
        for (JsonNode l : lines) {
            assertTrue(l.get("finite").asBoolean(), l.toString());
            assertTrue(l.get("seconds").asDouble() > 0, l.toString());
            assertEquals(16, l.get("img_tokens").asInt(), l.toString());
            assertEquals(16, l.get("image_side").asInt(), "4 tokens a side, 2x2 packing, the tiny VAE's factor 2");
        }
        // erasure: t_enc + 2 teacher passes + 2 passes with backward; preservation: 4 sampling runs + 1 with backward
        int tEnc = lines.get(0).get("sampling_step").asInt();
        assertEquals(tEnc + 8, lines.get(0).get("forward_equivalents").asInt());
        int j = lines.get(1).get("sampling_step").asInt();
        assertEquals(4 * (j + 1) + 3, lines.get(1).get("forward_equivalents").asInt());
        assertEquals(FullSizeEraseTiming.GENERATE_STEPS, lines.get(2).get("steps").asInt());
    }

    @Test
    void theCheckpointFileHoldsTheHarnessWeights() throws Exception {
        Path file = FullSizeEraseTiming.writeTransformer(TINY, tmp, 1);
        try (FluxWeights read = FluxWeights.open(file, FluxConfig.read(tmp.resolve("config.json")))) {
            assertEquals(TINY, read.config());
            assertEquals(FluxLayout.Naming.BFL, read.naming());
            int scales = 0;
            for (FluxLayout.Param p : FluxLayout.of(TINY).params()) {
                boolean scale = p.shape().length == 1 && p.name().endsWith(".weight");
                double bound = p.shape().length == 2 ? 1 / Math.sqrt(p.shape()[1]) : 0.02;
                scales += scale ? 1 : 0;
                for (float x : Floats.toF32(read.tensor(p.name()))) {
                    // the file's names (RMSNorm scales end in .scale there) draw as FullSizeFluxTiming's do
                    assertTrue(scale ? x == 1f : Math.abs(x) <= bound * 1.01, p.name() + ": " + x);
                }
            }
            assertTrue(scales > 0, "the tiny model has RMSNorm scales");
        }
    }

    @Test
    void forwardEquivalentsFollowTheStepKind() {
        StepRecord erase = new StepRecord(0, StepRecord.Kind.ERASE, 1e-3, "i", null, "p", "s", false, new int[0], 13,
                0.5, 1.0, 1.0, null, null, 1.0, 1.0);
        StepRecord preserve = new StepRecord(1, StepRecord.Kind.PRESERVE, 5e-4, "i", null, "p", "s", false, new int[0],
                13, 0.5, null, null, 1.0, 1.0, 1.0, 1.0);
        // docs/erase.md's averages: 13.5 + 8 = 21.5 and 4 * 14.5 + 3 = 61 at the mean draws
        assertEquals(21, FullSizeEraseTiming.forwardEquivalents(erase, 3));
        assertEquals(59, FullSizeEraseTiming.forwardEquivalents(preserve, 3));
    }
}
