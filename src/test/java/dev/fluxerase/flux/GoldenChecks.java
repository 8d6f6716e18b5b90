package dev.fluxerase.flux;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.lora.LoraModule;
import dev.fluxerase.lora.LoraSet;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.util.Map;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The whole model against BFL's float64 reference on the flux-tiny golden case, one body per check for every backend:
 * FluxModelGoldenTest runs them on the naive and CPU backends, CudaFluxGoldenTest on the GPU, so a check added here
 * holds on all three. Bounds from the golden README, as rel_to_max = max|ours − ref| / max|ref|: output 5e-5,
 * intermediates and gradients 2e-3, LoRA 3e-4. How a comparison is asserted and reported is the caller's
 * ({@link Close}): the GPU's skips on the stand-in, whose kernels compute nothing.
 */
public final class GoldenChecks {
    public static final double OUT = 5e-5;
    public static final double INTERMEDIATES = 2e-3;
    public static final double LORA = 3e-4;

    private GoldenChecks() {
    }

    /** Asserts rel_to_max(ours, ref) ≤ bound. */
    @FunctionalInterface
    public interface Close {
        void check(String what, float[] ours, float[] ref, double bound);
    }

    /** The output and every intermediate the model exposes, the double blocks' attention probabilities included. */
    public static void forward(Backend be, FluxWeights onDevice, Close close) {
        FluxConfig c = Golden.config();
        FluxModel m = new FluxModel(onDevice, be);
        Tensor out = m.forward(Golden.inputs(be, c), true);
        close.check("out", be.download(out), Golden.read("outputs.safetensors").get("out_f64"), OUT);
        Map<String, float[]> ref = Golden.read("intermediates.safetensors");
        Map<String, Tensor> ours = m.intermediates();
        int compared = 0;
        for (Map.Entry<String, float[]> e : ref.entrySet()) {
            String n = e.getKey();
            if (n.startsWith("double_blocks.") && n.endsWith(".attn_probs")) {
                int block = Integer.parseInt(n.split("\\.")[1]);
                close.check(n, be.download(m.attentionProbs(block)), e.getValue(), INTERMEDIATES);
                compared++;
            } else if (ours.containsKey(n)) {
                close.check(n, be.download(ours.get(n)), e.getValue(), INTERMEDIATES);
                compared++;
            }
        }
        // everything but the RoPE table and the single blocks' probabilities, which the model does not expose
        assertEquals(ref.size() - c.depthSingleBlocks(), compared, "intermediates compared");
    }

    /** Every parameter's gradient in the file's own layout, and the inputs' gradients. */
    public static void gradients(Backend be, FluxWeights onDevice, Close close) {
        FluxConfig c = Golden.config();
        FluxModel m = new FluxModel(onDevice, be);
        m.forward(Golden.inputs(be, c), false);
        FluxGradients g = m.newGradients(true, true);
        m.backward(Golden.gradOutput(be), g);
        Map<String, Tensor> grads = onDevice.toFileLayout(n -> be.download(g.param(n)));
        Map<String, float[]> ref = Golden.read("grads.safetensors");
        TreeSet<String> refParams = new TreeSet<>(ref.keySet());
        refParams.removeIf(n -> n.startsWith("inputs."));
        assertEquals(refParams, new TreeSet<>(grads.keySet()));
        for (String n : refParams) {
            close.check(n, Floats.toF32(grads.get(n)), ref.get(n), INTERMEDIATES);
        }
        close.check("inputs.img", be.download(g.img()), ref.get("inputs.img"), INTERMEDIATES);
        close.check("inputs.txt", be.download(g.txt()), ref.get("inputs.txt"), INTERMEDIATES);
        close.check("inputs.y", be.download(g.y()), ref.get("inputs.y"), INTERMEDIATES);
    }

    /**
     * The golden LoRA attached and the MLP activations in BF16 on {@code be}, against the F32 model on the CPU on the
     * same (host) weights: the output within {@code outBound} and the LoRA factors' gradients within {@code gradBound}
     * (rel_to_max); the caller states how they are derived.
     */
    public static void bf16MlpActivations(Backend be, FluxWeights onDevice, FluxWeights host, double outBound,
                                          double gradBound, Close close) {
        FluxConfig c = Golden.config();
        Backend cpu = new CpuBackend();
        LoraSet lora = LoraSet.load(Golden.DIR.resolve("lora_weights.safetensors"));
        FluxModel f32 = new FluxModel(host, cpu);
        FluxModel bf16 = new FluxModel(onDevice, be);
        bf16.setMlpActivations(DType.BF16);
        f32.setLora(lora.modules(), 1f);
        bf16.setLora(lora.modules(), 1f);
        float[] expected = cpu.download(f32.forward(Golden.inputs(cpu, c), false));
        close.check("bf16 MLP activations out", be.download(bf16.forward(Golden.inputs(be, c), false)), expected,
                outBound);
        FluxGradients g32 = f32.newGradients(false, false);
        FluxGradients g16 = bf16.newGradients(false, false);
        f32.backward(Golden.gradOutput(cpu), g32);
        bf16.backward(Golden.gradOutput(be), g16);
        for (LoraModule mod : lora.modules()) {
            close.check("bf16 MLP activations " + mod.keyA(), be.download(g16.loraA(mod.module())),
                    cpu.download(g32.loraA(mod.module())), gradBound);
            close.check("bf16 MLP activations " + mod.keyB(), be.download(g16.loraB(mod.module())),
                    cpu.download(g32.loraB(mod.module())), gradBound);
        }
    }

    /** The golden LoRA attached: output, attention probabilities and the LoRA factors' gradients. */
    public static void lora(Backend be, FluxWeights onDevice, boolean checkpointing, Close close) {
        FluxConfig c = Golden.config();
        String tag = checkpointing ? " ckpt" : "";
        FluxModel m = new FluxModel(onDevice, be);
        m.setCheckpointing(checkpointing);
        LoraSet lora = LoraSet.load(Golden.DIR.resolve("lora_weights.safetensors"));
        m.setLora(lora.modules(), 1f);
        Tensor out = m.forward(Golden.inputs(be, c), true);
        Map<String, float[]> ref = Golden.read("lora_outputs.safetensors");
        close.check("lora out" + tag, be.download(out), ref.get("out_f64"), LORA);
        for (int i = 0; i < c.depth(); i++) {
            close.check("attn probs " + i + tag, be.download(m.attentionProbs(i)),
                    ref.get("double_blocks." + i + ".attn_probs_f64"), LORA);
        }
        FluxGradients g = m.newGradients(false, false);
        m.backward(Golden.gradOutput(be), g);
        Map<String, float[]> refGrads = Golden.read("lora_grads.safetensors");
        assertEquals(4 * c.depth(), refGrads.size());
        for (LoraModule mod : lora.modules()) {
            close.check(mod.keyA() + tag, be.download(g.loraA(mod.module())), refGrads.get(mod.keyA()), LORA);
            close.check(mod.keyB() + tag, be.download(g.loraB(mod.module())), refGrads.get(mod.keyB()), LORA);
        }
    }
}
