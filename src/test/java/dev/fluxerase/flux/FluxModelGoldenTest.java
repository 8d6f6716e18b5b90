package dev.fluxerase.flux;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.cpu.NaiveBackend;
import dev.fluxerase.lora.LoraSet;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Compare;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The model against BFL's reference on the flux-tiny golden case (float64 reference; bounds from the golden README:
 * output 5e-5, gradients and intermediates 2e-3, LoRA 3e-4, as rel_to_max = max|ours − ref| / max|ref|).
 */
class FluxModelGoldenTest {

    static Backend backend(String name) {
        return switch (name) {
            case "naive" -> new NaiveBackend();
            case "cpu" -> new CpuBackend();
            default -> throw new IllegalArgumentException(name);
        };
    }

    /** Worst rel_to_max of the current test, printed at its end for the record (bench/README numbers). */
    private double worst;
    private String worstName;

    @AfterEach
    void report(TestInfo info) {
        if (worstName != null) {
            System.out.printf("%s %s: worst rel_to_max %.2e (%s)%n", info.getTestMethod().orElseThrow().getName(),
                    info.getDisplayName(), worst, worstName);
        }
    }

    private void assertClose(String what, float[] ours, float[] ref, double bound) {
        double r = Compare.relToMax(ours, ref);
        if (r >= worst) {
            worst = r;
            worstName = what;
        }
        assertTrue(r <= bound, what + ": rel_to_max " + r + " > " + bound);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"naive", "cpu"})
    void forwardMatchesReference(String backend) {
        Backend be = backend(backend);
        FluxConfig c = Golden.config();
        try (FluxWeights w = FluxWeights.open(Golden.WEIGHTS_BFL, c)) {
            FluxModel m = new FluxModel(w, be);
            Tensor out = m.forward(Golden.inputs(be, c), true);
            assertClose("out", be.download(out), Golden.read("outputs.safetensors").get("out_f64"), 5e-5);
            Map<String, float[]> ref = Golden.read("intermediates.safetensors");
            Map<String, Tensor> ours = m.intermediates();
            int compared = 0;
            for (Map.Entry<String, float[]> e : ref.entrySet()) {
                String n = e.getKey();
                if (n.startsWith("double_blocks.") && n.endsWith(".attn_probs")) {
                    int block = Integer.parseInt(n.split("\\.")[1]);
                    assertClose(n, be.download(m.attentionProbs(block)), e.getValue(), 2e-3);
                    compared++;
                } else if (ours.containsKey(n)) {
                    assertClose(n, be.download(ours.get(n)), e.getValue(), 2e-3);
                    compared++;
                }
            }
            // everything but the RoPE table and the single blocks' probabilities, which the model does not expose
            assertEquals(ref.size() - c.depthSingleBlocks(), compared, "intermediates compared");
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"naive", "cpu"})
    void gradientsMatchReference(String backend) {
        Backend be = backend(backend);
        FluxConfig c = Golden.config();
        try (FluxWeights w = FluxWeights.open(Golden.WEIGHTS_BFL, c)) {
            FluxModel m = new FluxModel(w, be);
            m.forward(Golden.inputs(be, c), false);
            FluxGradients g = m.newGradients(true, true);
            m.backward(Golden.gradOutput(be), g);
            Map<String, Tensor> grads = w.toFileLayout(n -> be.download(g.param(n)));
            Map<String, float[]> ref = Golden.read("grads.safetensors");
            TreeSet<String> refParams = new TreeSet<>(ref.keySet());
            refParams.removeIf(n -> n.startsWith("inputs."));
            assertEquals(refParams, new TreeSet<>(grads.keySet()));
            for (String n : refParams) {
                assertClose(n, Floats.toF32(grads.get(n)), ref.get(n), 2e-3);
            }
            assertClose("inputs.img", be.download(g.img()), ref.get("inputs.img"), 2e-3);
            assertClose("inputs.txt", be.download(g.txt()), ref.get("inputs.txt"), 2e-3);
            assertClose("inputs.y", be.download(g.y()), ref.get("inputs.y"), 2e-3);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"naive", "cpu"})
    void loraMatchesReference(String backend) {
        Backend be = backend(backend);
        FluxConfig c = Golden.config();
        try (FluxWeights w = FluxWeights.open(Golden.WEIGHTS_BFL, c)) {
            FluxModel m = new FluxModel(w, be);
            LoraSet lora = LoraSet.load(Golden.DIR.resolve("lora_weights.safetensors"));
            m.setLora(lora.modules(), 1f);
            Tensor out = m.forward(Golden.inputs(be, c), true);
            Map<String, float[]> ref = Golden.read("lora_outputs.safetensors");
            assertClose("lora out", be.download(out), ref.get("out_f64"), 3e-4);
            for (int i = 0; i < c.depth(); i++) {
                assertClose("attn probs " + i, be.download(m.attentionProbs(i)),
                        ref.get("double_blocks." + i + ".attn_probs_f64"), 3e-4);
            }
            FluxGradients g = m.newGradients(false, false);
            m.backward(Golden.gradOutput(be), g);
            Map<String, float[]> refGrads = Golden.read("lora_grads.safetensors");
            assertEquals(4 * c.depth(), refGrads.size());
            for (var mod : lora.modules()) {
                assertClose(mod.keyA(), be.download(g.loraA(mod.module())), refGrads.get(mod.keyA()), 3e-4);
                assertClose(mod.keyB(), be.download(g.loraB(mod.module())), refGrads.get(mod.keyB()), 3e-4);
            }
        }
    }

    /**
     * Weights read from a file are frozen, and the CPU backend that keeps them packed (the row-by-row path for the
     * batch-1 modulation and embedders included) gives the bits of the one that packs them on every call: output,
     * attention probabilities and the LoRA gradients.
     */
    @Test
    void packedFrozenWeightsGiveTheSameBits() {
        FluxConfig c = Golden.config();
        try (FluxWeights w = FluxWeights.open(Golden.WEIGHTS_BFL, c)) {
            assertTrue(w.tensor("x_embedder.weight").isFrozen(), "weights read from a file are frozen");
            List<float[]> results = new ArrayList<>();
            for (boolean packed : new boolean[]{true, false}) {
                Backend be = new CpuBackend(packed);
                FluxModel m = new FluxModel(w, be);
                LoraSet lora = LoraSet.load(Golden.DIR.resolve("lora_weights.safetensors"));
                m.setLora(lora.modules(), 1f);
                for (int step = 0; step < 2; step++) {
                    results.add(be.download(m.forward(Golden.inputs(be, c), true)));
                    results.add(be.download(m.attentionProbs(0)));
                    FluxGradients g = m.newGradients(false, true);
                    m.backward(Golden.gradOutput(be), g);
                    results.add(be.download(g.img()));
                    for (var mod : lora.modules()) {
                        results.add(be.download(g.loraA(mod.module())));
                    }
                }
            }
            int half = results.size() / 2;
            for (int i = 0; i < half; i++) {
                assertArrayEquals(results.get(half + i), results.get(i), "result " + i);
            }
        }
    }
}
