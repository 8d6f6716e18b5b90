package dev.fluxerase.pipeline;

import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.flux.FluxInputs;
import dev.fluxerase.flux.FluxModel;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.util.Arrays;

/**
 * FLUX's flow-matching Euler sampler (FLUX.md §4.2) as diffusers' FluxPipeline runs it: one transformer call per step
 * with the packed latents, the prompt's T5 states and CLIP pooled vector, img_ids (0, row, col) and zero txt_ids, the
 * float32 timestep as σ and the guidance scale as an embedded input (dev models; not classifier-free guidance); then
 * {@code x ← x + (σ_{k+1} − σ_k)·v} in float32 with {@code dt} rounded first, as the scheduler's {@code step} does.
 */
public final class EulerSampler {

    /** Called after every step with the transformer output v and the latents after the step (both packed). */
    @FunctionalInterface
    public interface Listener {
        void onStep(int step, int steps, float[] velocity, float[] latents);

        /** Called once, when the prompt is encoded and the first step begins. */
        default void onStart(int steps) {
        }
    }

    private final FluxModel model;
    private final FlowMatchScheduler scheduler;

    public EulerSampler(FluxModel model, FlowMatchScheduler scheduler) {
        this.model = model;
        this.scheduler = scheduler;
    }

    /** The sigmas (n + 1, ending in 0) this sampler uses for n steps at this geometry. */
    public float[] sigmas(int steps, Latents geometry) {
        return scheduler.sigmas(steps, geometry.tokens());
    }

    /**
     * Runs {@code steps} Euler steps from {@code initial} (packed [L, 4C], the noise at σ = 1) and returns the final
     * packed latents. {@code guidance} is ignored by models without a guidance embedding (schnell).
     */
    public float[] sample(PromptEmbeddings prompt, Latents geometry, float[] initial, int steps, double guidance,
                          Listener listener) {
        return sample(prompt, geometry, new float[][]{initial}, steps, guidance, listener)[0];
    }

    /**
     * {@link #sample(PromptEmbeddings, Latents, float[], int, double, Listener)} for B images of one prompt at once: one
     * transformer call per step with batch B (the prompt's states repeated, the position ids shared), so B images cost
     * far fewer calls than B samplings. Each image's result is what sampling it alone gives (every op of the model treats
     * batch elements separately). The listener sees the B images' velocities and latents one after the other, [B, L, 4C].
     */
    public float[][] sample(PromptEmbeddings prompt, Latents geometry, float[][] initial, int steps, double guidance,
                            Listener listener) {
        FluxConfig c = model.config();
        int batch = initial.length;
        if (batch == 0) {
            throw new IllegalArgumentException("no initial latents to sample from");
        }
        int size = geometry.tokens() * geometry.tokenWidth();
        for (float[] init : initial) {
            check(prompt, geometry, init, c);
        }
        float[] sigmas = sigmas(steps, geometry);
        float[] timesteps = scheduler.timesteps(sigmas);
        Backend be = model.backend();
        int n = prompt.t5Length();
        Tensor txt = be.upload(repeat(Floats.toF32(prompt.t5()), batch), batch, n, prompt.t5().dim(2));
        Tensor y = be.upload(repeat(Floats.toF32(prompt.clipPooled()), batch), batch, prompt.clipPooled().dim(1));
        double[][] imgIds = {geometry.imageIds()};
        double[][] txtIds = {Latents.textIds(n)};
        double[] g = c.guidanceEmbed() ? filled(batch, guidance) : null;
        float[] x = new float[batch * size];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(initial[b], 0, x, b * size, size);
        }
        if (listener != null) {
            listener.onStart(steps);
        }
        Tensor img = be.allocate(DType.F32, batch, geometry.tokens(), geometry.tokenWidth());
        try {
            for (int k = 0; k < steps; k++) {
                be.write(img, x);
                FluxInputs in = new FluxInputs(img, txt, y, imgIds, txtIds,
                        filled(batch, scheduler.modelSigma(timesteps[k])), g);
                float[] v = be.download(model.forward(in, false));
                float dt = sigmas[k + 1] - sigmas[k];
                for (int i = 0; i < x.length; i++) {
                    if (!Float.isFinite(v[i])) {
                        int per = geometry.tokens() * geometry.tokenWidth();
                        throw new PipelineException("sampling step " + (k + 1) + "/" + steps + ": the transformer's "
                                + "velocity is " + v[i] + " at image " + (i / per) + ", token " + (i % per
                                / geometry.tokenWidth()) + ", channel " + (i % geometry.tokenWidth()) + " (an overflow"
                                + " in the activations: the weights and LoRAs were finite when loaded); no image is "
                                + "written");
                    }
                    x[i] = x[i] + dt * v[i];
                }
                if (listener != null) {
                    listener.onStep(k, steps, v, x);
                }
            }
        } finally {
            // a device backend holds its buffers until they are freed, and an erase run samples over and over
            be.free(img);
            be.free(txt);
            be.free(y);
        }
        float[][] out = new float[batch][];
        for (int b = 0; b < batch; b++) {
            out[b] = Arrays.copyOfRange(x, b * size, (b + 1) * size);
        }
        return out;
    }

    private static float[] repeat(float[] one, int times) {
        float[] out = new float[one.length * times];
        for (int b = 0; b < times; b++) {
            System.arraycopy(one, 0, out, b * one.length, one.length);
        }
        return out;
    }

    private static double[] filled(int n, double v) {
        double[] out = new double[n];
        Arrays.fill(out, v);
        return out;
    }

    private static void check(PromptEmbeddings prompt, Latents geometry, float[] initial, FluxConfig c) {
        if (geometry.tokenWidth() != c.inChannels()) {
            throw new PipelineException("the VAE's " + geometry.channels() + " latent channels pack to "
                    + geometry.tokenWidth() + " per token, the transformer takes in_channels " + c.inChannels());
        }
        if (initial.length != geometry.tokens() * geometry.tokenWidth()) {
            throw new PipelineException("initial latents: expected [1, " + geometry.tokens() + ", "
                    + geometry.tokenWidth() + "] for " + geometry.width() + "x" + geometry.height() + ", got "
                    + initial.length + " values");
        }
        if (prompt.t5().dim(2) != c.contextInDim()) {
            throw new PipelineException("T5 states have width " + prompt.t5().dim(2) + ", the transformer's"
                    + " joint_attention_dim is " + c.contextInDim());
        }
        if (prompt.clipPooled().dim(1) != c.vecInDim()) {
            throw new PipelineException("CLIP pooled vector has width " + prompt.clipPooled().dim(1)
                    + ", the transformer's pooled_projection_dim is " + c.vecInDim());
        }
    }
}
