package dev.fluxerase.cli;

import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.flux.FluxGradients;
import dev.fluxerase.flux.FluxInputs;
import dev.fluxerase.flux.FluxModel;
import dev.fluxerase.flux.FluxWeights;
import dev.fluxerase.lora.LoraModule;
import dev.fluxerase.lora.LoraSet;
import dev.fluxerase.lora.LoraTarget;
import dev.fluxerase.lora.LoraTargets;
import dev.fluxerase.pipeline.Backends;
import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code flux-erase forward}: one forward (and optionally backward) pass of the FLUX transformer on stored inputs. */
@Command(name = "forward", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
                "Run the FLUX transformer on inputs from a safetensors file and write its output, and with --grad the "
                        + "gradients of sum(out × grad_output) with respect to every weight, every LoRA factor and the "
                        + "inputs img, txt, y.",
                "Inputs (any float dtype, any batch size B): img [B, L_img, in_channels], img_ids [L_img, 3] or "
                        + "[B, L_img, 3], txt [B, L_txt, context_in_dim], txt_ids likewise, timesteps [B] (σ in [0, 1]), "
                        + "y [B, vec_in_dim], guidance [B] (models with a guidance embedding), grad_output "
                        + "[B, L_img, out_channels] (with --grad).",
                "Output tensors (F32): out; with --grad grad.<weight name as in the weights file>, grad.img, grad.txt, "
                        + "grad.y, and with --lora grad.<LoRA tensor name as in the LoRA file>; with --attention "
                        + "attn_probs.double_blocks.<N> [B, heads, L, L] (text tokens first)."},
        footer = {"", "Example:",
                "  flux-erase forward --weights flux1-dev.safetensors --inputs in.safetensors --output out.safetensors "
                        + "--grad"})
public final class ForwardCommand implements Callable<Integer> {

    @Option(names = "--weights", required = true, paramLabel = "W",
            description = "Transformer weights, BFL or diffusers naming: a .safetensors file, an index, a folder "
                    + "(diffusers transformer/ or pipeline folder).")
    Path weights;

    @Option(names = "--config", paramLabel = "C",
            description = "Model config: a BFL or diffusers config JSON, or a preset (flux-dev, flux-schnell). Default: "
                    + "a config.json beside the weights, else the preset whose shapes match them.")
    String config;

    @Option(names = "--inputs", required = true, paramLabel = "I", description = "Safetensors file with the inputs.")
    Path inputs;

    @Option(names = "--output", required = true, paramLabel = "O", description = "Safetensors file to write.")
    Path output;

    @Option(names = "--lora", paramLabel = "L", description = "A LoRA (diffusers/peft or kohya) to apply.")
    Path lora;

    @Option(names = "--grad", description = "Also run the backward and write gradients.")
    boolean grad;

    @Option(names = "--attention", description = "Also write each double block's joint attention probabilities.")
    boolean attention;

    @Option(names = "--backend", paramLabel = "B", defaultValue = "auto",
            description = "auto (cuda when a usable GPU is found, else cpu; the choice and why are printed), cuda, cpu "
                    + "(Vector API, all cores) or naive (the f64-accumulating reference). Default: ${DEFAULT-VALUE}.")
    String backend;

    @Option(names = "--checkpointing", description = "Recompute each block's activations in the backward.")
    boolean checkpointing;

    @Mixin
    ActivationsOption activations;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        FluxConfig cfg = config == null ? null : config(config);
        try (Backend be = Backends.open(backend, System.err::println); FluxWeights w = FluxWeights.open(weights, cfg);
             TensorSource in = Safetensors.open(inputs)) {
            cfg = w.config();
            PrintWriter err = spec.commandLine().getErr();
            if (!w.unexpected().isEmpty()) {
                err.println("flux-erase: warning: " + w.describe() + ": " + w.unexpected().size()
                        + " tensor(s) that are not part of the FLUX transformer are ignored, e.g. "
                        + w.unexpected().getFirst());
                err.flush();
            }
            FluxInputs x;
            try {
                x = FluxInputs.fromHost(be, cfg, need(in, "img"), need(in, "img_ids"), need(in, "txt"),
                        need(in, "txt_ids"), need(in, "timesteps"), need(in, "y"),
                        cfg.guidanceEmbed() ? need(in, "guidance") : null);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(in.describe() + ": " + e.getMessage(), e);
            }
            FluxModel model = new FluxModel(w.to(be), be);
            model.setCheckpointing(checkpointing);
            model.setMlpActivations(activations.dtype());
            LoraSet loras = lora == null ? null : LoraSet.load(lora, cfg);
            if (loras != null) {
                model.setLora(loras.modules(), 1f);
            }
            Map<String, Tensor> result = new LinkedHashMap<>();
            result.put("out", be.toHost(model.forward(x, attention)));
            if (attention) {
                for (int i = 0; i < cfg.depth(); i++) {
                    result.put("attn_probs.double_blocks." + i, be.toHost(model.attentionProbs(i)));
                }
            }
            if (grad) {
                Tensor g = need(in, "grad_output");
                long[] expect = {x.batch(), x.imgTokens(), cfg.outChannels()};
                if (!Arrays.equals(g.shape(), expect)) {
                    throw new IllegalArgumentException(in.describe() + ": tensor grad_output: expected "
                            + Arrays.toString(expect) + ", got " + Arrays.toString(g.shape()) + " " + g.dtype());
                }
                FluxGradients grads = model.newGradients(true, true);
                model.backward(be.upload(Floats.toF32(g), g.shape()), grads);
                w.toFileLayout(n -> be.download(grads.param(n))).forEach((n, t) -> result.put("grad." + n, t));
                result.put("grad.img", be.toHost(grads.img()));
                result.put("grad.txt", be.toHost(grads.txt()));
                result.put("grad.y", be.toHost(grads.y()));
                if (loras != null) {
                    loraFileGrads(loras, grads, cfg, be).forEach((n, t) -> result.put("grad." + n, t));
                }
            }
            SafetensorsWriter.write(output, result, Map.of("format", "pt", "generator", "flux-erase forward"));
        }
        return 0;
    }

    private static FluxConfig config(String arg) {
        Path p = Path.of(arg);
        if (!Files.exists(p)) {
            FluxConfig preset = FluxConfig.preset(arg);
            if (preset != null) {
                return preset;
            }
            throw new IllegalArgumentException("--config " + arg + ": no such file, and not a preset (flux-dev,"
                    + " flux-schnell)");
        }
        return FluxConfig.read(p);
    }


    private static Tensor need(TensorSource src, String name) {
        if (!src.contains(name)) {
            throw new IllegalArgumentException(src.describe() + ": tensor " + name + " missing (see flux-erase forward"
                    + " --help for the expected inputs)");
        }
        return src.tensor(name);
    }

    /**
     * LoRA gradients under the LoRA file's own tensor names. A kohya tensor on a fused BFL Linear feeds several
     * diffusers modules (A copied to each, B's rows split, the final adaLN's halves swapped), so its gradient is the
     * sum of the modules' dA and the rows of their dB put back where they came from.
     */
    private static Map<String, Tensor> loraFileGrads(LoraSet set, FluxGradients g, FluxConfig cfg, Backend be) {
        Map<String, List<LoraModule>> byKey = new LinkedHashMap<>();
        for (LoraModule m : set.modules()) {
            byKey.computeIfAbsent(m.keyA(), k -> new ArrayList<>()).add(m);
        }
        Map<String, LoraTarget> targets = LoraTargets.byModule(cfg);
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (List<LoraModule> group : byKey.values()) {
            LoraModule first = group.getFirst();
            int rank = first.rank();
            float[] da = new float[Math.toIntExact(first.a().numel())];
            for (LoraModule m : group) {
                float[] d = be.download(g.loraA(m.module()));
                for (int i = 0; i < da.length; i++) {
                    da[i] += d[i];
                }
            }
            out.put(first.keyA(), Tensor.of(da, first.a().shape()));
            if (set.format() == LoraSet.Format.KOHYA) {
                LoraTarget t0 = targets.get(first.module());
                float[] db = new float[Math.toIntExact(t0.bflRows() * rank)];
                for (LoraModule m : group) {
                    LoraTarget t = targets.get(m.module());
                    float[] d = be.download(g.loraB(m.module()));
                    for (long r = 0; r < t.out(); r++) {
                        System.arraycopy(d, (int) (r * rank), db, (int) (t.bflRow(r) * rank), rank);
                    }
                }
                out.put(first.keyB(), Tensor.of(db, t0.bflRows(), rank));
            } else {
                out.put(first.keyB(), be.toHost(g.loraB(first.module())));
            }
        }
        return out;
    }
}
