package dev.fluxerase.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.erase.TinyRun;
import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.image.Png;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.lora.LoraModule;
import dev.fluxerase.lora.LoraSet;
import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Resources;
import dev.fluxerase.testing.ToyFolder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code flux-erase erase} end to end on the tiny pipeline, and its one-line errors. */
class EraseCommandTest {
    static final Path MODEL = TinyRun.MODEL;

    @TempDir
    Path tmp;


    private List<String> base(Path out) throws Exception {
        return new ArrayList<>(TinyRun.args(tmp, out));
    }

    @Test
    void shortRunWritesAValidLoraAndARunRecord() throws Exception {
        Path out = tmp.resolve("out");
        List<String> args = base(out);
        args.addAll(List.of("--steps", "4", "--checkpoint-every", "2"));
        CliRun r = CliRun.of(args.toArray(String[]::new));
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
        // the same tensor names and layout as the authors' released EraseAnything LoRA (which diffusers loads)
        LoraSet released = LoraSet.load(Resources.path("lora/eraseanything-nudity-lora.safetensors"), FluxConfig.FLUX_DEV);
        for (LoraModule m : lora.modules()) {
            LoraModule rel = released.get(m.module());
            assertEquals("transformer." + m.module() + ".lora_A.weight", m.keyA());
            assertEquals(rel.keyA(), m.keyA());
            assertEquals(rel.keyB(), m.keyB());
            assertEquals(rel.rank(), m.rank());
        }
    }

    @Test
    void onFluxDevTheLoraHasTheReleasedModules() {
        LoraSet ours = LoraSet.create(FluxConfig.FLUX_DEV, LoraSet.DEFAULT_TARGETS, 8, 8f, 0, LoraSet.Init.GAUSSIAN);
        LoraSet released = LoraSet.load(Resources.path("lora/eraseanything-nudity-lora.safetensors"), FluxConfig.FLUX_DEV);
        assertEquals(38, ours.size());
        assertEquals(released.modules().stream().map(LoraModule::module).toList(),
                ours.modules().stream().map(LoraModule::module).toList());
        for (LoraModule m : ours.modules()) {
            assertEquals(java.util.Arrays.toString(released.get(m.module()).a().shape()),
                    java.util.Arrays.toString(m.a().shape()));
            assertEquals(java.util.Arrays.toString(released.get(m.module()).b().shape()),
                    java.util.Arrays.toString(m.b().shape()));
        }
    }

    /** Runs the short tiny run with options replaced, added or (with a null value) left out. */
    private CliRun erase(Path out, String... extra) throws Exception {
        List<String> args = base(out);
        for (int i = 0; i < extra.length; i += 2) {
            int at = args.indexOf(extra[i]);
            if (at >= 0 && extra[i + 1] == null) {
                args.subList(at, at + 2).clear();
            } else if (at >= 0) {
                args.set(at + 1, extra[i + 1]);
            } else {
                args.addAll(List.of(extra[i], extra[i + 1]));
            }
        }
        return CliRun.of(args.toArray(String[]::new));
    }

    @Test
    void resumedRunGivesTheSameLoraBitForBit() throws Exception {
        String[] small = {"--backend", "naive", "--resolution", "16", "--t5-length", "16"};
        Path whole = tmp.resolve("whole");
        assertEquals(0, erase(whole, concat(small, "--steps", "3", "--checkpoint-every", "1")).exit());
        Path parts = tmp.resolve("parts");
        assertEquals(0, erase(parts, concat(small, "--steps", "1")).exit());
        // a second start without --resume refuses to overwrite the run
        CliRun again = erase(parts, concat(small, "--steps", "3"));
        assertEquals(1, again.exit());
        assertTrue(again.err().startsWith("flux-erase: output (--output) " + parts + " already holds a run"), again.err());
        // resume from the folder alone: the checkpoint holds the settings; step 1 re-derives step 0's timestep
        CliRun r = CliRun.of("erase", "--output", parts.toString(), "--resume", "--steps", "3",
                "--cache-dir", tmp.resolve("cache").toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.err().contains("resuming at step 1/3"), r.err());
        assertEquals(2, r.err().lines().filter(l -> l.matches("\\[[#-]{24}] [23]/3 .*")).count(), r.err());
        byte[] a = Files.readAllBytes(whole.resolve("pytorch_lora_weights.safetensors"));
        byte[] b = Files.readAllBytes(parts.resolve("pytorch_lora_weights.safetensors"));
        assertTrue(java.util.Arrays.equals(a, b), "resumed LoRA differs from the uninterrupted one");
        ObjectMapper json = new ObjectMapper();
        JsonNode recA = json.readTree(whole.resolve("run.json").toFile());
        JsonNode recB = json.readTree(parts.resolve("run.json").toFile());
        assertEquals("naive", recB.get("config").get("backend").asText());
        assertEquals(3, recB.get("steps").size());
        for (int i = 0; i < 3; i++) {
            for (String k : new String[]{"losses", "prompt", "sigma", "image"}) {
                assertEquals(recA.get("steps").get(i).get(k), recB.get("steps").get(i).get(k), "step " + i + " " + k);
            }
        }
        // a setting that changes what is computed is refused
        CliRun changed = CliRun.of("erase", "--output", parts.toString(), "--resume", "--steps", "6",
                "--tau", "0.1");
        assertEquals(1, changed.exit());
        assertEquals("flux-erase: --resume: tau (--tau) is 0.1 but the checkpoint "
                + parts.resolve("checkpoint.safetensors") + " was made with 0.07 (resume with the same settings)",
                changed.err().strip());
    }

    /**
     * log.jsonl, the snapshots and the validation grids stay consistent with the checkpoint: a run killed after logging,
     * snapshotting and validating a step it had not checkpointed (and in the middle of writing a grid) is resumed into
     * the same log, snapshots and grids as an uninterrupted run.
     */
    @Test
    void theStepLogSnapshotsAndValidationGridsFollowTheCheckpointOnResume() throws Exception {
        String[] small = {"--backend", "naive", "--resolution", "16", "--t5-length", "16", "--save-every", "2",
                "--validate-every", "2"};
        Path whole = tmp.resolve("log-whole");
        assertEquals(0, erase(whole, concat(small, "--steps", "4", "--checkpoint-every", "2")).exit());
        ObjectMapper json = new ObjectMapper();
        List<String> lines = Files.readAllLines(whole.resolve("log.jsonl"));
        assertEquals(4, lines.size());
        JsonNode rec = json.readTree(whole.resolve("run.json").toFile());
        for (int i = 0; i < 4; i++) {
            assertEquals(rec.get("steps").get(i), json.readTree(lines.get(i)), "line " + i);
        }
        assertTrue(java.util.Arrays.equals(Files.readAllBytes(whole.resolve("pytorch_lora_weights.safetensors")),
                Files.readAllBytes(whole.resolve("snapshots/lora-step-000004.safetensors"))));
        assertTrue(Files.exists(whole.resolve("snapshots/lora-step-000002.safetensors")));

        Path parts = tmp.resolve("log-parts");
        assertEquals(0, erase(parts, concat(small, "--steps", "2", "--checkpoint-every", "2")).exit());
        // what a kill after an unchecked step leaves: a logged line and a snapshot the checkpoint does not cover
        Files.writeString(parts.resolve("log.jsonl"), "{\"step\":2,\"killed\":true}\n", StandardOpenOption.APPEND);
        Files.writeString(parts.resolve("snapshots/lora-step-000004.safetensors"), "from the killed run");
        Files.writeString(parts.resolve("validation/step-000004.png"), "from the killed run");
        Files.writeString(parts.resolve("validation/step-000006.png.tmp-1f2e3d"), "killed while writing");
        CliRun r = CliRun.of("erase", "--output", parts.toString(), "--resume", "--steps", "4",
                "--cache-dir", tmp.resolve("cache").toString());
        assertEquals(0, r.exit(), r.err());
        List<String> resumed = Files.readAllLines(parts.resolve("log.jsonl"));
        assertEquals(4, resumed.size());
        for (int i = 0; i < 4; i++) {
            for (String k : new String[]{"step", "losses", "prompt", "sigma"}) {
                assertEquals(json.readTree(lines.get(i)).get(k), json.readTree(resumed.get(i)).get(k), i + " " + k);
            }
        }
        for (String snap : List.of("lora-step-000002.safetensors", "lora-step-000004.safetensors")) {
            assertTrue(java.util.Arrays.equals(Files.readAllBytes(whole.resolve("snapshots").resolve(snap)),
                    Files.readAllBytes(parts.resolve("snapshots").resolve(snap))), snap);
        }
        List<String> grids = List.of("step-000000.png", "step-000002.png", "step-000004.png");
        assertEquals(grids, files(whole.resolve("validation")));
        assertEquals(grids, files(parts.resolve("validation")));
        for (String grid : grids) {
            assertTrue(java.util.Arrays.equals(Files.readAllBytes(whole.resolve("validation").resolve(grid)),
                    Files.readAllBytes(parts.resolve("validation").resolve(grid))), grid);
        }
    }

    private static List<String> files(Path dir) throws Exception {
        try (java.util.stream.Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /**
     * Validation grids before the first step, every N steps and after the last, each row the image that generate draws
     * for its prompt and seed with the LoRA of that step; the run trains the LoRA of a run without them, bit for bit.
     */
    @Test
    void validationGridsShowTheLoraAsItTrainsWithoutChangingIt() throws Exception {
        String[] small = {"--resolution", "16", "--t5-length", "16", "--steps", "4", "--checkpoint-every", "2",
                "--save-every", "3"};
        Path plain = tmp.resolve("plain");
        assertEquals(0, erase(plain, small).exit());
        Path watched = tmp.resolve("watched");
        CliRun r = erase(watched, concat(small, "--validate-every", "3"));
        assertEquals(0, r.exit(), r.err());
        assertTrue(java.util.Arrays.equals(Files.readAllBytes(plain.resolve("pytorch_lora_weights.safetensors")),
                Files.readAllBytes(watched.resolve("pytorch_lora_weights.safetensors"))),
                "validation changed the trained LoRA");
        assertEquals(List.of("step-000000.png", "step-000003.png", "step-000004.png"),
                files(watched.resolve("validation")));
        List<String> prompts = List.of("a nude girl with beautiful hair", "a naked girl with beautiful hair",
                "a car girl with beautiful hair");
        assertTrue(r.err().contains("validation at step 0/4 [1/3] " + prompts.get(0) + "\n"), r.err());
        assertTrue(r.err().contains("validation at step 3/4: wrote " + watched.resolve("validation/step-000003.png")
                + " ("), r.err());
        JsonNode v = new ObjectMapper().readTree(watched.resolve("run.json").toFile()).get("validation");
        assertEquals(3, v.get("every").asInt());
        assertEquals(0, v.get("seed").asLong());
        assertEquals(prompts, java.util.stream.StreamSupport.stream(v.get("prompts").spliterator(), false)
                .map(JsonNode::asText).toList());
        // rows are what generate draws: the base model at step 0, the snapshot's LoRA at step 3, the final one at 4
        String[] lora = {null, watched.resolve("snapshots/lora-step-000003.safetensors").toString(),
                watched.resolve("pytorch_lora_weights.safetensors").toString()};
        String[] grid = {"step-000000.png", "step-000003.png", "step-000004.png"};
        for (int g = 0; g < grid.length; g++) {
            RgbImage sheet = Png.read(watched.resolve("validation").resolve(grid[g]));
            assertEquals(18, sheet.width());
            assertEquals(3 * 18, sheet.height());
            for (int row = 0; row < prompts.size(); row++) {
                Path png = tmp.resolve("generated-" + g + "-" + row + ".png");
                List<String> gen = new ArrayList<>(List.of("generate", "--model", MODEL.toString(), "--cache-dir",
                        tmp.resolve("cache").toString(), "--prompt", prompts.get(row), "--seed", "0", "--steps", "2",
                        "--guidance", "3.5", "--width", "16", "--height", "16", "--t5-length", "16", "--out",
                        png.toString()));
                if (lora[g] != null) {
                    gen.addAll(List.of("--lora", lora[g]));
                }
                CliRun made = CliRun.of(gen.toArray(String[]::new));
                assertEquals(0, made.exit(), made.err());
                RgbImage expected = Png.read(png);
                for (int y = 0; y < 16; y++) {
                    for (int x = 0; x < 16; x++) {
                        for (int c = 0; c < 3; c++) {
                            assertEquals(expected.get(x, y, c), sheet.get(1 + x, row * 18 + 1 + y, c),
                                    grid[g] + " row " + row + " pixel " + x + "," + y);
                        }
                    }
                }
            }
        }
    }

    /**
     * The same on the cpu backend, whose kernels give the same bits in every JIT tier (CpuDeterminismTest): the first run
     * starts with them interpreted, the resumed one finds them compiled. Eight steps: with the earlier kernels (SVML exp,
     * reduceLanes) this failed at eight, not at three.
     */
    @Test
    void resumedRunOnTheCpuBackendGivesTheSameLoraBitForBit() throws Exception {
        resumedLikeWhole("cpu", new String[]{"--backend", "cpu", "--resolution", "16", "--t5-length", "16"}, 8,
                parts -> { });
    }

    /** What a test does to a run's folder between its first step and its resume. */
    private interface Edit {
        void apply(Path folder) throws Exception;
    }

    /**
     * Runs {@code settings} for {@code steps} steps into NAME-whole, and for 1 step into NAME-parts, which {@code edit}
     * may change before the run there is resumed to {@code steps}; asserts that both end with the same LoRA file, and
     * returns NAME-parts.
     */
    private Path resumedLikeWhole(String name, String[] settings, int steps, Edit edit) throws Exception {
        Path whole = tmp.resolve(name + "-whole");
        assertEquals(0, erase(whole, concat(settings, "--steps", Integer.toString(steps))).exit());
        Path parts = tmp.resolve(name + "-parts");
        assertEquals(0, erase(parts, concat(settings, "--steps", "1")).exit());
        edit.apply(parts);
        CliRun r = CliRun.of("erase", "--output", parts.toString(), "--resume", "--steps", Integer.toString(steps),
                "--cache-dir", tmp.resolve("cache").toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.err().contains("resuming at step 1/" + steps), r.err());
        Path lora = whole.resolve("pytorch_lora_weights.safetensors");
        assertTrue(java.util.Arrays.equals(Files.readAllBytes(lora),
                Files.readAllBytes(parts.resolve("pytorch_lora_weights.safetensors"))),
                "resumed LoRA differs from the uninterrupted one");
        return parts;
    }

    /**
     * Checkpoints are backend-independent (host f32 tensors and settings): a run checkpointed on cpu resumes on naive,
     * records that, and ends within float rounding of the run that stayed on cpu (the two backends agree to ~1e-6).
     * The LoRA goes to the backend and back through Backend.toDevice and toHost, as it does on cuda (CudaEraseTest
     * trains on cuda and resumes on cpu).
     */
    @Test
    void aCheckpointFromOneBackendResumesOnAnother() throws Exception {
        String[] small = {"--resolution", "16", "--t5-length", "16"};
        Path cpu = tmp.resolve("cpu-only");
        assertEquals(0, erase(cpu, concat(small, "--backend", "cpu", "--steps", "3")).exit());
        Path moved = tmp.resolve("moved");
        assertEquals(0, erase(moved, concat(small, "--backend", "cpu", "--steps", "1")).exit());
        CliRun r = CliRun.of("erase", "--output", moved.toString(), "--resume", "--steps", "3", "--backend", "naive",
                "--cache-dir", tmp.resolve("cache").toString());
        assertEquals(0, r.exit(), r.err());
        assertEquals("naive", recordedConfig(moved).get("backend").asText());
        assertEquals("naive", new ObjectMapper().readTree(moved.resolve("run.json").toFile()).get("backend").asText());
        assertEquals("cpu", new ObjectMapper().readTree(cpu.resolve("run.json").toFile()).get("backend").asText());
        try (TensorSource a = Safetensors.open(cpu.resolve("pytorch_lora_weights.safetensors"));
             TensorSource b = Safetensors.open(moved.resolve("pytorch_lora_weights.safetensors"))) {
            assertEquals(a.names(), b.names());
            for (String n : a.names()) {
                float[] x = Floats.toF32(a.tensor(n));
                float[] y = Floats.toF32(b.tensor(n));
                double max = 0;
                double diff = 0;
                for (int i = 0; i < x.length; i++) {
                    max = Math.max(max, Math.abs(x[i]));
                    diff = Math.max(diff, Math.abs(x[i] - y[i]));
                }
                assertTrue(diff <= 1e-4 * Math.max(max, 1e-3), n + ": max difference " + diff + " of max " + max);
            }
        }
    }

    /**
     * --activations bf16 trains with BF16 MLP activations and the run configuration records it; a resumed run may go
     * back to f32 (like the backend, it changes how the same steps are computed, not what), and records that.
     */
    @Test
    void bf16ActivationsAreRecordedAndMayChangeOnResume() throws Exception {
        String[] small = {"--resolution", "16", "--t5-length", "16", "--backend", "cpu"};
        Path out = tmp.resolve("bf16");
        CliRun r = erase(out, concat(small, "--steps", "1", "--activations", "bf16"));
        assertEquals(0, r.exit(), r.err());
        assertEquals("bf16", recordedConfig(out).get("activations").asText());
        CliRun resumed = CliRun.of("erase", "--output", out.toString(), "--resume", "--steps", "2", "--activations",
                "f32", "--cache-dir", tmp.resolve("cache").toString());
        assertEquals(0, resumed.exit(), resumed.err());
        assertEquals("f32", recordedConfig(out).get("activations").asText());
        CliRun bad = erase(tmp.resolve("bad"), concat(small, "--activations", "f16"));
        assertEquals(1, bad.exit());
        assertTrue(bad.err().contains("activations (--activations)"), bad.err());
    }

    private static JsonNode recordedConfig(Path out) throws Exception {
        return new ObjectMapper().readTree(out.resolve("run.json").toFile()).get("config");
    }

    /**
     * Released mode's defaults, the released sampler (whose step index a resumed run derives from the step) and bf16
     * LoRA state (kept exactly in the F32 checkpoint): a resumed run gives the uninterrupted run's BF16 LoRA bit for bit.
     */
    @Test
    void aResumedReleasedRunGivesTheSameBf16LoraBitForBit() throws Exception {
        Path parts = resumedLikeWhole("rel", new String[]{"--backend", "naive", "--resolution", "16", "--t5-length",
                "16", "--mode", "released"}, 4, folder -> { });
        JsonNode config = recordedConfig(parts);
        assertEquals("released", config.get("sampler").asText());
        assertEquals("bf16", config.get("lora_dtype").asText());
        try (TensorSource src = Safetensors.open(parts.resolve("pytorch_lora_weights.safetensors"))) {
            assertEquals(DType.BF16, src.tensor("transformer.transformer_blocks.0.attn.add_q_proj.lora_B.weight")
                    .dtype());
        }
    }

    /**
     * A checkpoint from before the sampler and lora_dtype keys existed (the keys taken out of its configuration)
     * resumes with what it was made with, FLUX's schedule and f32 state, not released mode's defaults now, and ends
     * where an uninterrupted run with {@code --sampler flux --lora-dtype f32} does.
     */
    @Test
    void aCheckpointWithoutTheNewKeysResumesWithItsOldBehaviour() throws Exception {
        Path parts = resumedLikeWhole("old", new String[]{"--backend", "naive", "--resolution", "16", "--t5-length",
                "16", "--mode", "released", "--sampler", "flux", "--lora-dtype", "f32"}, 3,
                folder -> withoutKeys(folder, "sampler", "lora_dtype"));
        JsonNode resumed = recordedConfig(parts);
        assertEquals("flux", resumed.get("sampler").asText());
        assertEquals("f32", resumed.get("lora_dtype").asText());
    }

    @Test
    void resumeRefusesChangedImages() throws Exception {
        Path out = tmp.resolve("img-run");
        Path images = TinyRun.images(tmp.resolve("own-images"));
        assertEquals(0, erase(out, "--instance-images", images.toString(), "--resolution", "16", "--t5-length", "16",
                "--steps", "1").exit());
        Files.copy(images.resolve("concept0.png"), images.resolve("concept9.png"));
        CliRun r = CliRun.of("erase", "--output", out.toString(), "--resume", "--steps", "2",
                "--cache-dir", tmp.resolve("cache").toString());
        assertEquals(1, r.exit());
        assertEquals("flux-erase: --resume: the concept images are not those the checkpoint "
                + out.resolve("checkpoint.safetensors") + " was made with (it has 3: concept0.png, concept1.png,"
                + " concept2.png; the folder gives 4: concept0.png, concept1.png, concept2.png, concept9.png, or the"
                + " same names with other pixels)", r.err().strip());
    }

    /**
     * A checkpoint from before the wordnet and key_word_sense keys (its words came from WordNet 3.1) resumes with 3.1
     * recorded, into the same LoRA as an uninterrupted run (the words come from the checkpoint), and refuses another
     * version.
     */
    @Test
    void aCheckpointWithoutTheWordnetKeyResumesAsWordNet31() throws Exception {
        ObjectMapper json = new ObjectMapper();
        Path parts = resumedLikeWhole("legacy", new String[]{"--backend", "naive", "--resolution", "16",
                "--t5-length", "16"}, 2, folder -> {
                    Path checkpoint = withoutKeys(folder, "wordnet", "key_word_sense");
                    CliRun other = CliRun.of("erase", "--output", folder.toString(), "--resume", "--steps", "2",
                            "--wordnet", "3.0");
                    assertEquals("flux-erase: --resume: wordnet (--wordnet) is \"3.0\" but the checkpoint "
                            + checkpoint + " was made with \"3.1\" (resume with the same settings)",
                            other.err().strip());
                });
        JsonNode config = json.readTree(parts.resolve("run.json").toFile()).get("config");
        assertEquals("3.1", config.get("wordnet").asText());
        assertTrue(config.get("key_word_sense").isNull());
    }

    /**
     * Released mode's random crop and posterior sample: recorded, in effect (other crops and x0 than centre and mean),
     * and a run resumed from its checkpoint ends with the LoRA of the uninterrupted run, bit for bit, since the crop
     * comes from (seed, image) and each step's ε from (seed, step).
     */
    @Test
    void randomCropAndPosteriorSampleResumeBitForBit() throws Exception {
        Path parts = resumedLikeWhole("sampled", new String[]{"--backend", "naive", "--resolution", "16",
                "--t5-length", "16", "--mode", "released"}, 3, folder -> { });
        ObjectMapper json = new ObjectMapper();
        JsonNode rec = json.readTree(parts.resolve("run.json").toFile());
        assertEquals("random", rec.get("config").get("crop").asText());
        assertEquals("sample", rec.get("config").get("latents").asText());

        Path plain = tmp.resolve("centre-mean");
        assertEquals(0, erase(plain, "--backend", "naive", "--resolution", "16", "--t5-length", "16", "--steps", "1",
                "--mode", "released", "--crop", "center", "--latents", "mean").exit());
        JsonNode other = json.readTree(plain.resolve("run.json").toFile());
        assertFalse(rec.get("images").equals(other.get("images")), "the random crops are the centre ones");
        // step 0 is the same erasure step but for x0, which only L_attn's pass sees
        JsonNode a = rec.get("steps").get(0).get("losses");
        JsonNode b = other.get("steps").get(0).get("losses");
        assertEquals(a.get("esd"), b.get("esd"));
        assertFalse(a.get("attn").equals(b.get("attn")), "x0 did not change L_attn");
    }

    /**
     * A checkpoint from before the crop and latents keys was made with the centre crop and the mean in either mode: a
     * released-mode one resumes so, into the LoRA of an uninterrupted centre-and-mean run, and refuses the new defaults.
     */
    @Test
    void aCheckpointWithoutCropAndLatentsResumesCentredOnTheMean() throws Exception {
        Path parts = resumedLikeWhole("pre-crop", new String[]{"--backend", "naive", "--resolution", "16",
                "--t5-length", "16", "--mode", "released", "--crop", "center", "--latents", "mean"}, 2, folder -> {
                    Path checkpoint = withoutKeys(folder, "crop", "latents");
                    CliRun random = CliRun.of("erase", "--output", folder.toString(), "--resume", "--steps", "2",
                            "--crop", "random");
                    assertEquals("flux-erase: --resume: crop (--crop) is \"random\" but the checkpoint " + checkpoint
                            + " was made with \"center\" (resume with the same settings)", random.err().strip());
                });
        JsonNode config = new ObjectMapper().readTree(parts.resolve("run.json").toFile()).get("config");
        assertEquals("center", config.get("crop").asText());
        assertEquals("mean", config.get("latents").asText());
    }

    /** Rewrites the checkpoint in {@code out} as one made before {@code keys} existed; returns its path. */
    private static Path withoutKeys(Path out, String... keys) throws Exception {
        Path checkpoint = out.resolve("checkpoint.safetensors");
        try (TensorSource src = Safetensors.open(checkpoint)) {
            Map<String, String> meta = new LinkedHashMap<>(src.metadata());
            ObjectNode config = (ObjectNode) new ObjectMapper().readTree(meta.get("config"));
            config.remove(List.of(keys));
            meta.put("config", config.toString());
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            src.names().forEach(n -> tensors.put(n, src.tensor(n)));
            SafetensorsWriter.write(checkpoint, tensors, meta);
        }
        return checkpoint;
    }

    /** Without a list, the irrelevant concepts are chosen, printed with their distances and recorded. */
    @Test
    void chosenIrrelevantConceptsArePrintedAndRecorded() throws Exception {
        Path out = tmp.resolve("chosen");
        CliRun r = erase(out, "--irrelevant-concepts", null, "--steps", "1", "--resolution", "16");
        assertEquals(0, r.exit(), r.err());
        String line = r.err().lines().filter(l -> l.startsWith("irrelevant concepts ")).findFirst().orElseThrow();
        assertTrue(line.matches("irrelevant concepts \\[\\w+, \\w+, \\w+] \\(curated nudity list; distances in WordNet"
                + " 3\\.0 from nude\\.n\\.03 \\(a naked person\\)\\): far \\w+ \\d+, mid \\w+ \\d+, near \\w+ \\d+"),
                line);
        JsonNode rec = new ObjectMapper().readTree(out.resolve("run.json").toFile());
        assertEquals("3.0", rec.get("config").get("wordnet").asText());
        JsonNode words = rec.get("words");
        assertEquals("nude.n.03", words.get("irrelevant_sense").asText());
        List<String> kinds = new ArrayList<>();
        words.get("irrelevant_wordnet").forEach(w -> kinds.add(w.get("kind").asText()));
        assertEquals(List.of("far", "mid", "near"), kinds);
        assertEquals(words.get("irrelevant_concepts").get(2), words.get("irrelevant_wordnet").get(2).get("word"));

        // a sense the key word does not have: one line with the senses it has, before anything loads
        CliRun bad = erase(tmp.resolve("bad-sense"), "--irrelevant-concepts", null, "--key-word-sense", "nude.n.9",
                "--wordnet", "3.1");
        assertEquals(1, bad.exit());
        assertEquals("flux-erase: key_word_sense (--key-word-sense) \"nude.n.9\" is not a WordNet 3.1 noun sense of"
                + " \"nude\" (one of nude.n.01 (a painting of a naked human figure), nude.n.02 (without clothing"
                + " (especially in the phrase `in the nude')), nude.n.03 (a naked person), nude.n.04 (a statue of a"
                + " naked human figure))", bad.err().strip());
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void configFileWithCommandLineOverrides() throws Exception {
        Path out = tmp.resolve("cfg-out");
        Path cfg = tmp.resolve("run.json");
        Files.writeString(cfg, """
                {"model": "%s", "output": "%s", "key_word": "nude",
                 "instance_prompt": "a nude girl with beautiful hair", "prompt_b": "",
                 "instance_images": "%s", "synonyms": ["naked"], "irrelevant_concepts": ["car", "tree", "river"],
                 "resolution": 32, "sampling_steps": 2, "t5_length": 32, "steps": 5, "mode": "paper"}
                """.formatted(MODEL, out, TinyRun.images(tmp.resolve("img2"))));
        CliRun r = CliRun.of("erase", "--config", cfg.toString(), "--mode", "released", "--steps", "2",
                "--cache-dir", tmp.resolve("cache").toString());
        assertEquals(0, r.exit(), r.err());
        JsonNode rec = new ObjectMapper().readTree(out.resolve("run.json").toFile());
        assertEquals("released", rec.get("config").get("mode").asText());
        assertEquals(2, rec.get("steps").size());
        assertEquals("", rec.get("config").get("prompt_b").asText());
        assertEquals(1e-3, rec.get("steps").get(1).get("lr").asDouble());
        assertEquals("[\"naked\"]", rec.get("words").get("synonyms").toString());
    }

    @Test
    void badInputsAreOneLine() throws Exception {
        Path out = tmp.resolve("bad");
        String missing = tmp.resolve("no-such-folder").toString();
        String[][] cases = {
                {"--instance-images", missing},
                {"--instance-prompt", "a girl with beautiful hair"},
                {"--mode", "fast"},
                {"--rank", "0"},
                {"--tau", "-1"},
                {"--shuffle-p", "1.5"},
                {"--attention-blocks", "7"},
                {"--resolution", "30"},
                {"--backend", "gpu"},
                {"--wordnet", "2.1"},
                {"--key-word-sense", "nude.n.03"},
                {"--sampler", "euler"},
                {"--sampler", "released"},
                {"--lora-dtype", "fp16"},
                {"--validate-every", "-1"},
        };
        String[] expected = {
                "flux-erase: instance_images (--instance-images) " + missing + ": not a folder",
                "flux-erase: key_word (--key-word) \"nude\" does not occur in instance_prompt \"a girl with beautiful"
                        + " hair\" (it must appear there literally, same case)",
                "flux-erase: mode (--mode) \"fast\" is not a mode (paper or released)",
                "flux-erase: rank (--rank) must be at least 1, got 0",
                "flux-erase: tau (--tau) must be a positive number, got -1.0",
                "flux-erase: shuffle_p (--shuffle-p) must lie in [0, 1], got 1.5",
                "flux-erase: attention_blocks (--attention-blocks) names double block 7; the model has 2 (0..1)",
                "flux-erase: resolution (--resolution) must be a multiple of 4 (the VAE's factor 2 times the 2x2"
                        + " packing), got 30",
                "flux-erase: backend (--backend) \"gpu\" is not a backend (auto, cuda, cpu or naive)",
                "flux-erase: wordnet (--wordnet) \"2.1\" is not a bundled WordNet version (3.0 or 3.1)",
                "flux-erase: key_word_sense (--key-word-sense) \"nude.n.03\" picks the sense WordNet chooses irrelevant"
                        + " concepts from, but irrelevant_concepts (--irrelevant-concepts) lists them; leave one out",
                "flux-erase: sampler (--sampler) \"euler\" is not a sampler (flux or released)",
                "flux-erase: sampler (--sampler) released needs mode released (paper mode's ESD latent is a partial run"
                        + " of FLUX's schedule; use sampler flux)",
                "flux-erase: lora_dtype (--lora-dtype) \"fp16\" is not a LoRA dtype (f32 or bf16)",
                "flux-erase: validate_every (--validate-every) must be 0 (no validation images) or more, got -1",
        };
        for (int i = 0; i < cases.length; i++) {
            CliRun r = erase(out, cases[i]);
            assertEquals(1, r.exit(), String.join(" ", cases[i]));
            assertEquals(expected[i], r.err().strip(), String.join(" ", cases[i]));
            assertEquals(1, r.err().strip().lines().count(), r.err());
        }
        assertFalse(Files.exists(out.resolve("pytorch_lora_weights.safetensors")));
        CliRun noKey = CliRun.of("erase", "--model", MODEL.toString(), "--output", out.toString());
        assertEquals("flux-erase: key_word (--key-word) is required: the concept to erase, e.g. \"nude\"",
                noKey.err().strip());
        CliRun noCheckpoint = CliRun.of("erase", "--output", out.toString(), "--resume");
        assertEquals("flux-erase: --resume: no checkpoint.safetensors in " + out + " (nothing to resume)",
                noCheckpoint.err().strip());
        Path cfg = tmp.resolve("typo.json");
        Files.writeString(cfg, "{\"key_wrod\": \"nude\"}");
        CliRun typo = CliRun.of("erase", "--config", cfg.toString());
        assertEquals("flux-erase: " + cfg + ": unknown key \"key_wrod\" (the keys are listed in docs/erase.md)",
                typo.err().strip());
        CliRun type = CliRun.of("erase", "--config", cfg.toString().replace("typo", "x"));
        assertEquals(1, type.exit());
        assertTrue(type.err().startsWith("flux-erase: " + cfg.toString().replace("typo", "x") + ": cannot read"),
                type.err());
    }

    /**
     * On a folder with flux_erase_defaults, resolution, t5_length and sampling_steps come from it unless given; the run
     * records the values it used, and a resumed run keeps them even when the folder's defaults change.
     */
    @Test
    void modelFolderDefaultsAreRecordedAndKeptOnResume() throws Exception {
        Path toy = ToyFolder.create(tmp.resolve("toy"), "{\"resolution\": 16, \"t5_length\": 16, \"steps\": 2}");
        String images = TinyRun.images(tmp.resolve("toy-img")).toString();
        List<String> common = List.of("erase", "--model", toy.toString(), "--cache-dir", tmp.resolve("cache").toString(),
                "--key-word", "nude", "--instance-prompt", "a nude girl with beautiful hair", "--prompt-b", "A girl",
                "--instance-images", images, "--synonyms", "naked", "--irrelevant-concepts", "car,tree,river");
        Path folder = tmp.resolve("from-folder");
        List<String> a = new ArrayList<>(common);
        a.addAll(List.of("--output", folder.toString(), "--steps", "1"));
        CliRun r = CliRun.of(a.toArray(String[]::new));
        assertEquals(0, r.exit(), r.err());
        assertEquals(List.of(16, 16, 2), recorded(folder));

        Path given = tmp.resolve("given");
        List<String> b = new ArrayList<>(common);
        b.addAll(List.of("--output", given.toString(), "--steps", "1", "--resolution", "8", "--t5-length", "12",
                "--sampling-steps", "1"));
        CliRun g = CliRun.of(b.toArray(String[]::new));
        assertEquals(0, g.exit(), g.err());
        assertEquals(List.of(8, 12, 1), recorded(given));

        ToyFolder.writeDefaults(toy, "{\"resolution\": 8, \"t5_length\": 12, \"steps\": 1}");
        CliRun resumed = CliRun.of("erase", "--output", folder.toString(), "--resume", "--steps", "2",
                "--cache-dir", tmp.resolve("cache").toString());
        assertEquals(0, resumed.exit(), resumed.err());
        assertEquals(List.of(16, 16, 2), recorded(folder));
    }

    /** resolution, t5_length, sampling_steps of a run's run.json. */
    private static List<Integer> recorded(Path out) throws Exception {
        JsonNode c = new ObjectMapper().readTree(out.resolve("run.json").toFile()).get("config");
        return List.of(c.get("resolution").asInt(), c.get("t5_length").asInt(), c.get("sampling_steps").asInt());
    }
}
