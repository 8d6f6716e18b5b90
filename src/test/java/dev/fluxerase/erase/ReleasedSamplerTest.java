package dev.fluxerase.erase;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.pipeline.FlowMatchScheduler;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The released code's sampler on hand-worked cases: its table, its step index across calls, its timesteps. */
class ReleasedSamplerTest {
    private static final FlowMatchScheduler FLUX = FlowMatchScheduler.FLUX_DEV;

    private static RunConfig released(double weightLora, double weightRsc) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("model", "m").put("output", "o").put("key_word", "nude").put("instance_prompt", "a nude girl")
                .put("prompt_b", "").put("instance_images", "i").put("mode", "released")
                .put("weight_lora", weightLora).put("weight_rsc", weightRsc);
        return RunConfig.of(o);
    }

    @Test
    void theTableIsTheConstructorsOne() {
        float[] t = FLUX.trainSigmas();
        assertEquals(1000, t.length);
        assertEquals(1f, t[0]);
        assertEquals(0.999f, t[1]);
        assertEquals(0.5f, t[500]);
        assertEquals(0.001f, t[999]);
        // without dynamic shifting the constructor shifts statically: shift 3 takes 0.5 to 1.5 / 2
        FlowMatchScheduler fixed = new FlowMatchScheduler(1000, 3.0, false, 0.5, 1.15, 256, 4096, true);
        assertEquals(0.75f, fixed.trainSigmas()[500]);
        assertEquals(1f, fixed.trainSigmas()[0]);
    }

    /** Their latent_sample runs once per erasure step and 1 + K times per preservation step, weights 0 or not. */
    @Test
    void theStepIndexCountsEveryCallOfTheRunBefore() {
        List<Long> calls = new ArrayList<>();
        List<Long> erasureOnly = new ArrayList<>();
        for (int s = 0; s < 6; s++) {
            calls.add(ReleasedSampler.callsBefore(released(0.1, 0), 3, s));
            erasureOnly.add(ReleasedSampler.callsBefore(released(0, 0), 3, s));
        }
        assertEquals(List.of(0L, 1L, 5L, 6L, 10L, 11L), calls);
        assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L), erasureOnly);
    }

    /** n = 0.5: sigmoid 0.622459, T = 377.5407; n = −1: sigmoid 0.268941, T = 731.0586; then sorted descending. */
    @Test
    void timestepsFromGivenDraws() {
        float[] t = new ReleasedSampler(FLUX, 2).timesteps(new float[]{0.5f, -1f});
        assertEquals(731.0586, t[0], 1e-3);
        assertEquals(377.5407, t[1], 1e-3);
        float[] three = new ReleasedSampler(FLUX, 3).timesteps(new float[]{0f, 2f, -2f});
        // sigmoid(0) = 0.5, sigmoid(2) = 0.880797, sigmoid(−2) = 0.119203
        assertArrayEquals(new float[]{880.797f, 500f, 119.203f}, three, 1e-3f);
    }

    /**
     * Training step 3 of a run with 3 irrelevant concepts and 2 sampling steps: steps 0-2 made 1 + 4 + 1 calls, so its
     * synonym run is call 6, whose Euler steps go from table entry 12 to 13 and 13 to 14 (σ 0.988 → 0.987 → 0.986),
     * while the transformer sees the drawn timesteps; its irrelevant runs are calls 7-9 (entries 14-20).
     */
    @Test
    void aCallStepsBetweenAdjacentEntriesWhereTheIndexStands() {
        assertEquals(6, ReleasedSampler.callsBefore(released(0.1, 0.1), 3, 3));
        ReleasedSampler r = new ReleasedSampler(FLUX, 2);
        float[] timesteps = {731.0586f, 377.5407f};
        Passes.Schedule syn = r.call(6, timesteps);
        assertArrayEquals(new double[]{731.0586f / 1000.0, 377.5407f / 1000.0}, syn.inputs());
        assertArrayEquals(new float[]{0.987f - 0.988f, 0.986f - 0.987f}, syn.dts());
        assertEquals(-0.001, syn.dts()[0], 1e-7);
        Passes.Schedule lastIrrelevant = r.call(9, timesteps);
        assertArrayEquals(new float[]{0.981f - 0.982f, 0.980f - 0.981f}, lastIrrelevant.dts());
    }

    /**
     * With 28 steps, call 35 (the 36th) starts at entry 980; its step 19 is where diffusers would read σ[1000] and fail.
     * Here the index starts the table again.
     */
    @Test
    void theIndexStartsTheTableAgainWhereDiffusersWouldStop() {
        Passes.Schedule s = new ReleasedSampler(FLUX, 28).call(35, new float[28]);
        assertEquals(0.019f - 0.020f, s.dts()[0]);
        assertEquals(0.001f - 0.002f, s.dts()[18]);
        assertEquals(0.999f - 1f, s.dts()[19]);
        assertEquals(0.998f - 0.999f, s.dts()[20]);
    }
}
