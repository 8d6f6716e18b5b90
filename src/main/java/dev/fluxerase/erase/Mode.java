package dev.fluxerase.erase;

/**
 * Which reading of EraseAnything a run follows (METHOD.md, "Decisions for flux-erase"). Both share the losses, the
 * weights, the LoRA targets and the alternating schedule; they differ in the ESD teacher, the learning rates and step
 * count, how the ESD latent is made and sampled, which T5 positions the attention losses read, and the precision of
 * the LoRA state.
 */
public enum Mode implements RunConfig.Choice {
    /** The paper: frozen ESD teacher, lrs 1e-3 / 5e-4, 1000 steps, partial FLUX sampling, positions per prompt. */
    PAPER(1000, 5e-4, RunConfig.Sampler.FLUX, RunConfig.LoraDtype.F32),
    /**
     * The authors' released code: live teacher under stop-gradient, one lr 1e-3, 300 steps, their sampler, the code's
     * positions, bf16 LoRA state.
     */
    RELEASED(300, 1e-3, RunConfig.Sampler.RELEASED, RunConfig.LoraDtype.BF16);

    private final int defaultSteps;
    private final double defaultLrPreserve;
    private final RunConfig.Sampler defaultSampler;
    private final RunConfig.LoraDtype defaultLoraDtype;

    Mode(int defaultSteps, double defaultLrPreserve, RunConfig.Sampler defaultSampler,
         RunConfig.LoraDtype defaultLoraDtype) {
        this.defaultSteps = defaultSteps;
        this.defaultLrPreserve = defaultLrPreserve;
        this.defaultSampler = defaultSampler;
        this.defaultLoraDtype = defaultLoraDtype;
    }

    public int defaultSteps() {
        return defaultSteps;
    }

    public double defaultLrPreserve() {
        return defaultLrPreserve;
    }

    public RunConfig.Sampler defaultSampler() {
        return defaultSampler;
    }

    public RunConfig.LoraDtype defaultLoraDtype() {
        return defaultLoraDtype;
    }
}
