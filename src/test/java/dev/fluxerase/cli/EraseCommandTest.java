package dev.fluxerase.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.erase.TinyRun;
import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.lora.LoraModule;
import dev.fluxerase.lora.LoraSet;
import dev.fluxerase.safetensors.CliCapture;
import dev.fluxerase.tensor.Floats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code flux-erase erase} end to end on the tiny pipeline, and its one-line errors. */
class EraseCommandTest {
    static final Path MODEL = resource("pipeline-tiny/model");

    @TempDir
    Path tmp;

    static Path resource(String name) {
        try {
            return Path.of(EraseCommandTest.class.getClassLoader().getResource(name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private List<String> base(Path out) throws Exception {
        return new ArrayList<>(TinyRun.args(tmp, out));
    }

    @Test
    void shortRunWritesAValidLoraAndARunRecord() throws Exception {
        Path out = tmp.resolve("out");
        List<String> args = base(out);
        args.addAll(List.of("--steps", "4", "--checkpoint-every", "2"));
        CliCapture r = CliCapture.of(args.toArray(String[]::new));
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().startsWith("wrote " + out.resolve("pytorch_lora_weights.safetensors") + " (4 steps, mode paper"),
                r.out());
        assertEquals(4, r.err().lines().filter(l -> l.matches("\\[[#-]{24}] \\d/4 (erase   |preserve).*ETA \\d+:\\d\\d"))
                .count(), r.err());
        FluxConfig cfg = FluxConfig.read(MODEL.resolve("transformer/config.json"));
        LoraSet lora = LoraSet.load(out.resolve("pytorch_lora_weights.safetensors"), cfg);
        assertEquals(2 * cfg.depth(), lora.size());
        for (LoraModule m : lora.modules()) {
            assertTrue(m.module().endsWith("attn.add_q_proj") || m.module().endsWith("attn.add_k_proj"), m.module());
            assertEquals(8, m.rank());
            float maxB = 0;
            for (float v : Floats.toF32(m.b())) {
                maxB = Math.max(maxB, Math.abs(v));
            }
            assertTrue(maxB > 0, m.module() + ": B is still zero");
        }
        JsonNode rec = new ObjectMapper().readTree(out.resolve("run.json").toFile());
        assertEquals("finished", rec.get("status").asText());
        assertEquals(4, rec.get("steps").size());
        assertEquals("paper", rec.get("config").get("mode").asText());
        assertEquals("[\"car\",\"tree\",\"river\"]", rec.get("words").get("irrelevant_concepts").toString());
        for (JsonNode s : rec.get("steps")) {
            boolean erase = s.get("step").asInt() % 2 == 0;
            assertEquals(erase ? "erase" : "preserve", s.get("kind").asText());
            assertEquals(erase ? 1e-3 : 5e-4, s.get("lr").asDouble());
            JsonNode l = s.get("losses");
            assertEquals(erase, l.has("esd") && l.has("attn"), s.toString());
            assertEquals(!erase, l.has("lora") && l.has("rsc"), s.toString());
        }
        assertTrue(Files.isRegularFile(out.resolve("checkpoint.safetensors")));
    }
}
