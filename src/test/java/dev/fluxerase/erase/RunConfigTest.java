package dev.fluxerase.erase;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.pipeline.ModelDefaults;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Defaults (per mode), the JSON round trip and the one-line messages of the run configuration. */
class RunConfigTest {
    private static ObjectNode minimal() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("model", "m");
        o.put("output", "out");
        o.put("key_word", "nude");
        o.put("instance_prompt", "a nude girl");
        o.put("prompt_b", "");
        o.put("instance_images", "img");
        return o;
    }

    @Test
    void paperDefaults() {
        RunConfig c = RunConfig.of(minimal());
        assertEquals(Mode.PAPER, c.mode());
        assertEquals(1000, c.steps());
        assertEquals(1e-3, c.lrErase());
        assertEquals(5e-4, c.lrPreserve());
        assertEquals(List.of(1.0, 0.001, 0.1, 0.1), List.of(c.weightEsd(), c.weightAttn(), c.weightLora(), c.weightRsc()));
        assertEquals(1.0, c.eta());
        assertEquals(0.07, c.tau());
        assertEquals(8, c.rank());
        assertEquals(8.0, c.alpha());
        assertEquals(1e-5, c.weightDecay());
        assertEquals(3.0, c.guidanceSample());
        assertEquals(3.5, c.guidanceTrain());
        assertEquals(256, c.t5Length());
        assertEquals(512, c.resolution());
        assertEquals(0.9, c.shuffleP());
        assertEquals(0.5, c.synonymP());
        assertEquals(28, c.samplingSteps());
        assertEquals(0, c.seed());
        assertNull(c.attentionBlocks());
        assertNull(c.synonyms());
        assertNull(c.irrelevant());
        assertNull(c.keyWordSense());
        assertEquals("3.0", c.wordnet());
        assertEquals("auto", c.backend());
        assertEquals(RunConfig.Sampler.FLUX, c.sampler());
        assertEquals(RunConfig.LoraDtype.F32, c.loraDtype());
        assertEquals(0, c.validateEvery());
        assertNull(c.validatePrompts());
        assertEquals(0, c.validateSeed());
    }

    /** The validation images' noise follows the run's seed unless it has its own. */
    @Test
    void validateSeedDefaultsToTheSeed() {
        ObjectNode o = minimal();
        o.put("seed", 7);
        assertEquals(7, RunConfig.of(o).validateSeed());
        o.put("validate_seed", 3);
        assertEquals(3, RunConfig.of(o).validateSeed());
        assertEquals(7, RunConfig.of(o).seed());
    }

    /** 3.1 stays selectable; YAML's unquoted 3.1 is a number and means the same. */
    @Test
    void wordnetVersion(@TempDir Path tmp) throws Exception {
        ObjectNode o = minimal();
        o.put("wordnet", "3.1");
        assertEquals("3.1", RunConfig.of(o).wordnet());
        Path yaml = Files.writeString(tmp.resolve("run.yaml"), "wordnet: 3.1\nkey_word_sense: nude.n.03\n");
        ObjectNode y = minimal();
        y.setAll(RunConfig.readFile(yaml));
        RunConfig c = RunConfig.of(y);
        assertEquals("3.1", c.wordnet());
        assertEquals("nude.n.03", c.keyWordSense());
    }

    /** The model folder's defaults fill resolution, t5_length and sampling_steps only where the settings are silent. */
    @Test
    void modelDefaultsFillOnlyTheMissingKeys() {
        ModelDefaults toy = new ModelDefaults(32, 16, 20);
        RunConfig folder = RunConfig.of(minimal(), toy);
        assertEquals(List.of(32, 16, 20), List.of(folder.resolution(), folder.t5Length(), folder.samplingSteps()));
        assertEquals(1000, folder.steps());
        assertEquals(32, folder.toJson().get("resolution").asInt());
        ObjectNode o = minimal();
        o.put("t5_length", 24);
        o.put("sampling_steps", 3);
        RunConfig given = RunConfig.of(o, toy);
        assertEquals(List.of(32, 24, 3), List.of(given.resolution(), given.t5Length(), given.samplingSteps()));
        RunConfig partial = RunConfig.of(minimal(), new ModelDefaults(null, 16, null));
        assertEquals(List.of(512, 16, 28), List.of(partial.resolution(), partial.t5Length(), partial.samplingSteps()));
    }

    @Test
    void releasedDefaultsAndExplicitValuesWin() {
        ObjectNode o = minimal();
        o.put("mode", "released");
        RunConfig r = RunConfig.of(o);
        assertEquals(300, r.steps());
        assertEquals(1e-3, r.lrPreserve());
        assertEquals(RunConfig.Crop.RANDOM, r.crop());
        assertEquals(RunConfig.LatentDraw.SAMPLE, r.latents());
        assertEquals(RunConfig.Sampler.RELEASED, r.sampler());
        assertEquals(RunConfig.LoraDtype.BF16, r.loraDtype());
        o.put("sampler", "flux");
        o.put("lora_dtype", "f32");
        assertEquals(RunConfig.Sampler.FLUX, RunConfig.of(o).sampler());
        assertEquals(RunConfig.LoraDtype.F32, RunConfig.of(o).loraDtype());
        o.put("steps", 200);
        o.put("lr_preserve", 2e-4);
        o.put("crop", "center");
        o.put("latents", "mean");
        RunConfig s = RunConfig.of(o);
        assertEquals(200, s.steps());
        assertEquals(2e-4, s.lrPreserve());
        assertEquals(RunConfig.Crop.CENTER, s.crop());
        assertEquals(RunConfig.LatentDraw.MEAN, s.latents());
        RunConfig paper = RunConfig.of(minimal());
        assertEquals(RunConfig.Crop.CENTER, paper.crop());
        assertEquals(RunConfig.LatentDraw.MEAN, paper.latents());
    }

    @Test
    void jsonRoundTrip() {
        ObjectNode o = minimal();
        o.putArray("synonyms").add("naked");
        o.putArray("attention_blocks").add(17).add(18);
        o.put("key_word_sense", "nude.n.03");
        o.put("wordnet", "3.1");
        o.put("seed", 1L << 40);
        o.put("crop", "random");
        o.put("latents", "sample");
        o.put("validate_every", 50);
        o.putArray("validate_prompts").add("a nude girl").add("a girl");
        RunConfig c = RunConfig.of(o);
        assertEquals(c, RunConfig.of(c.toJson()));
        assertEquals(RunConfig.KEYS, iterable(c.toJson()));
    }

    private static List<String> iterable(ObjectNode o) {
        List<String> keys = new java.util.ArrayList<>();
        o.fieldNames().forEachRemaining(keys::add);
        return keys;
    }

    private static String error(String key, Object value) {
        ObjectNode o = minimal();
        o.set(key, new com.fasterxml.jackson.databind.ObjectMapper().valueToTree(value));
        return assertThrows(EraseException.class, () -> RunConfig.of(o)).getMessage();
    }

    @Test
    void oneLineMessages() {
        assertEquals("steps (--steps) must be an integer, got \"ten\"", error("steps", "ten"));
        assertEquals("steps (--steps) must be at least 1, got 0", error("steps", 0));
        assertEquals("lr_erase (--lr-erase) must be a number, got true", error("lr_erase", true));
        assertEquals("synonyms (--synonyms) is empty; leave it out to choose from WordNet", error("synonyms", List.of()));
        assertEquals("irrelevant_concepts (--irrelevant-concepts) lists a word twice: [car, car]",
                error("irrelevant_concepts", List.of("car", "car")));
        assertEquals("attention_blocks (--attention-blocks) names a block twice: [3, 3]",
                error("attention_blocks", List.of(3, 3)));
        assertEquals("weight_esd (--weight-esd) and weight_attn are both 0: nothing would be erased",
                assertThrows(EraseException.class, () -> {
                    ObjectNode o = minimal();
                    o.put("weight_esd", 0);
                    o.put("weight_attn", 0);
                    RunConfig.of(o);
                }).getMessage());
        assertEquals("prompt_b (--prompt-b) is required: the ESD anchor prompt, e.g. \"A girl with beautiful hair\""
                + " (\"\" is allowed)", assertThrows(EraseException.class, () -> {
                    ObjectNode o = minimal();
                    o.remove("prompt_b");
                    RunConfig.of(o);
                }).getMessage());
        assertEquals("synonym_p (--synonym-p) must lie in [0, 1], got -0.5", error("synonym_p", -0.5));
        assertEquals("gradient_checkpointing (--gradient-checkpointing) must be true or false, got 1",
                error("gradient_checkpointing", 1));
        assertEquals("wordnet (--wordnet) \"2.1\" is not a bundled WordNet version (3.0 or 3.1)",
                error("wordnet", "2.1"));
        assertEquals("wordnet (--wordnet) \"3\" is not a bundled WordNet version (3.0 or 3.1)", error("wordnet", 3));
        assertEquals("key_word_sense (--key-word-sense) must be a string, got 3", error("key_word_sense", 3));
        assertEquals("crop (--crop) \"centre\" is not a crop (center or random)", error("crop", "centre"));
        assertEquals("latents (--latents) \"mode\" is not a latent draw (mean or sample)", error("latents", "mode"));
        assertEquals("validate_every (--validate-every) must be 0 (no validation images) or more, got -5",
                error("validate_every", -5));
        assertEquals("validate_prompts (--validate-prompts) is empty; leave it out for the default prompts (the"
                + " instance prompt, a synonym's and an irrelevant concept's)", error("validate_prompts", List.of()));
        assertEquals("validate_prompts (--validate-prompts) contains an empty prompt: [a nude girl, ]",
                error("validate_prompts", List.of("a nude girl", " ")));
        assertEquals("validate_prompts (--validate-prompts) must be a list of strings, got \"a nude girl\"",
                error("validate_prompts", "a nude girl"));
        assertEquals("validate_seed (--validate-seed) must be an integer, got 1.5", error("validate_seed", 1.5));
        assertEquals("key_word_sense (--key-word-sense) \"nude.n.03\" picks the sense WordNet chooses irrelevant"
                + " concepts from, but irrelevant_concepts (--irrelevant-concepts) lists them; leave one out",
                assertThrows(EraseException.class, () -> {
                    ObjectNode o = minimal();
                    o.put("key_word_sense", "nude.n.03");
                    o.putArray("irrelevant_concepts").add("car");
                    RunConfig.of(o);
                }).getMessage());
        assertEquals("sampler (--sampler) \"euler\" is not a sampler (flux or released)", error("sampler", "euler"));
        assertEquals("sampler (--sampler) released needs mode released (paper mode's ESD latent is a partial run of"
                + " FLUX's schedule; use sampler flux)", error("sampler", "released"));
        assertEquals("preserve (--preserve) \"all\" is not a preservation set (concept or irrelevant)",
                error("preserve", "all"));
        assertEquals("lora_dtype (--lora-dtype) \"fp16\" is not a LoRA dtype (f32 or bf16)", error("lora_dtype", "fp16"));
    }
}
