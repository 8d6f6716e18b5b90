package dev.fluxerase.erase;

import java.util.Locale;

/**
 * Which reading of EraseAnything a run follows (METHOD.md, "Decisions for flux-erase"). Both share the losses, the
 * weights, the LoRA targets and the alternating schedule; they differ in the ESD teacher, the learning rates and step
 * count, how the ESD latent is made, and which T5 positions the attention losses read.
 */
public enum Mode {
    /** The paper: frozen ESD teacher, lrs 1e-3 / 5e-4, 1000 steps, partial sampling, positions per prompt. */
    PAPER(1000, 5e-4),
    /** The authors' released code: live teacher under stop-gradient, one lr 1e-3, 300 steps, the code's positions. */
    RELEASED(300, 1e-3);

    private final int defaultSteps;
    private final double defaultLrPreserve;

    Mode(int defaultSteps, double defaultLrPreserve) {
        this.defaultSteps = defaultSteps;
        this.defaultLrPreserve = defaultLrPreserve;
    }

    public int defaultSteps() {
        return defaultSteps;
    }

    public double defaultLrPreserve() {
        return defaultLrPreserve;
    }

    /** The name used in configurations: {@code paper} or {@code released}. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The mode named {@code id}, or null. */
    static Mode of(String id) {
        for (Mode m : values()) {
            if (m.id().equals(id)) {
                return m;
            }
        }
        return null;
    }
}
