package dev.fluxerase.pipeline;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.flux.FluxModel;
import dev.fluxerase.flux.FluxWeights;
import dev.fluxerase.lora.LoraSet;
import dev.fluxerase.sampling.FluxSchedule;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Compare;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sampler alone against diffusers' FluxPipeline on the tiny model: given the recorded prompt embeddings and initial
 * latents, every step's latents match the float64 run within the float32 bound the golden README derives (5e-5
 * rel_to_max), and the float32 run as well. The schedule is compared bit for bit.
 */
class EulerSamplerGoldenTest {
    /** README "Suggested bounds": float32 port, noise_pred and latents, rel_to_max. */
    static final double BOUND = 5e-5;

    static FluxWeights weights;

    @BeforeAll
    static void load() {
        weights = FluxWeights.open(Tiny.MODEL.resolve("transformer"), null);
    }

    @AfterAll
    static void close() {
        weights.close();
    }

    static PromptEmbeddings recorded(String c) {
        float[] t5 = Tiny.ref(c, "f64.prompt_embeds");
        float[] pooled = Tiny.ref(c, "f64.pooled_prompt_embeds");
        int[] t5Ids = Tiny.ids(c, "f32.t5_input_ids");
        return new PromptEmbeddings(t5Ids, Tiny.ids(c, "f32.clip_input_ids"),
                Tensor.of(t5, 1, t5Ids.length, t5.length / t5Ids.length), Tensor.of(pooled, 1, pooled.length));
    }

    @Test
    void scheduleIsDiffusersFloat32BitForBit() {
        FlowMatchScheduler s = FlowMatchScheduler.read(Tiny.MODEL.resolve("scheduler/scheduler_config.json"));
        assertEquals(FlowMatchScheduler.FLUX_DEV, s);
        float[] sigmas = s.sigmas(4, 64);
        assertArrayEquals(Tiny.ref("cat_32_s4", "f32.sigmas"), sigmas);
        assertArrayEquals(Tiny.ref("cat_32_s4", "f32.timesteps"), s.timesteps(sigmas));
        assertArrayEquals(Tiny.ref("punct_32_s28", "f32.sigmas"), s.sigmas(28, 64));
        assertArrayEquals(Tiny.ref("nude_girl_64_s4_msl512", "f32.sigmas"), s.sigmas(4, 256));
        assertEquals(0.4675, s.mu(64), 1e-15);
        float[] modelInput = Tiny.ref("cat_32_s4", "f64.transformer_timestep_input");
        float[] ts = s.timesteps(sigmas);
        for (int k = 0; k < 4; k++) {
            assertEquals(modelInput[k], (float) s.modelSigma(ts[k]), "step " + k);
        }
    }

    @Test
    void scheduleAgreesWithFluxScheduleToFloat32Rounding() {
        for (int steps : new int[]{1, 4, 28, 50}) {
            for (long tokens : new long[]{64, 256, 1024, 4096}) {
                assertEquals(FluxSchedule.mu(tokens), FlowMatchScheduler.FLUX_DEV.mu(tokens), 1e-15);
                float[] ours = FlowMatchScheduler.FLUX_DEV.sigmas(steps, tokens);
                double[] bfl = FluxSchedule.sigmas(steps, tokens, true);
                for (int k = 0; k <= steps; k++) {
                    assertEquals(bfl[k], ours[k], 2e-7, steps + " steps, " + tokens + " tokens, sigma " + k);
                }
            }
        }
        float[] schnell = FlowMatchScheduler.FLUX_SCHNELL.sigmas(4, 4096);
        double[] unshifted = FluxSchedule.sigmas(4, 4096, false);
        for (int k = 0; k <= 4; k++) {
            assertEquals(unshifted[k], schnell[k], 1e-7);
        }
    }

    @Test
    void imageIdsArePackedTokenRowAndColumn() {
        Latents g = new Latents(32, 32, 2, 16);
        double[] ids = g.imageIds();
        float[] ref = Tiny.ref("cat_32_s4", "f32.latent_image_ids");
        assertEquals(ref.length, ids.length);
        for (int i = 0; i < ids.length; i++) {
            assertEquals(ref[i], ids[i], 0.0, "id " + i);
        }
    }

    @Test
    void catFourStepsMatchDiffusers() {
        run("cat_32_s4", null, true);
    }

    @Test
    void catWithLoraMatchesDiffusers() {
        run("cat_lora_32_s4", LoraSet.load(Tiny.LORA), true);
    }

    @Test
    void twentyEightStepsMatchDiffusers() {
        run("punct_32_s28", null, false);
    }

    private static void run(String c, LoraSet lora, boolean noisePred) {
        FluxModel model = new FluxModel(weights, new CpuBackend());
        if (lora != null) {
            model.setLora(lora.modules(), 1f);
        }
        String promptCase = c.equals("cat_lora_32_s4") ? "cat_32_s4" : c;
        long[] shape = Tiny.shape(c, "f64.latents_per_step");
        int steps = (int) shape[0];
        int side = (int) Math.round(Math.sqrt(shape[2])) * 4;
        Latents g = new Latents(side, side, 2, 16);
        List<float[]> vs = new ArrayList<>();
        List<float[]> xs = new ArrayList<>();
        EulerSampler sampler = new EulerSampler(model, FlowMatchScheduler.FLUX_DEV);
        float[] last = sampler.sample(recorded(promptCase), g, Tiny.initialLatents(c), steps, 3.5,
                (k, n, v, x) -> {
                    vs.add(v.clone());
                    xs.add(x.clone());
                });
        assertEquals(steps, xs.size());
        assertArrayEquals(xs.get(steps - 1), last);
        for (String run : new String[]{"f64", "f32"}) {
            float[] refX = Tiny.ref(c, run + ".latents_per_step");
            float[] refV = noisePred ? Tiny.ref(c, run + ".noise_pred") : null;
            for (int k = 0; k < steps; k++) {
                double dx = Compare.relToMax(xs.get(k), Tiny.slice(refX, k, steps));
                assertTrue(dx < BOUND, c + " " + run + " latents step " + k + ": rel_to_max " + dx);
                if (refV != null) {
                    double dv = Compare.relToMax(vs.get(k), Tiny.slice(refV, k, steps));
                    assertTrue(dv < BOUND, c + " " + run + " noise_pred step " + k + ": rel_to_max " + dv);
                }
            }
            System.out.printf("%s vs %s: final latents rel_to_max %.2e%n", c, run,
                    Compare.relToMax(last, Tiny.slice(refX, steps - 1, steps)));
        }
    }
}
