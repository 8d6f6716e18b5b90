package dev.fluxerase.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.sampling.FluxSchedule;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ScheduleCommandTest {

    private static double[] sigmas(String json) throws Exception {
        JsonNode a = new ObjectMapper().readTree(json);
        double[] d = new double[a.size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = a.get(i).doubleValue();
        }
        return d;
    }

    @Test
    void printsTheShiftedScheduleAsJson() throws Exception {
        CliRun r = CliRun.of("schedule", "--image-seq-len", "4096", "--steps", "28");
        assertEquals(0, r.exit(), r.err());
        double[] s = sigmas(r.out());
        assertEquals(29, s.length);
        assertEquals(1.0, s[0]);
        assertEquals(0.988409, s[1], 5e-7); // FLUX.md §4.1, 1024², mu 1.15
        assertEquals(0.0, s[28]);
        // The printed decimals round-trip to exactly the library's doubles.
        double[] lib = FluxSchedule.sigmas(28, 4096, true);
        for (int i = 0; i < s.length; i++) {
            assertEquals(lib[i], s[i], 0.0);
        }
    }

    @Test
    void widthAndHeightGiveTheTokenCount() throws Exception {
        CliRun bySize = CliRun.of("schedule", "--width", "512", "--height", "512", "--steps", "28");
        CliRun byLen = CliRun.of("schedule", "--image-seq-len", "1024", "--steps", "28");
        assertEquals(0, bySize.exit(), bySize.err());
        assertEquals(byLen.out(), bySize.out());
        assertEquals(0.980656, sigmas(bySize.out())[1], 5e-7); // FLUX.md §4.1, 512², mu 0.63
    }

    @Test
    void noShiftIsPlainLinspaceAndFloat32MatchesBfl() throws Exception {
        CliRun r = CliRun.of("schedule", "--no-shift", "--steps", "4");
        assertEquals(0, r.exit(), r.err());
        assertEquals("[1.0,0.75,0.5,0.25,0.0]", r.out().strip());
        CliRun f = CliRun.of("schedule", "--image-seq-len", "16", "--steps", "28", "--float32");
        assertEquals(0, f.exit(), f.err());
        // shared/golden/flux-schedule.json, sigmas_shift for 16 tokens, 28 steps: torch float32 values.
        assertEquals(0.9771393537521362, sigmas(f.out())[1], 0.0);
        assertEquals(0.05538535490632057, sigmas(f.out())[27], 0.0);
    }

    @Test
    void badArgumentsGiveOneLine() {
        CliRun both = CliRun.of("schedule", "--image-seq-len", "4096", "--width", "1024", "--height", "1024", "--steps",
                "4");
        assertEquals(1, both.exit());
        assertEquals(1, both.err().strip().lines().count(), both.err());
        assertTrue(both.err().contains("not both"), both.err());
        CliRun odd = CliRun.of("schedule", "--width", "1000", "--height", "1024", "--steps", "4");
        assertEquals(1, odd.exit());
        assertTrue(odd.err().startsWith("flux-erase: ") && odd.err().contains("multiples of 16"), odd.err());
        CliRun none = CliRun.of("schedule", "--steps", "4");
        assertEquals(1, none.exit());
        assertTrue(none.err().contains("--image-seq-len"), none.err());
        CliRun zero = CliRun.of("schedule", "--image-seq-len", "4096", "--steps", "0");
        assertEquals(1, zero.exit());
        assertTrue(zero.err().contains("steps must be at least 1"), zero.err());
    }
}
