package dev.fluxerase.flux;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.cpu.NaiveBackend;
import dev.fluxerase.lora.LoraSet;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.testing.Compare;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The model against BFL's reference on the flux-tiny golden case on both host backends: the checks and their bounds are
 * {@link GoldenChecks}, which CudaFluxGoldenTest runs on the GPU.
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
        try (FluxWeights w = FluxWeights.open(Golden.WEIGHTS_BFL, Golden.config())) {
            GoldenChecks.forward(backend(backend), w, this::assertClose);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"naive", "cpu"})
    void gradientsMatchReference(String backend) {
        try (FluxWeights w = FluxWeights.open(Golden.WEIGHTS_BFL, Golden.config())) {
            GoldenChecks.gradients(backend(backend), w, this::assertClose);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"naive", "cpu"})
    void loraMatchesReferenceWithAndWithoutCheckpointing(String backend) {
        try (FluxWeights w = FluxWeights.open(Golden.WEIGHTS_BFL, Golden.config())) {
            for (boolean checkpointing : new boolean[]{false, true}) {
                GoldenChecks.lora(backend(backend), w, checkpointing, this::assertClose);
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
