package dev.fluxerase.cuda;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.flux.FluxGradients;
import dev.fluxerase.flux.FluxModel;
import dev.fluxerase.flux.FluxWeights;
import dev.fluxerase.flux.Golden;
import dev.fluxerase.flux.GoldenChecks;
import dev.fluxerase.lora.LoraModule;
import dev.fluxerase.lora.LoraSet;
import dev.fluxerase.pipeline.EulerSampler;
import dev.fluxerase.pipeline.FlowMatchScheduler;
import dev.fluxerase.pipeline.Latents;
import dev.fluxerase.pipeline.PromptEmbeddings;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Compare;
import dev.fluxerase.testing.ErrorBounds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The whole FLUX model, forward and backward, on the GPU against BFL's float64 reference on the flux-tiny golden case.
 *
 * <p>Bounds (rel_to_max = max|ours − ref| / max|ref|). With the F32 golden weights every op on the GPU is f32: GEMMs
 * are cuBLASLt CUBLAS_COMPUTE_32F (no TF32), and the tiny config's head dim is 32, so attention runs the f32 reference
 * kernels (the bf16 tensor-core kernels take head dim 128 only). The only difference from the CPU backend is the
 * order of f32 sums, which moves results by a few f32 ulps, so the CPU test's checks run here unchanged, bounds and all
 * ({@link GoldenChecks}: output 5e-5, intermediates and gradients 2e-3, LoRA 3e-4, the golden README's bounds for an
 * f32 implementation).
 *
 * <p>With the BF16 golden weights the GEMMs run on tensor cores after rounding each activation to bf16 (unit roundoff
 * u = 2⁻⁸ ≈ 3.9e-3), which the CPU does not: one rounding per GEMM input, about ten GEMMs deep from input to output.
 * Independent roundings add like a random walk, √10·u ≈ 1.2e-2 if no layer amplified them; how much the layers do is
 * not analysed, so CudaGpu.SAFETY covers it and the output is held to 2·√10·u ≈ 2.5e-2 of the CPU's on the same
 * weights, the LoRA gradients (a backward chain as deep again) to 2·√20·u ≈ 3.5e-2. These are estimates from a model
 * of the error, not bounds proven for the network; the BOUND lines say how close a GPU run comes.
 *
 * <p>On the stand-in the model runs forward and backward with every launch checked, and no rel_to_max is (or printed).
 */
@ExtendWith(CudaGpu.class)
class CudaFluxGoldenTest {
    private static final double BF16_OUT = CudaGpu.SAFETY * Math.sqrt(10) * ErrorBounds.U_BF16;
    private static final double BF16_GRADIENTS = CudaGpu.SAFETY * Math.sqrt(20) * ErrorBounds.U_BF16;
    /**
     * BF16 MLP activations (FluxModelGoldenTest derives the CPU's 2·√4·u): on the GPU every GEMM that reads one (the
     * second MLP Linear, the single blocks' linear2) runs bf16 × bf16 and rounds its F32 golden weight as well, so the
     * forward path holds 4 + 4 roundings, SAFETY·√8·u, and the gradients twice that many, SAFETY·√16·u.
     */
    private static final double BF16_MLP_OUT = CudaGpu.SAFETY * Math.sqrt(8) * ErrorBounds.U_BF16;
    private static final double BF16_MLP_GRADIENTS = CudaGpu.SAFETY * Math.sqrt(16) * ErrorBounds.U_BF16;
    @CudaGpu.Open
    private static CudaBackend gpu;

    /** rel_to_max(ours, ref) ≤ bound, printed as a BOUND line. */
    private static void assertClose(String what, float[] ours, float[] ref, double bound) {
        CudaGpu.kernelResult("rel_to_max bounds",
                () -> ErrorBounds.check("flux golden " + what, ref, ours, bound * Compare.maxAbs(ref)));
    }

    @Test
    void weightsKeepTheirDtypeOnTheGpu() {
        try (FluxWeights host = FluxWeights.open(Golden.weightsBf16(), Golden.config())) {
            FluxWeights w = host.to(gpu);
            Tensor t = w.tensor("transformer_blocks.0.attn.to_q.weight");
            assertEquals(DType.BF16, t.dtype());
            assertEquals(dev.fluxerase.tensor.Device.CUDA, t.device());
            assertEquals(0, Compare.maxAbsDiff(Floats.toF32(host.tensor("transformer_blocks.0.attn.to_q.weight")),
                    gpu.download(t)));
        }
    }

    @Test
    void forwardMatchesReference() {
        try (FluxWeights host = FluxWeights.open(Golden.WEIGHTS_BFL, Golden.config())) {
            GoldenChecks.forward(gpu, host.to(gpu), CudaFluxGoldenTest::assertClose);
        }
    }

    @Test
    void gradientsMatchReference() {
        try (FluxWeights host = FluxWeights.open(Golden.WEIGHTS_BFL, Golden.config())) {
            GoldenChecks.gradients(gpu, host.to(gpu), CudaFluxGoldenTest::assertClose);
        }
    }

    @Test
    void loraMatchesReferenceWithAndWithoutCheckpointing() {
        try (FluxWeights host = FluxWeights.open(Golden.WEIGHTS_BFL, Golden.config())) {
            for (boolean checkpointing : new boolean[]{false, true}) {
                GoldenChecks.lora(gpu, host.to(gpu), checkpointing, CudaFluxGoldenTest::assertClose);
            }
        }
    }

    /**
     * Device memory stays level over repeated passes of one shape, as an erase run's thousands of forwards and
     * backwards and its validation samplings need: the model keeps its rotary tables while the positions stay, and the
     * sampler frees what it uploads. Memory accounting only, so this runs whole on the stand-in.
     */
    @Test
    void repeatedPassesAndSamplingsHoldNoMoreDeviceMemory() {
        FluxConfig c = Golden.config();
        try (FluxWeights host = FluxWeights.open(Golden.WEIGHTS_BFL, c)) {
            FluxModel m = new FluxModel(host.to(gpu), gpu);
            m.setLora(LoraSet.load(Golden.DIR.resolve("lora_weights.safetensors")).modules(), 1f);
            var in = Golden.inputs(gpu, c);
            Tensor gradOut = Golden.gradOutput(gpu);
            FluxGradients g = m.newGradients(false, false);
            List<Long> held = new ArrayList<>();
            for (int pass = 0; pass < 3; pass++) {
                g.zero(gpu);
                m.forward(in, List.of(0));
                m.backward(gradOut, g);
                held.add(gpu.allocatedBytes());
            }
            assertEquals(held.get(1), held.get(2), "forward + backward: " + held);
            PromptEmbeddings prompt = new PromptEmbeddings(new int[7], new int[3], Tensor.zeros(1, 7,
                    c.contextInDim()), Tensor.zeros(1, c.vecInDim()));
            Latents geometry = new Latents(16, 16, 2, c.inChannels() / 4);
            EulerSampler sampler = new EulerSampler(m, FlowMatchScheduler.FLUX_DEV);
            held.clear();
            for (int run = 0; run < 3; run++) {
                sampler.sample(prompt, geometry, new float[geometry.tokens() * geometry.tokenWidth()], 2, 3.5, null);
                held.add(gpu.allocatedBytes());
            }
            assertEquals(held.get(1), held.get(2), "sampling: " + held);
        }
    }

    /**
     * The GPU twin of FluxModelGoldenTest's BF16 MLP activation check (GoldenChecks.bf16MlpActivations): BF16
     * activations on the GPU, through cuBLASLt's bias and GELU epilogue, against the F32 model on the CPU.
     */
    @Test
    void bf16MlpActivationsStayWithinBf16RoundingOfTheCpu() {
        try (FluxWeights host = FluxWeights.open(Golden.WEIGHTS_BFL, Golden.config())) {
            GoldenChecks.bf16MlpActivations(gpu, host.to(gpu), host, BF16_MLP_OUT, BF16_MLP_GRADIENTS,
                    CudaFluxGoldenTest::assertClose);
        }
    }

    /** BF16 weights: the tensor-core GEMM path, against the CPU on the same weights (bounds in the class comment). */
    @Test
    void bf16WeightsStayWithinBf16RoundingOfTheCpu() {
        FluxConfig c = Golden.config();
        Backend cpu = new CpuBackend();
        try (FluxWeights host = FluxWeights.open(Golden.weightsBf16(), c)) {
            LoraSet lora = LoraSet.load(Golden.DIR.resolve("lora_weights.safetensors"));
            FluxModel onCpu = new FluxModel(host, cpu);
            FluxModel onGpu = new FluxModel(host.to(gpu), gpu);
            onCpu.setLora(lora.modules(), 1f);
            onGpu.setLora(lora.modules(), 1f);
            float[] expected = cpu.download(onCpu.forward(Golden.inputs(cpu, c), false));
            assertClose("bf16 out", gpu.download(onGpu.forward(Golden.inputs(gpu, c), false)), expected, BF16_OUT);
            FluxGradients gc = onCpu.newGradients(false, false);
            FluxGradients gg = onGpu.newGradients(false, false);
            onCpu.backward(Golden.gradOutput(cpu), gc);
            onGpu.backward(Golden.gradOutput(gpu), gg);
            for (LoraModule mod : lora.modules()) {
                assertClose("bf16 " + mod.keyA(), gpu.download(gg.loraA(mod.module())),
                        cpu.download(gc.loraA(mod.module())), BF16_GRADIENTS);
                assertClose("bf16 " + mod.keyB(), gpu.download(gg.loraB(mod.module())),
                        cpu.download(gc.loraB(mod.module())), BF16_GRADIENTS);
            }
        }
    }
}
