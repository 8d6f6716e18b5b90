package dev.fluxerase.sampling;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class FluxScheduleTest {

    /** shared/golden/flux-schedule.json: BFL get_schedule for 16/256/1024/4096 tokens, 28 and 4 steps. */
    static List<JsonNode> goldens() throws IOException {
        try (InputStream in = FluxScheduleTest.class.getResourceAsStream("/schedule/flux-schedule.json")) {
            List<JsonNode> out = new ArrayList<>();
            new ObjectMapper().readTree(in).get("schedules").forEach(out::add);
            return out;
        }
    }

    @Test
    void muFollowsBflLinearFunction() throws IOException {
        List<JsonNode> g = goldens();
        assertEquals(8, g.size());
        for (JsonNode s : g) {
            assertEquals(s.get("mu").doubleValue(), FluxSchedule.mu(s.get("image_seq_len").longValue()), 1e-15);
        }
        assertEquals(0.63, FluxSchedule.mu(1024), 1e-15);
        assertEquals(1.15, FluxSchedule.mu(4096), 1e-15);
    }

    @Test
    void doubleSigmasMatchTheFloat64Reference() throws IOException {
        double worst = 0;
        for (JsonNode s : goldens()) {
            int steps = s.get("num_steps").intValue();
            long n = s.get("image_seq_len").longValue();
            for (boolean shift : new boolean[]{true, false}) {
                JsonNode want = s.get(shift ? "sigmas_shift_f64" : "sigmas_noshift_f64");
                double[] got = FluxSchedule.sigmas(steps, n, shift);
                assertEquals(steps + 1, got.length);
                assertEquals(want.size(), got.length);
                for (int k = 0; k < got.length; k++) {
                    worst = Math.max(worst, Math.abs(want.get(k).doubleValue() - got[k]));
                    assertEquals(want.get(k).doubleValue(), got[k], 1e-15, "n=" + n + " steps=" + steps + " k=" + k);
                }
                assertEquals(1.0, got[0]);
                assertEquals(0.0, got[steps]);
            }
        }
        System.out.println("schedule: worst |double - torch float64| = " + worst);
    }

    @Test
    void float32SigmasAreBitExact() throws IOException {
        for (JsonNode s : goldens()) {
            int steps = s.get("num_steps").intValue();
            long n = s.get("image_seq_len").longValue();
            for (boolean shift : new boolean[]{true, false}) {
                JsonNode want = s.get(shift ? "sigmas_shift" : "sigmas_noshift");
                float[] got = FluxSchedule.sigmasFloat32(steps, n, shift);
                assertEquals(want.size(), got.length);
                for (int k = 0; k < got.length; k++) {
                    assertEquals((float) want.get(k).doubleValue(), got[k], 0f,
                            "n=" + n + " steps=" + steps + " shift=" + shift + " k=" + k);
                }
            }
        }
    }

    @Test
    void specValuesAt1024Squared() {
        // FLUX.md §4.1: 28 steps at 1024² (4096 tokens, mu 1.15): 0.988409 after 1.0, 0.104721 before the 0.
        long n = FluxSchedule.imageSeqLen(1024, 1024);
        assertEquals(4096, n);
        double[] s = FluxSchedule.sigmas(28, n, true);
        assertEquals(0.988409, s[1], 5e-7);
        assertEquals(0.104721, s[27], 5e-7);
        assertEquals(1024, FluxSchedule.imageSeqLen(512, 512));
        assertEquals(85 * 48, FluxSchedule.imageSeqLen(1360, 768));
    }

    @Test
    void rejectsBadArguments() {
        assertThrows(IllegalArgumentException.class, () -> FluxSchedule.sigmas(0, 4096, true));
        assertThrows(IllegalArgumentException.class, () -> FluxSchedule.imageSeqLen(1000, 1024));
        assertThrows(IllegalArgumentException.class, () -> FluxSchedule.imageSeqLen(0, 1024));
    }
}
