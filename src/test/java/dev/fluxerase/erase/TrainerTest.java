package dev.fluxerase.erase;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.erase.StepRecord.Kind;
import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.flux.FluxLayout;
import dev.fluxerase.lora.LoraModule;
import dev.fluxerase.pipeline.PromptCache;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.testing.Compare;
import dev.fluxerase.vae.LatentCodec;
import dev.fluxerase.vae.LatentScaling;
import dev.fluxerase.vae.PixelCodec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The trainer on the tiny pipeline: paper vs released teachers, the alternating schedule and its learning rates. */
class TrainerTest {
    @TempDir
    Path tmp;

    private RunConfig config(String mode, String... extra) throws Exception {
        ObjectNode o = TinyRun.config(tmp);
        o.putArray("synonyms").add("naked").add("bare");
        o.putArray("irrelevant_concepts").add("car").add("tree").add("river");
        o.put("mode", mode);
        for (int i = 0; i < extra.length; i += 2) {
            if (extra[i].equals("backend")) {
                o.put("backend", extra[i + 1]);
            } else {
                o.put(extra[i], Double.parseDouble(extra[i + 1]));
            }
        }
        return RunConfig.of(o);
    }

    private Trainer open(RunConfig c) {
        return Trainer.open(c, tmp, new PromptCache(tmp.resolve("cache")), null, w -> { }, w -> { });
    }

    private static float maxAbsB(Trainer t) {
        float m = 0;
        for (LoraModule mod : t.lora().modules()) {
            for (long i = 0; i < mod.b().numel(); i++) {
                m = Math.max(m, Math.abs(mod.b().get(i)));
            }
        }
        return m;
    }

    /** Compares the bits of the frozen and the live teacher's targets. */
    @Test
    void paperTeacherIsFrozenReleasedTeacherIsLive() throws Exception {
        try (Trainer t = open(config("paper", "backend", "naive"))) {
            Passes p = t.passes();
            Passes.Cond cA = t.condition("A girl with beautiful hair");
            Passes.Cond cUn = t.condition("a nude girl with beautiful hair");
            float[] z = RunRandom.gaussian(new Random(1), 16 * 64);
            double sigma = t.schedule().inputs()[1];
            // B = 0: the LoRA model is the base model, and both teachers give the same target
            float[] frozen0 = Losses.esdTarget(p.frozenVelocity(z, cA, sigma, 3), p.frozenVelocity(z, cUn, sigma, 3), 1);
            float[] live0 = p.esdLive(z, cUn, sigma, 3, p.velocity(z, cA, sigma, 3), 1, 1, null).target();
            assertEquals(0, Compare.maxAbsDiff(frozen0, live0));
            assertEquals(0f, maxAbsB(t));

            t.step(0);
            assertTrue(maxAbsB(t) > 0, "the erasure step left B at zero");
            float[] frozen = Losses.esdTarget(p.frozenVelocity(z, cA, sigma, 3), p.frozenVelocity(z, cUn, sigma, 3), 1);
            float[] live = p.esdLive(z, cUn, sigma, 3, p.velocity(z, cA, sigma, 3), 1, 1, null).target();
            // the frozen teacher did not move; the live one did
            assertEquals(0, Compare.maxAbsDiff(frozen0, frozen));
            double moved = Compare.maxAbsDiff(frozen, live);
            assertTrue(moved > 1e-4 * Compare.maxAbs(frozen), "live and frozen targets agree to " + moved);
        }
    }

    /**
     * The default validation rows: the instance prompt, then the key word replaced by its first synonym that is another
     * word and by the first irrelevant concept; no synonym row when every synonym is the key word.
     */
    @Test
    void validationPromptsDefaultToConceptSynonymAndIrrelevantConcept() throws Exception {
        ObjectNode o = TinyRun.config(tmp);
        o.putArray("synonyms").add("nude").add("naked").add("bare");
        o.putArray("irrelevant_concepts").add("algebra").add("chair").add("woman");
        o.put("validate_every", 10);
        RunConfig c = RunConfig.of(o);
        assertEquals(List.of("a nude girl with beautiful hair", "a naked girl with beautiful hair",
                "a algebra girl with beautiful hair"), Validation.prompts(c, Words.choose(c)));
        o.putArray("synonyms").add("nude");
        RunConfig alone = RunConfig.of(o);
        assertEquals(List.of("a nude girl with beautiful hair", "a algebra girl with beautiful hair"),
                Validation.prompts(alone, Words.choose(alone)));
        o.putArray("validate_prompts").add("a nude man").add("a tree");
        RunConfig given = RunConfig.of(o);
        assertEquals(List.of("a nude man", "a tree"), Validation.prompts(given, Words.choose(given)));
    }

    @Test
    void stepsAlternateWithTheirLearningRates() throws Exception {
        RunConfig paper = config("paper");
        RunConfig released = config("released");
        RunConfig erasureOnly = config("paper", "weight_lora", "0", "weight_rsc", "0");
        for (int s = 0; s < 6; s++) {
            Kind k = s % 2 == 0 ? Kind.ERASE : Kind.PRESERVE;
            assertEquals(k, Trainer.kind(paper, s));
            assertEquals(k == Kind.ERASE ? 1e-3 : 5e-4, Trainer.lr(paper, s));
            assertEquals(k, Trainer.kind(released, s));
            assertEquals(1e-3, Trainer.lr(released, s));
            assertEquals(Kind.ERASE, Trainer.kind(erasureOnly, s));
            assertEquals(1e-3, Trainer.lr(erasureOnly, s));
        }
        assertEquals(1000, paper.steps());
        assertEquals(300, released.steps());
    }

    @Test
    void firstAdamStepMovesBByTheErasureRate() throws Exception {
        // AdamW's first step is lr·g/(|g| + eps): every B entry with a gradient moves by lr, from 0
        try (Trainer t = open(config("paper", "lr_erase", "0.002"))) {
            StepRecord r = t.step(0);
            assertEquals(Kind.ERASE, r.kind());
            assertEquals(0.002, maxAbsB(t), 1e-7);
            StepRecord r1 = t.step(1);
            assertEquals(Kind.PRESERVE, r1.kind());
            assertEquals(5e-4, r1.lr());
            assertTrue(r1.lora() != null && r1.rsc() != null && r1.esd() == null && r1.attn() == null);
            assertTrue(r.esd() != null && r.attn() != null && r.lora() == null && r.rsc() == null);
        }
    }

    @Test
    void theTimeOfAPreservationStepIsThatOfTheErasureStepBeforeIt() throws Exception {
        for (String mode : List.of("paper", "released")) {
            try (Trainer t = open(config(mode))) {
                List<StepRecord> r = new ArrayList<>();
                for (int s = 0; s < 4; s++) {
                    r.add(t.step(s));
                }
                assertEquals(r.get(0).sigma(), r.get(1).sigma());
                assertEquals(r.get(2).sigma(), r.get(3).sigma());
                if (mode.equals("paper")) {
                    assertEquals(t.schedule().inputs()[r.get(0).samplingStep()], r.get(0).sigma());
                } else {
                    int tEnc = r.get(0).samplingStep();
                    double sigma = r.get(0).sigma();
                    assertTrue(sigma >= Math.rint(1000.0 * tEnc / 2) / 1000 && sigma < Math.rint(1000.0 * (tEnc + 1) / 2)
                            / 1000, mode + ": sigma " + sigma + " for t_enc " + tEnc);
                }
            }
        }
    }

    @Test
    void erasureStepsLowerTheAttentionOnTheConcept() throws Exception {
        // erasure steps only, attention loss only: the concept's attention on an unseen input falls
        try (Trainer t = open(config("paper", "weight_lora", "0", "weight_rsc", "0", "weight_esd", "0",
                "lr_erase", "0.05"))) {
            Passes p = t.passes();
            Passes.Cond cUn = t.condition("a nude girl with beautiful hair");
            float[] x = RunRandom.gaussian(new Random(4), 16 * 64);
            double sigma = t.schedule().inputs()[1];
            // "nude" is T5 position 1 of the prompt ("▁a ▁nude ...")
            int[] positions = {1};
            double attn0 = p.attention(x, cUn, sigma, 3.5, positions, 1, null);
            for (int s = 0; s < 6; s++) {
                StepRecord r = t.step(s);
                assertEquals(Kind.ERASE, r.kind());
                assertTrue(r.esd() == null && r.attn() != null);
            }
            double attn = p.attention(x, cUn, sigma, 3.5, positions, 1, null);
            assertTrue(attn < 0.75 * attn0, "L_attn " + attn0 + " -> " + attn);
        }
    }

    /**
     * Released mode samples with the released code's scheduler by default: over the same two steps from the same noise
     * it moves the latent by about 0.002·v, FLUX's schedule by about v (σ 1 → 0).
     */
    @Test
    void theReleasedSamplerLeavesTheLatentNearItsNoise() throws Exception {
        RunConfig c = config("released", "backend", "naive");
        assertEquals(RunConfig.Sampler.RELEASED, c.sampler());
        try (Trainer t = open(c)) {
            Passes p = t.passes();
            Passes.Cond cUn = t.condition("a nude girl with beautiful hair");
            float[] z = RunRandom.gaussian(new Random(2), 16 * 64);
            ReleasedSampler released = new ReleasedSampler(dev.fluxerase.pipeline.FlowMatchScheduler.FLUX_DEV, 2);
            Passes.Schedule call = released.call(0, released.timesteps(new float[]{0.3f, -0.8f}));
            double near = Compare.maxAbsDiff(z, p.sample(z, cUn, call, 2, 3));
            double far = Compare.maxAbsDiff(z, p.sample(z, cUn, t.schedule(), 2, 3));
            assertTrue(near > 0 && near < 0.005 * far, "released moved " + near + ", FLUX's schedule " + far);
            List<StepRecord> r = List.of(t.step(0), t.step(1));
            assertTrue(r.get(0).esd() != null && r.get(1).rsc() != null);
        }
    }

    /** Released mode keeps the LoRA in bf16: A as peft casts its f32 draw, and every value after AdamW's steps. */
    @Test
    void releasedModeKeepsTheLoraInBf16() throws Exception {
        float[] paperA;
        try (Trainer t = open(config("paper"))) {
            paperA = Floats.toF32(t.lora().modules().iterator().next().a());
        }
        try (Trainer t = open(config("released"))) {
            float[] a = Floats.toF32(t.lora().modules().iterator().next().a());
            for (int i = 0; i < a.length; i++) {
                assertEquals(Floats.roundToBf16(paperA[i]), a[i]);
            }
            t.step(0);
            t.step(1);
            assertTrue(maxAbsB(t) > 0);
            for (LoraModule m : t.lora().modules()) {
                for (float v : concat(Floats.toF32(m.a()), Floats.toF32(m.b()))) {
                    assertEquals(Floats.roundToBf16(v), v, m.module());
                }
            }
        }
    }

    private static float[] concat(float[] a, float[] b) {
        float[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** The released code's mask counts a position its find_token repeats once; the tokenizer does repeat it. */
    @Test
    void releasedAttentionCountsARepeatedColumnOnce() throws Exception {
        int[] found = dev.fluxerase.text.T5Tokenizer.load(TinyRun.MODEL.resolve("tokenizer_2"))
                .releasedCodePositions("a bye bye girl", "bye bye", 16);
        assertTrue(found.length > java.util.stream.IntStream.of(found).distinct().count(),
                "expected repeated positions: " + java.util.Arrays.toString(found));
        int[] released = Trainer.attentionColumns(Mode.RELEASED, found);
        assertEquals(java.util.stream.IntStream.of(found).distinct().count(), released.length);
        assertTrue(java.util.Arrays.equals(found, Trainer.attentionColumns(Mode.PAPER, found)));
    }

    /**
     * FLUX.1-dev at 512² and T5 length 512 on a 6 GiB heap: without gradient checkpointing the activations of all 57
     * blocks do not fit and the run is refused before any weight is read, naming what checkpointing would need; with it
     * the run fits. (The figures are FluxModel.trainingBytes', which FluxModelTest checks against real allocations.)
     */
    @Test
    void aRunTheHeapCannotHoldIsRefusedBeforeTheWeightsAreRead(@TempDir Path tmp) throws Exception {
        long heap = 6L << 30;
        EraseException e = assertThrows(EraseException.class, () -> Trainer.requireHeap(at512(tmp, false),
                FluxConfig.FLUX_DEV, VAE_FACTOR_8, heap));
        assertEquals("a 512x512 run needs about 22.8 GiB of Java heap for the transformer's activations and the LoRA "
                + "state, more than the Java heap's 6.0 GiB (with gradient_checkpointing (--gradient-checkpointing): "
                + "about 3.1 GiB); turn gradient checkpointing on, use a smaller resolution, or raise the limit "
                + "(FLUX_ERASE_JAVA_OPTS=-Xmx<size> for tools/flux-erase, at most the machine's memory)", e.getMessage());
        Trainer.requireHeap(at512(tmp, true), FluxConfig.FLUX_DEV, VAE_FACTOR_8, heap);
    }

    private static final LatentCodec VAE_FACTOR_8 = new PixelCodec(8, 3, new LatentScaling(1, 0));

    /** A run at 512² and T5 length 512, as FLUX.1-dev trains, with or without gradient checkpointing. */
    private static RunConfig at512(Path tmp, boolean checkpointing) throws Exception {
        ObjectNode o = TinyRun.config(tmp);
        o.put("resolution", 512);
        o.put("t5_length", 512);
        o.put("gradient_checkpointing", checkpointing);
        return RunConfig.of(o);
    }

    /**
     * On a device the weights count too: FLUX.1-dev's BF16 weights (22.2 GiB) and the activations at 512² do not fit
     * the 39 GiB an A100-40GB has free, and the refusal says what checkpointing would need, which fits.
     */
    @Test
    void aRunTheDeviceCannotHoldIsRefusedWithTheWeightsCounted(@TempDir Path tmp) throws Exception {
        long weights = 2 * FluxLayout.of(FluxConfig.FLUX_DEV).params().stream()
                .mapToLong(p -> dev.fluxerase.tensor.Tensor.numel(p.shape())).sum();
        long free = 39L << 30;
        EraseException e = assertThrows(EraseException.class, () -> Trainer.requireDevice(at512(tmp, false),
                FluxConfig.FLUX_DEV, VAE_FACTOR_8, weights, free, "cuda:GPU"));
        assertEquals("a 512x512 run needs about 45.0 GiB of device memory for the weights (22.2 GiB: the transformer's "
                + "and the text encoders'), the transformer's activations and the LoRA state, more than the 39.0 GiB "
                + "free on cuda:GPU (with gradient_checkpointing"
                + " (--gradient-checkpointing): about 25.3 GiB); turn gradient checkpointing on, use a smaller "
                + "resolution, or free memory on the GPU (nvidia-smi lists the processes that hold it)", e.getMessage());
        Trainer.requireDevice(at512(tmp, true), FluxConfig.FLUX_DEV, VAE_FACTOR_8, weights, free, "cuda:GPU");
    }
}
