package dev.fluxerase.erase;

import dev.fluxerase.pipeline.FlowMatchScheduler;

import java.util.Arrays;
import java.util.Random;

/**
 * The sampler of EraseAnything's released code as it behaves, not as it reads (docs/erase.md, "The released sampler").
 * Their {@code latent_sample} calls {@code CustomFlowMatchEulerDiscreteScheduler.set_train_timesteps(28)}, which only
 * replaces the scheduler's timesteps by 28 random ones, (1 − sigmoid(n))·1000 for n ~ N(0, 1) sorted descending. The
 * sigmas stay the N-entry table of the constructor ({@link FlowMatchScheduler#trainSigmas}), and diffusers' step index,
 * set on the first Euler step of the run, is never reset. So Euler step k of the run's c-th sampling call shows the
 * transformer the random timestep T_k and moves x by σ[i + 1] − σ[i] with i = 28·c + k: about −1/N, whatever T_k is,
 * and x stays close to its starting noise.
 *
 * <p>diffusers would raise an IndexError once i reaches N − 1 (σ[N] does not exist): with N = 1000 and 28 steps, on
 * the 36th call, the erasure step 14 (from 0) of a run with three irrelevant concepts. The authors' 200- and 300-step
 * runs therefore cannot have used this scheduler unchanged (their vendored diffusers lacks its schedulers folder).
 * Here the index starts the table again, i mod (N − 1), which keeps dt at −1/N up to float32 rounding.
 */
final class ReleasedSampler {
    private final FlowMatchScheduler scheduler;
    private final float[] table;
    private final int steps;

    /** @param steps Euler steps per sampling call (the code's 28, our {@code sampling_steps}) */
    ReleasedSampler(FlowMatchScheduler scheduler, int steps) {
        if (scheduler.numTrainTimesteps() < 2) {
            throw new EraseException("the released sampler steps between adjacent entries of the scheduler's table, "
                    + "which needs num_train_timesteps >= 2, got " + scheduler.numTrainTimesteps());
        }
        this.scheduler = scheduler;
        this.table = scheduler.trainSigmas();
        this.steps = steps;
    }

    /**
     * The sampling calls the released code makes before training step {@code step}, which is where the step index
     * stands: one per erasure step (the ESD latent), 1 + K per preservation step (the synonym's run, then one per
     * irrelevant concept), whatever the loss weights, since the code makes them even when a weight is 0.
     */
    static long callsBefore(RunConfig c, int irrelevant, int step) {
        if (!c.alternates()) {
            return step;
        }
        long erasures = (step + 1) / 2;
        long preservations = step / 2;
        return erasures + preservations * (1 + irrelevant);
    }

    /**
     * One call's timesteps from standard normal draws n_k: T = (1 − sigmoid(n))·N in float32, sorted descending
     * (StrictMath, so that the bits do not depend on the JIT).
     */
    float[] timesteps(float[] normals) {
        float[] t = new float[normals.length];
        for (int k = 0; k < t.length; k++) {
            float sigmoid = (float) (1 / (1 + StrictMath.exp(-normals[k])));
            t[k] = (1f - sigmoid) * scheduler.numTrainTimesteps();
        }
        Arrays.sort(t);
        for (int k = 0; k < t.length / 2; k++) {
            float x = t[k];
            t[k] = t[t.length - 1 - k];
            t[t.length - 1 - k] = x;
        }
        return t;
    }

    /** One call's timesteps drawn from {@code rng}: {@code steps} Gaussians. */
    float[] timesteps(Random rng) {
        return timesteps(RunRandom.gaussian(rng, steps));
    }

    /**
     * Sampling call number {@code call} of the run with the given timesteps: step k has the transformer input
     * T_k/N and dt = σ[i + 1] − σ[i], i = (steps·call + k) mod (N − 1).
     */
    Passes.Schedule call(long call, float[] timesteps) {
        double[] inputs = new double[steps];
        float[] dts = new float[steps];
        for (int k = 0; k < steps; k++) {
            inputs[k] = scheduler.modelSigma(timesteps[k]);
            int i = (int) ((steps * call + k) % (table.length - 1));
            dts[k] = table[i + 1] - table[i];
        }
        return new Passes.Schedule(inputs, dts);
    }
}
