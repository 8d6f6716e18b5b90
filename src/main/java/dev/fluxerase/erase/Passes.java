package dev.fluxerase.erase;

import dev.fluxerase.flux.FluxGradients;
import dev.fluxerase.flux.FluxInputs;
import dev.fluxerase.flux.FluxModel;
import dev.fluxerase.lora.LoraModule;
import dev.fluxerase.pipeline.Latents;
import dev.fluxerase.pipeline.PromptEmbeddings;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The transformer passes of the trainer, on a {@link FluxModel} with the trained LoRA attached: velocities without
 * gradient (live, or frozen: the LoRA's B held at zero, which is the model with LoRA multiplier 0), partial Euler
 * sampling, attention features at a sampling step, and the loss passes that add their LoRA gradients into a
 * {@link FluxGradients} (none when it is null: the value alone, which is what the finite-difference tests compare).
 * Latents are packed {@code [L, 4C]} float arrays of batch 1; what crosses to the backend's device and back per pass
 * is a latent, a velocity or a few attention columns. Device buffers are reused from pass to pass, and what a pass
 * must allocate it frees, since a device backend keeps what is not freed ({@link Backend#free}).
 */
final class Passes {
    /** A prompt's conditioning on the model's backend. */
    record Cond(Tensor txt, Tensor y) {
    }

    /**
     * A sampling run's n steps: the transformer's timestep input and the Euler step dt (σ_{k+1} − σ_k, float32) of
     * each. They are kept apart because the released sampler's dt does not come from the sigmas it shows the model.
     */
    record Schedule(double[] inputs, float[] dts) {
        Schedule {
            if (inputs.length != dts.length) {
                throw new IllegalArgumentException(inputs.length + " timestep inputs for " + dts.length + " steps");
            }
        }

        /** The schedule of n + 1 sigmas (ending at the last step's target) and n inputs. */
        static Schedule of(float[] sigmas, double[] inputs) {
            float[] dts = new float[inputs.length];
            for (int k = 0; k < dts.length; k++) {
                dts[k] = sigmas[k + 1] - sigmas[k];
            }
            return new Schedule(inputs, dts);
        }

        int steps() {
            return inputs.length;
        }
    }

    /** L_lora and L_rsc of one preservation pass (L_rsc summed over the attention blocks). */
    record Preservation(double lora, double rsc) {
    }

    private final FluxModel model;
    private final Backend be;
    private final Latents geometry;
    private final List<Integer> blocks;
    private final double[][] imgIds;
    private final Map<Integer, Tensor> gradProbs = new HashMap<>();
    /** The latent of the next pass and the output gradient of the next backward. */
    private final Tensor img;
    private final Tensor gradOut;
    /** Each LoRA B's values while a frozen pass holds it at zero, by module. */
    private final Map<String, Tensor> heldB = new HashMap<>();

    /** Passes of {@code model}, whose LoRA's factors are on its backend's device. */
    Passes(FluxModel model, Latents geometry, List<Integer> blocks) {
        this.model = model;
        this.be = model.backend();
        this.geometry = geometry;
        this.blocks = List.copyOf(blocks);
        this.imgIds = new double[][]{geometry.imageIds()};
        this.img = be.allocate(DType.F32, 1, geometry.tokens(), geometry.tokenWidth());
        this.gradOut = be.allocate(DType.F32, 1, geometry.tokens(), model.config().outChannels());
    }

    /** A prompt's conditioning on the device, until {@link #release}. */
    Cond condition(PromptEmbeddings e) {
        return new Cond(be.upload(Floats.toF32(e.t5()), e.t5().shape()),
                be.upload(Floats.toF32(e.clipPooled()), e.clipPooled().shape()));
    }

    void release(Cond c) {
        be.free(c.txt());
        be.free(c.y());
    }

    private FluxInputs inputs(float[] x, Cond c, double sigma, double guidance) {
        int n = (int) c.txt().dim(1);
        // the model copies its inputs into its own buffers, so this one is free again when forward returns
        be.write(img, x);
        double[] g = model.config().guidanceEmbed() ? new double[]{guidance} : null;
        return new FluxInputs(img, c.txt(), c.y(), imgIds, new double[][]{Latents.textIds(n)}, new double[]{sigma}, g);
    }

    /** v(x, c, σ) of the model as it is (LoRA attached), no gradient. */
    float[] velocity(float[] x, Cond c, double sigma, double guidance) {
        return be.download(model.forward(inputs(x, c, sigma, guidance), List.of()));
    }

    /** v(x, c, σ) of the frozen base model. */
    float[] frozenVelocity(float[] x, Cond c, double sigma, double guidance) {
        return frozen(() -> velocity(x, c, sigma, guidance));
    }

    /**
     * What {@code pass} computes with the frozen base model: every LoRA B is zero during it (exactly y += 0), then
     * restored, on the device.
     */
    <T> T frozen(Supplier<T> pass) {
        for (LoraModule m : model.lora().values()) {
            Tensor held = heldB.computeIfAbsent(m.module(), k -> be.allocate(DType.F32, m.b().shape()));
            be.copy(m.b(), held);
            be.fill(m.b(), 0f);
        }
        try {
            return pass.get();
        } finally {
            for (LoraModule m : model.lora().values()) {
                be.copy(heldB.get(m.module()), m.b());
            }
        }
    }

    /** {@code steps} Euler steps from {@code start} under c: x ← x + dt_k·v, float32, as the sampler. */
    float[] sample(float[] start, Cond c, Schedule s, int steps, double guidance) {
        float[] x = start.clone();
        for (int k = 0; k < steps; k++) {
            euler(x, velocity(x, c, s.inputs()[k], guidance), s.dts()[k]);
        }
        return x;
    }

    private static void euler(float[] x, float[] v, float dt) {
        for (int i = 0; i < x.length; i++) {
            x[i] = x[i] + dt * v[i];
        }
    }

    /**
     * The normalised attention features f̂ (head 0, mean over {@code positions}) of every attention block at sampling
     * step j: j Euler steps from z0 under c, then the forward of step j, which records the attention. No gradient.
     */
    Map<Integer, double[]> features(float[] z0, Cond c, Schedule s, int j, double guidance, int[] positions) {
        float[] x = sample(z0, c, s, j, guidance);
        model.forward(inputs(x, c, s.inputs()[j], guidance), blocks);
        Map<Integer, double[]> out = new LinkedHashMap<>();
        for (int b : blocks) {
            out.put(b, Losses.normalise(Losses.feature(columns(b, positions), heads(), joint(), positions.length)));
        }
        return out;
    }

    /** L_esd against a fixed target (the frozen teacher's, or any constant), its weighted gradient added into g. */
    double esd(float[] x, Cond c, double sigma, double guidance, float[] target, double weight, FluxGradients g) {
        float[] v = be.download(model.forward(inputs(x, c, sigma, guidance), List.of()));
        double loss = Losses.mse(v, target);
        if (g != null) {
            model.backward(upload(Losses.mseGradient(v, target, weight)), g);
        }
        return loss;
    }

    /** L_esd with the live teacher: e_p is this very pass's output under stop-gradient; e0 is given. */
    record LiveEsd(double loss, float[] target) {
    }

    LiveEsd esdLive(float[] x, Cond c, double sigma, double guidance, float[] e0, double eta, double weight,
                    FluxGradients g) {
        float[] v = be.download(model.forward(inputs(x, c, sigma, guidance), List.of()));
        float[] target = Losses.esdTarget(e0, v, eta);
        double loss = Losses.mse(v, target);
        if (g != null) {
            model.backward(upload(Losses.mseGradient(v, target, weight)), g);
        }
        return new LiveEsd(loss, target);
    }

    /** L_attn summed over the attention blocks, at the concept's positions; weighted gradient into g. */
    double attention(float[] x, Cond c, double sigma, double guidance, int[] positions, double weight,
                     FluxGradients g) {
        if (positions.length == 0) {
            return 0;
        }
        model.forward(inputs(x, c, sigma, guidance), blocks);
        int k = positions.length;
        double loss = 0;
        Map<Integer, Tensor> grads = new LinkedHashMap<>();
        for (int b : blocks) {
            float[] cols = columns(b, positions);
            loss += Losses.attention(cols, 1, heads(), joint(), k);
            if (g != null) {
                grads.put(b, scatter(b, Losses.attentionGradient(cols, 1, heads(), joint(), k, weight), positions));
            }
        }
        if (g != null) {
            model.backward(null, grads, g);
        }
        return loss;
    }

    /**
     * One forward at x_t under c with gradient: L_lora = mean((v − target)²) (target ε − x0) and, when
     * {@code synHat} is not null, L_rsc per attention block from this pass's concept feature against the given
     * synonym and irrelevant features; their weighted gradients go into g in one backward.
     */
    Preservation preservation(float[] x, Cond c, double sigma, double guidance, float[] target, int[] positions,
                              Map<Integer, double[]> synHat, Map<Integer, List<double[]>> irHat, double tau,
                              double weightLora, double weightRsc, FluxGradients g) {
        boolean rsc = synHat != null && positions.length > 0;
        float[] v = be.download(model.forward(inputs(x, c, sigma, guidance), rsc ? blocks : List.of()));
        double lora = Losses.mse(v, target);
        double contrast = 0;
        Map<Integer, Tensor> grads = new LinkedHashMap<>();
        int k = positions.length;
        for (int b : rsc ? blocks : List.<Integer>of()) {
            float[] cols = columns(b, positions);
            Losses.Contrast r = Losses.contrast(Losses.feature(cols, heads(), joint(), k), synHat.get(b),
                    irHat.get(b), tau);
            contrast += r.value();
            if (g != null) {
                grads.put(b, scatter(b, Losses.featureGradient(r.gradUn(), 1, heads(), joint(), k, weightRsc),
                        positions));
            }
        }
        if (g != null) {
            model.backward(upload(Losses.mseGradient(v, target, weightLora)), grads, g);
        }
        return new Preservation(lora, contrast);
    }

    private Tensor upload(float[] gradient) {
        be.write(gradOut, gradient);
        return gradOut;
    }

    private int heads() {
        return (int) model.config().numHeads();
    }

    /** The joint sequence length of the last forward (text + image tokens). */
    private int joint() {
        return (int) model.attentionProbs(blocks.getFirst()).dim(2);
    }

    /** cols [1, H, L, K] = the probability columns {@code positions} of block b's last recorded attention. */
    float[] columns(int block, int[] positions) {
        Tensor p = model.attentionProbs(block);
        long h = p.dim(1);
        long l = p.dim(2);
        int k = positions.length;
        Tensor cols = be.allocate(DType.F32, 1, h, l, Math.max(k, 1));
        for (int j = 0; j < k; j++) {
            be.copyStrided(p, positions[j], new long[]{h * l * l, l * l, l, 1}, cols, j,
                    new long[]{h * l * k, l * k, k, 1}, new long[]{1, h, l, 1}, false);
        }
        float[] out = k == 0 ? new float[0] : be.download(cols);
        be.free(cols);
        return out;
    }

    /** dL/dP of block b: zero except the columns {@code positions}, which receive gcols (repeated positions add). */
    private Tensor scatter(int block, float[] gcols, int[] positions) {
        Tensor p = model.attentionProbs(block);
        Tensor out = gradProbs.get(block);
        if (out == null || !Arrays.equals(out.shape(), p.shape())) {
            out = be.allocate(DType.F32, p.shape());
            gradProbs.put(block, out);
        } else {
            be.fill(out, 0f);
        }
        long h = p.dim(1);
        long l = p.dim(2);
        int k = positions.length;
        Tensor src = be.upload(gcols, 1, h, l, k);
        for (int j = 0; j < k; j++) {
            be.copyStrided(src, j, new long[]{h * l * k, l * k, k, 1}, out, positions[j],
                    new long[]{h * l * l, l * l, l, 1}, new long[]{1, h, l, 1}, true);
        }
        be.free(src);
        return out;
    }
}
