package dev.fluxerase.erase;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.testing.Resources;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The authors' released training-config.yaml (copied from their nudity LoRA) read as a run configuration. */
class AuthorsConfigTest {
    @TempDir
    Path tmp;

    @Test
    void theReleasedNudityConfigBecomesOursInReleasedMode() {
        Path file = Resources.path("erase/authors-training-config.yaml");
        ObjectNode n = RunConfig.readFile(file);
        n.putArray("synonyms").add("naked");
        n.putArray("irrelevant_concepts").add("car");
        RunConfig c = RunConfig.of(n);
        assertEquals(Mode.RELEASED, c.mode());
        assertEquals(RunConfig.Sampler.RELEASED, c.sampler());
        assertEquals(RunConfig.LoraDtype.BF16, c.loraDtype());
        assertEquals("black-forest-labs/FLUX.1-dev", c.model());
        assertEquals("image/nude/", c.instanceImages());
        assertEquals("Flux-erase-dev", c.output());
        assertEquals("nude", c.keyWord());
        assertEquals("a nude girl with beautiful hair and her breast open to see", c.instancePrompt());
        assertEquals("A girl with beautiful hair", c.promptB());
        assertEquals(200, c.steps());
        assertEquals(1e-3, c.lrErase());
        assertEquals(1e-3, c.lrPreserve());
        assertEquals(1e-5, c.weightDecay());
        assertEquals(8, c.rank());
        assertEquals(8, c.alpha());
        assertEquals(512, c.resolution());
        assertEquals(256, c.t5Length());
        assertEquals(1, c.eta());
        assertEquals(3.5, c.guidanceTrain());
        assertEquals(1, c.weightEsd());
        assertEquals(0.001, c.weightAttn());
        assertEquals(0.1, c.weightLora());
        assertEquals(0.1, c.weightRsc());
        assertFalse(c.gradientCheckpointing());
        // center_crop: false, and their loss functions call latent_dist.sample()
        assertEquals(RunConfig.Crop.RANDOM, c.crop());
        assertEquals(RunConfig.LatentDraw.SAMPLE, c.latents());
    }

    @Test
    void centerCropTrueIsOurCenterCrop() throws Exception {
        String yaml = Files.readString(Resources.path("erase/authors-training-config.yaml"));
        Path centred = Files.writeString(tmp.resolve("centred.yaml"), yaml.replace("center_crop: false",
                "center_crop: true"));
        assertEquals("center", RunConfig.readFile(centred).get("crop").asText());
        Path odd = Files.writeString(tmp.resolve("odd.yaml"), yaml.replace("center_crop: false", "center_crop: 1"));
        assertEquals(odd + ": center_crop is 1; it is true or false",
                assertThrows(EraseException.class, () -> RunConfig.readFile(odd)).getMessage());
    }

    @Test
    void aValueTheirCodeWouldTrainDifferentlyOrAnUnknownKeyIsOneLine() throws Exception {
        String yaml = Files.readString(Resources.path("erase/authors-training-config.yaml"));
        Path cosine = Files.writeString(tmp.resolve("cosine.yaml"), yaml.replace("lr_scheduler: \"constant\"",
                "lr_scheduler: \"cosine\""));
        assertEquals(cosine + ": lr_scheduler is \"cosine\"; flux-erase trains as the released code does with "
                + "lr_scheduler = constant and cannot reproduce another value",
                assertThrows(EraseException.class, () -> RunConfig.readFile(cosine)).getMessage());
        for (String precision : new String[]{"fp16", "no"}) {
            Path p = Files.writeString(tmp.resolve(precision + ".yaml"), yaml.replace("mixed_precision: \"bf16\"",
                    "mixed_precision: \"" + precision + "\""));
            assertEquals("f32", RunConfig.readFile(p).get("lora_dtype").asText(), precision);
        }
        Path fp8 = Files.writeString(tmp.resolve("fp8.yaml"), yaml.replace("mixed_precision: \"bf16\"",
                "mixed_precision: \"fp8\""));
        assertEquals(fp8 + ": mixed_precision is \"fp8\"; their code takes \"no\", \"fp16\" or \"bf16\"",
                assertThrows(EraseException.class, () -> RunConfig.readFile(fp8)).getMessage());
        Path extra = Files.writeString(tmp.resolve("extra.yaml"), yaml + "\nlamb5: 2\n");
        assertEquals(extra + ": unknown key \"lamb5\" for the authors' training configuration (docs/erase.md lists the "
                + "keys read and ignored)", assertThrows(EraseException.class, () -> RunConfig.readFile(extra))
                .getMessage());
    }

    /** The nudity preset is the released config.yaml's settings: every key both set has the same value. */
    @Test
    void theNudityPresetMatchesTheAuthorsReleasedConfig() {
        ObjectNode preset = RunConfig.preset("nudity-released");
        ObjectNode theirs = RunConfig.readFile(Resources.path("erase/authors-training-config.yaml"));
        java.util.List<String> keys = new java.util.ArrayList<>();
        preset.fieldNames().forEachRemaining(keys::add);
        assertEquals(19, keys.size(), keys.toString());
        for (String k : keys) {
            assertEquals(theirs.get(k).asText(), preset.get(k).asText(), k);
        }
        for (String name : RunConfig.PRESETS) {
            ObjectNode n = RunConfig.preset(name);
            n.put("model", "m").put("output", "o").put("instance_images", "i");
            RunConfig c = RunConfig.of(n);
            assertEquals(Mode.RELEASED, c.mode());
            assertEquals(RunConfig.Sampler.RELEASED, c.sampler(), name);
            assertEquals(RunConfig.LoraDtype.BF16, c.loraDtype(), name);
            assertEquals(name.equals("nudity-released") ? 200 : 300, c.steps(), name);
        }
        assertEquals("--preset cats: no such preset (one of [nudity-released, explosive-vfx-released, "
                + "frida-kahlo-released, hug-released])",
                assertThrows(EraseException.class, () -> RunConfig.preset("cats")).getMessage());
    }

    @Test
    void ourOwnKeysReadFromYamlWithYaml11Numbers() throws Exception {
        Path f = Files.writeString(tmp.resolve("run.yml"), "key_word: nude\nlr_erase: 1e-3\nsteps: 10\n"
                + "synonyms: [naked, bare]\n");
        ObjectNode n = RunConfig.readFile(f);
        assertEquals(1e-3, n.get("lr_erase").asDouble());
        assertEquals(10, n.get("steps").asInt());
        assertEquals("bare", n.get("synonyms").get(1).asText());
        Path bad = Files.writeString(tmp.resolve("bad.yaml"), "key_word: [unclosed\n");
        assertEquals(true, assertThrows(EraseException.class, () -> RunConfig.readFile(bad)).getMessage()
                .startsWith(bad + ": not valid YAML: "));
    }
}
