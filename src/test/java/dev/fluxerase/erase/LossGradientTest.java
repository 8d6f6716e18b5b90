package dev.fluxerase.erase;

import dev.fluxerase.cpu.NaiveBackend;
import dev.fluxerase.flux.FluxGradients;
import dev.fluxerase.flux.FluxModel;
import dev.fluxerase.flux.FluxWeights;
import dev.fluxerase.lora.LoraModule;
import dev.fluxerase.lora.LoraSet;
import dev.fluxerase.optim.AdamW;
import dev.fluxerase.pipeline.Latents;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.RandomData;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each loss's LoRA gradient (what {@link Passes} adds into {@link FluxGradients}) against central differences of the
 * loss value, in single LoRA parameters and along a random direction in all of them, on the tiny FLUX transformer with
 * the f64-accumulating reference backend: two attention blocks, 4 image and 6 text tokens, rank 2 with B ≠ 0 so that
 * A has a gradient too.
 *
 * <p>The backend still stores every activation in float32, which puts a noise floor under the differences: the
 * velocity losses (L_esd, L_lora) reach the LoRA only through the text keys and queries of QK-normed attention, so
 * their gradients are small (about 1e-3) and the float32 noise of the loss, divided by 2h, is about 1e-3 of them at
 * the best step (it grows as 1/h below h = 1e-3 and the truncation error as h² above). The attention losses read the
 * probabilities directly and agree to about 1e-5. The bounds sit above that floor; a wrong gradient is off by O(1).
 */
class LossGradientTest {
    private static final double H = 1e-2;
    private static final double H_DIR = 1e-3;

    private static FluxWeights weights;
    private static FluxModel model;
    private static Passes passes;
    private static List<LoraModule> modules;
    private static Passes.Cond cond;
    private static float[] x;
    private static int joint;

    @BeforeAll
    static void setUp() {
        weights = FluxWeights.open(TinyRun.MODEL.resolve("transformer"), null);
        model = new FluxModel(weights, new NaiveBackend());
        modules = List.copyOf(LoraSet.create(weights.config(), LoraSet.DEFAULT_TARGETS, 2, 2f, 3,
                LoraSet.Init.GAUSSIAN).modules());
        Random rng = new Random(11);
        for (LoraModule m : modules) {
            for (long i = 0; i < m.b().numel(); i++) {
                m.b().set(i, (float) (rng.nextGaussian() * 1.5));
            }
        }
        model.setLora(modules, 1f);
        Latents g = new Latents(8, 8, 2, 16);
        passes = new Passes(model, g, List.of(0, 1));
        int n = 6;
        cond = new Passes.Cond(Tensor.of(RandomData.gaussian(rng, n * 32, 1), 1, n, 32),
                Tensor.of(RandomData.gaussian(rng, 16, 1), 1, 16));
        x = RandomData.gaussian(rng, g.tokens() * g.tokenWidth(), 1);
        joint = n + g.tokens();
    }

    @AfterAll
    static void tearDown() {
        weights.close();
    }


    /** Checks dL/dθ for a random A and B coordinate of every module against (L(θ + h) − L(θ − h)) / 2h. */
    private static void check(String what, Function<FluxGradients, Double> loss) {
        FluxGradients g = model.newGradients(false, false);
        loss.apply(g);
        Random pick = new Random(what.hashCode());
        List<String> report = new ArrayList<>();
        double worst = 0;
        double scale = 0;
        for (LoraModule m : modules) {
            for (boolean isA : new boolean[]{true, false}) {
                Tensor p = isA ? m.a() : m.b();
                Tensor grad = isA ? g.loraA(m.module()) : g.loraB(m.module());
                long i = pick.nextLong(p.numel());
                float orig = p.get(i);
                p.set(i, orig + (float) H);
                double plus = loss.apply(null);
                p.set(i, orig - (float) H);
                double minus = loss.apply(null);
                p.set(i, orig);
                double fd = (plus - minus) / (2 * H);
                double an = grad.get(i);
                worst = Math.max(worst, Math.abs(fd - an));
                scale = Math.max(scale, Math.abs(an));
                report.add(m.module() + (isA ? ".A[" : ".B[") + i + "] fd " + fd + " analytic " + an);
            }
        }
        assertTrue(scale > 0, what + ": all checked gradients are zero");
        // the derivative along a random ±1 direction in every LoRA parameter: a signal far above float32 noise
        Random dir = new Random(what.hashCode() + 1);
        List<float[]> d = new ArrayList<>();
        double along = 0;
        for (LoraModule m : modules) {
            for (boolean isA : new boolean[]{true, false}) {
                Tensor grad = isA ? g.loraA(m.module()) : g.loraB(m.module());
                float[] v = new float[(int) grad.numel()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = dir.nextBoolean() ? 1 : -1;
                    along += v[i] * grad.get(i);
                }
                d.add(v);
            }
        }
        double plus = shifted(d, H_DIR, loss);
        double minus = shifted(d, -H_DIR, loss);
        double fdAlong = (plus - minus) / (2 * H_DIR);
        assertTrue(Math.abs(fdAlong - along) <= 5e-3 * Math.abs(along), what + ": along a random direction fd "
                + fdAlong + ", analytic " + along);
        assertTrue(worst <= 2e-3 * scale, what + ": worst |fd − analytic| " + worst + " vs max gradient " + scale
                + "\n" + String.join("\n", report));
    }

    /** The loss with every LoRA parameter moved by step·d (then restored). */
    private static double shifted(List<float[]> d, double step, Function<FluxGradients, Double> loss) {
        List<float[]> saved = new ArrayList<>();
        int k = 0;
        for (LoraModule m : modules) {
            for (Tensor p : new Tensor[]{m.a(), m.b()}) {
                float[] v = dev.fluxerase.tensor.Floats.toF32(p);
                saved.add(v);
                float[] dv = d.get(k++);
                for (int i = 0; i < v.length; i++) {
                    p.set(i, (float) (v[i] + step * dv[i]));
                }
            }
        }
        double l = loss.apply(null);
        k = 0;
        for (LoraModule m : modules) {
            for (Tensor p : new Tensor[]{m.a(), m.b()}) {
                float[] v = saved.get(k++);
                for (int i = 0; i < v.length; i++) {
                    p.set(i, v[i]);
                }
            }
        }
        return l;
    }

    @Test
    void esd() {
        Random rng = new Random(5);
        float[] target = RandomData.gaussian(rng, x.length, 1);
        check("esd", g -> passes.esd(x, cond, 0.7, 3.0, target, 1, g));
    }

    @Test
    void adamOnTheEsdGradientLowersTheLoss() {
        float[] target = Losses.esdTarget(passes.frozenVelocity(x, cond, 0.7, 3.0),
                passes.frozenVelocity(x, cond, 0.7, 3.0), 1);
        List<Tensor> params = new ArrayList<>();
        List<float[]> saved = new ArrayList<>();
        for (LoraModule m : modules) {
            for (Tensor t : new Tensor[]{m.a(), m.b()}) {
                params.add(t);
                saved.add(dev.fluxerase.tensor.Floats.toF32(t));
            }
        }
        AdamW opt = new AdamW(model.backend(), new AdamW.Settings(0.9f, 0.999f, 1e-8f, 0f), params);
        FluxGradients g = model.newGradients(false, false);
        double first = Double.NaN;
        double last = Double.NaN;
        for (int step = 0; step < 6; step++) {
            g.zero(model.backend());
            last = passes.esd(x, cond, 0.7, 3.0, target, 1, g);
            first = step == 0 ? last : first;
            List<Tensor> grads = new ArrayList<>();
            for (LoraModule m : modules) {
                grads.add(g.loraA(m.module()));
                grads.add(g.loraB(m.module()));
            }
            opt.step(grads, 0.02f);
        }
        for (int i = 0; i < params.size(); i++) {
            float[] v = saved.get(i);
            for (int j = 0; j < v.length; j++) {
                params.get(i).set(j, v[j]);
            }
        }
        assertTrue(last < 0.9 * first, "L_esd " + first + " -> " + last);
    }

    @Test
    void liveTeacherIsAStopGradient() {
        // released mode: the target e0 − η(e_p − e0) is built from this pass's own output, and held constant
        Random rng = new Random(9);
        float[] e0 = RandomData.gaussian(rng, x.length, 1);
        FluxGradients live = model.newGradients(false, false);
        Passes.LiveEsd r = passes.esdLive(x, cond, 0.7, 3.0, e0, 1, 1, live);
        FluxGradients fixed = model.newGradients(false, false);
        double loss = passes.esd(x, cond, 0.7, 3.0, r.target(), 1, fixed);
        assertTrue(loss == r.loss(), loss + " vs " + r.loss());
        for (LoraModule m : modules) {
            for (long i = 0; i < m.a().numel(); i++) {
                assertTrue(live.loraA(m.module()).get(i) == fixed.loraA(m.module()).get(i), m.module());
            }
            for (long i = 0; i < m.b().numel(); i++) {
                assertTrue(live.loraB(m.module()).get(i) == fixed.loraB(m.module()).get(i), m.module());
            }
        }
        // e_p is this pass's output v: at η = 1 the target is e0 − (v − e0)
        float[] v = passes.velocity(x, cond, 0.7, 3.0);
        for (int i = 0; i < v.length; i++) {
            assertTrue(r.target()[i] == e0[i] - (v[i] - e0[i]), "element " + i);
        }
    }

    @Test
    void attentionWithRepeatedPositions() {
        int[] positions = {1, 3, 3};
        check("attn", g -> passes.attention(x, cond, 0.4, 3.5, positions, 1, g));
    }

    @Test
    void flowMatching() {
        float[] target = RandomData.gaussian(new Random(6), x.length, 1);
        check("lora", g -> passes.preservation(x, cond, 0.55, 3.5, target, new int[]{2}, null, null, 0.07, 1, 0, g)
                .lora());
    }

    @Test
    void reverseSelfContrastive() {
        Random rng = new Random(8);
        float[] target = RandomData.gaussian(rng, x.length, 1);
        Map<Integer, double[]> syn = Map.of(0, unit(rng), 1, unit(rng));
        Map<Integer, List<double[]>> ir = Map.of(0, List.of(unit(rng), unit(rng), unit(rng)),
                1, List.of(unit(rng), unit(rng), unit(rng)));
        int[] positions = {2, 4};
        check("rsc", g -> passes.preservation(x, cond, 0.55, 3.5, target, positions, syn, ir, 0.07, 0, 1, g).rsc());
    }

    /** A non-negative unit vector over the joint sequence (attention features are non-negative). */
    private static double[] unit(Random rng) {
        double[] f = new double[joint];
        for (int i = 0; i < f.length; i++) {
            f[i] = rng.nextDouble();
        }
        return Losses.normalise(f);
    }
}
