package dev.fluxerase.cli;

import dev.fluxerase.erase.RunConfig;
import dev.fluxerase.tensor.DType;
import picocli.CommandLine.Option;

/**
 * --activations for generate and forward: the dtype of the transformer's MLP activations
 * ({@link dev.fluxerase.flux.FluxModel#setMlpActivations}). erase sets the run configuration's key of the same name,
 * whose values this reads.
 */
public final class ActivationsOption {

    @Option(names = "--activations", paramLabel = "f32|bf16", defaultValue = "f32",
            description = "What the transformer keeps its MLP activations in: f32 (the reference) or bf16, which "
                    + "halves their memory and feeds the GPU's bf16 GEMMs directly (a GPU memory and speed mode; on the "
                    + "CPU it is slower). Residual streams, attention and gradients stay f32. Default: ${DEFAULT-VALUE}.")
    String activations;

    DType dtype() {
        for (RunConfig.Activations a : RunConfig.Activations.values()) {
            if (a.id().equals(activations)) {
                return a.dtype();
            }
        }
        throw new IllegalArgumentException("--activations must be f32 or bf16, got \"" + activations + "\"");
    }
}
