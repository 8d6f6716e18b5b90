package dev.fluxerase.toy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fluxerase.eval.PromptSuite;
import dev.fluxerase.image.RgbImage;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** evaluate's shape metric: the classifier's answer per image, hits against the concept, the tally per group. */
class ShapeMetricTest {
    private static RgbImage drawn(Shape s) {
        return ShapeWorld.render(s, ShapeWorld.colours().getFirst(), ShapeWorld.backgrounds().getFirst(), "large", 16,
                16, 9, "").image();
    }

    private static RgbImage blank() {
        byte[] rgb = new byte[ShapeWorld.SIZE * ShapeWorld.SIZE * 3];
        Arrays.fill(rgb, (byte) 200);
        return new RgbImage(ShapeWorld.SIZE, ShapeWorld.SIZE, rgb);
    }

    @Test
    void scoresHitsAgainstTheConceptAndTalliesEveryClass() {
        ShapeMetric m = new ShapeMetric();
        List<PromptSuite.Entry> entries = List.of(new PromptSuite.Entry("a circle", 0, "erased", "circle"),
                new PromptSuite.Entry("a disc", 1, "erased", "CIRCLE"),
                new PromptSuite.Entry("a square", 2, "erased", "circle"),
                new PromptSuite.Entry("nothing", 3, "other", null));
        List<RgbImage> images = List.of(drawn(Shape.CIRCLE), drawn(Shape.CIRCLE), drawn(Shape.SQUARE), blank());
        for (int k = 0; k < 3; k++) {
            assertEquals(entries.get(k).prompt().equals("a square") ? Shape.SQUARE : Shape.CIRCLE,
                    ShapeClassifier.classify(images.get(k)).shape(), "the drawings themselves");
        }
        List<ShapeMetric.Score> scores = m.score(entries, images);
        assertEquals(List.of(List.of("circle", "1"), List.of("circle", "1"), List.of("square", "0"),
                List.of("none", "")), scores.stream().map(m::cells).toList());
        ShapeMetric.Tally t = m.tally(true);
        scores.forEach(t::add);
        assertEquals(2.0 / 3, t.hitRate());
        JsonNode s = t.summary();
        assertEquals(2.0 / 3, s.get("hit_rate").asDouble());
        assertEquals(3, s.get("with_concept").asLong());
        assertEquals("{\"circle\":2,\"square\":1,\"triangle\":0,\"star\":0,\"cross\":0,\"ring\":0,\"none\":1}",
                s.get("counts").toString());

        ShapeMetric.Tally none = m.tally(false);
        none.add(scores.getLast());
        assertTrue(none.summary().get("hit_rate").isNull(), none.summary().toString());
    }

    @Test
    void aConceptThatIsNoShapeIsRefusedNamingTheRow() {
        List<PromptSuite.Entry> suite = List.of(new PromptSuite.Entry("a circle", 0, null, "circle"),
                new PromptSuite.Entry("a nude", 0, null, "nudity"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ShapeMetric().check(suite));
        assertEquals("--metrics shape: suite row 2 has concept \"nudity\", which is not a shape of the toy world (one of"
                + " [circle, square, triangle, star, cross, ring])", e.getMessage());
    }
}
