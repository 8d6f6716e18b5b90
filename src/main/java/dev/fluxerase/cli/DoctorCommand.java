package dev.fluxerase.cli;

import dev.fluxerase.pipeline.Doctor;
import dev.fluxerase.pipeline.ModelDefaults;
import dev.fluxerase.pipeline.ModelFolder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code flux-erase doctor}: what a model folder holds and whether its parts fit together. */
@Command(name = "doctor", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
                "Check a FLUX.1 pipeline without running it: one line per component (transformer, text_encoder, "
                        + "text_encoder_2, tokenizer, tokenizer_2, vae, scheduler) with its path, kind or naming, "
                        + "dtypes, parameter count and the sizes that must agree; then every problem: a missing or "
                        + "unreadable component, or a mismatch (T5 d_model vs the transformer's joint_attention_dim, "
                        + "CLIP hidden size vs pooled_projection_dim, 4 x the vae's latent channels vs in_channels; the "
                        + "vae is FLUX's AutoencoderKL or a weightless PixelUnshuffleCodec). The model folder's own "
                        + "defaults (model_index.json flux_erase_defaults), when it has any, are shown after the model.",
                "Only configs and safetensors headers are read. Exit status 0 when everything needed is there and "
                        + "consistent, 1 otherwise."},
        footer = {"", "Examples:",
                "  flux-erase doctor --model black-forest-labs/FLUX.1-dev",
                "  flux-erase doctor --model ./FLUX.1-dev --transformer ./flux1-dev.safetensors --vae ./ae.safetensors"})
public final class DoctorCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model;

    @Mixin
    ModelOptions.Weights weights;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        ModelFolder m = model.resolve(weights);
        Doctor.Report r = Doctor.check(m);
        PrintWriter out = spec.commandLine().getOut();
        out.println("model           " + r.model());
        if (r.defaults() != null) {
            out.println("defaults        " + r.defaults() + " (model_index.json " + ModelDefaults.KEY + ")");
        }
        for (Doctor.Line l : r.lines()) {
            out.println(String.format(Locale.ROOT, "%-15s %s", l.component().folder(), l.text()));
        }
        if (r.ok()) {
            out.println("ok: every component is present and the parts fit together");
        } else {
            for (String p : r.problems()) {
                out.println("problem: " + p);
            }
        }
        out.flush();
        return r.ok() ? 0 : 1;
    }
}
