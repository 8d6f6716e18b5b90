package dev.fluxerase.pipeline;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** model_index.json's flux_erase_defaults: any subset, absent means none, one line per mistake. */
class ModelDefaultsTest {
    @TempDir
    Path tmp;

    private Path index(String json) throws Exception {
        return Files.writeString(tmp.resolve("model_index.json"), json);
    }

    @Test
    void anySubsetIsReadAndTheRestFallsBack() throws Exception {
        ModelDefaults all = ModelDefaults.read(index("""
                {"_class_name": "FluxPipeline", "flux_erase_defaults": {"resolution": 32, "t5_length": 16, "steps": 20}}
                """));
        assertEquals(new ModelDefaults(32, 16, 20), all);
        assertEquals(32, all.resolution(512));
        assertEquals(16, all.t5Length(512));
        assertEquals(20, all.steps(28));
        assertEquals("resolution 32, t5_length 16, steps 20", all.describe());
        ModelDefaults some = ModelDefaults.read(index("{\"flux_erase_defaults\": {\"t5_length\": 16}}"));
        assertEquals(512, some.resolution(512));
        assertEquals(16, some.t5Length(256));
        assertEquals(28, some.steps(28));
        assertEquals("t5_length 16", some.describe());
    }

    @Test
    void noFileNoKeyOrNullMeansNone() throws Exception {
        assertEquals(ModelDefaults.NONE, ModelDefaults.read(tmp.resolve("absent.json")));
        assertEquals(ModelDefaults.NONE, ModelDefaults.read(index("{\"_class_name\": \"FluxPipeline\"}")));
        assertEquals(ModelDefaults.NONE, ModelDefaults.read(index("{\"flux_erase_defaults\": null}")));
        // FLUX.1-dev's own folder, as the tests have it, sets none
        assertEquals(ModelDefaults.NONE, ModelFolder.resolve(Tiny.MODEL.toString(), null, null, tmp).defaults());
    }

    @Test
    void mistakesAreOneLineNamingTheFileAndTheKey() throws Exception {
        String[][] cases = {
                {"{\"resolution\": \"32\"}", "flux_erase_defaults.resolution must be an integer of at least 1, got \"32\""},
                {"{\"steps\": 2.5}", "flux_erase_defaults.steps must be an integer of at least 1, got 2.5"},
                {"{\"steps\": 0}", "flux_erase_defaults.steps must be an integer of at least 1, got 0"},
                {"{\"t5_length\": 1}", "flux_erase_defaults.t5_length must be an integer of at least 2, got 1"},
                {"{\"width\": 32}", "flux_erase_defaults.width is not a setting (the settings are resolution, t5_length,"
                        + " steps)"},
                // the fuzzer's finding: a key with an escaped newline broke the one-line message
                {"{\"t5_l\\ngth\": 56}", "flux_erase_defaults.t5_l\\ngth is not a setting (the settings are resolution,"
                        + " t5_length, steps)"},
                {"[32]", "flux_erase_defaults must be an object such as {\"resolution\": 32, \"t5_length\": 16,"
                        + " \"steps\": 20}, got [32]"},
        };
        for (String[] c : cases) {
            Path f = index("{\"flux_erase_defaults\": " + c[0] + "}");
            PipelineException e = assertThrows(PipelineException.class, () -> ModelDefaults.read(f), c[0]);
            assertEquals(f + ": " + c[1], e.getMessage());
        }
        Path broken = index("{\"flux_erase_defaults\": {");
        PipelineException e = assertThrows(PipelineException.class, () -> ModelDefaults.read(broken));
        assertEquals(1, e.getMessage().lines().count());
        assertTrue(e.getMessage().startsWith(broken + ": not valid JSON: "), e.getMessage());
    }

    /** Control characters in names from users' files are escaped as JSON writes them; everything else is kept. */
    @Test
    void printableEscapesControlCharactersOnly() {
        assertEquals("t5_l\\ngth \\t\\r\\u0000\\u2028 é", dev.fluxerase.json.ConfigJson.printable(
                "t5_l\ngth \t\r\u0000\u2028 é"));
    }
}
