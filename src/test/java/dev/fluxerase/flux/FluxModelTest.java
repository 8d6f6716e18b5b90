package dev.fluxerase.flux;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.lora.LoraModule;
import dev.fluxerase.lora.LoraSet;
import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Compare;
import dev.fluxerase.testing.RandomData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Properties of the model beyond the golden case: checkpointing, frozen base, batching, BF16, LoRA placement. */
class FluxModelTest {
    @TempDir
    Path tmp;

    private Backend be = new CpuBackend();
    private final FluxConfig c = Golden.config();

    private static float[] concat(List<float[]> parts) {
        int n = parts.stream().mapToInt(p -> p.length).sum();
        float[] out = new float[n];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    /** Every gradient a backward produced, flattened in a fixed order. */
    private float[] all(FluxModel m, FluxGradients g) {
        List<float[]> parts = new ArrayList<>();
        g.params().values().forEach(t -> parts.add(be.download(t)));
        for (String mod : m.lora().keySet()) {
            parts.add(be.download(g.loraA(mod)));
            parts.add(be.download(g.loraB(mod)));
        }
        if (g.hasInputs()) {
            parts.add(be.download(g.img()));
            parts.add(be.download(g.txt()));
            parts.add(be.download(g.y()));
        }
        return concat(parts);
    }

    @ParameterizedTest
    @ValueSource(strings = {"naive", "cpu"})
    void checkpointingGivesBitwiseTheSameGradients(String backend) {
        be = FluxModelGoldenTest.backend(backend);
        try (FluxWeights w = FluxWeights.open(Golden.WEIGHTS_BFL, c)) {
            FluxModel m = new FluxModel(w, be);
            m.setLora(LoraSet.load(Golden.DIR.resolve("lora_weights.safetensors")).modules(), 1f);
            float[][] grads = new float[2][];
            float[][] outs = new float[2][];
            for (int ckpt = 0; ckpt < 2; ckpt++) {
                m.setCheckpointing(ckpt == 1);
                outs[ckpt] = be.download(m.forward(Golden.inputs(be, c), false));
                FluxGradients g = m.newGradients(true, true);
                m.backward(Golden.gradOutput(be), g);
                grads[ckpt] = all(m, g);
            }
            assertArrayEquals(outs[0], outs[1]);
            assertArrayEquals(grads[0], grads[1]);
        }
    }

    @Test
    void frozenBaseGivesTheSameLoraGradients() {
        try (FluxWeights w = FluxWeights.open(Golden.WEIGHTS_BFL, c)) {
            FluxModel m = new FluxModel(w, be);
            LoraSet lora = LoraSet.load(Golden.DIR.resolve("lora_weights.safetensors"));
            m.setLora(lora.modules(), 1f);
            m.forward(Golden.inputs(be, c), false);
            FluxGradients full = m.newGradients(true, true);
            m.backward(Golden.gradOutput(be), full);
            FluxGradients frozen = m.newGradients(false, false);
            assertTrue(frozen.params().isEmpty());
            m.backward(Golden.gradOutput(be), frozen);
            for (LoraModule mod : lora.modules()) {
                assertArrayEquals(be.download(full.loraA(mod.module())), be.download(frozen.loraA(mod.module())));
                assertArrayEquals(be.download(full.loraB(mod.module())), be.download(frozen.loraB(mod.module())));
            }
            // a second backward adds: twice the gradient
            m.backward(Golden.gradOutput(be), frozen);
            String first = lora.modules().iterator().next().module();
            float[] once = be.download(full.loraA(first));
            float[] twice = be.download(frozen.loraA(first));
            for (int i = 0; i < once.length; i++) {
                assertEquals(2 * once[i], twice[i], 1e-6f * Math.abs(once[i]) + 1e-12f);
            }
            frozen.zero(be);
            for (float v : be.download(frozen.loraB(first))) {
                assertEquals(0f, v);
            }
        }
    }

    /** Two different batch elements (other latent, timestep, guidance and shifted image ids) behave as two runs. */
    @Test
    void batchElementsAreIndependent() {
        Random rng = new Random(7);
        try (FluxWeights w = FluxWeights.open(Golden.WEIGHTS_BFL, c);
             TensorSource s = Safetensors.open(Golden.INPUTS)) {
            FluxModel m = new FluxModel(w, be);
            Map<String, float[]> a = new LinkedHashMap<>();
            Map<String, long[]> shapes = new LinkedHashMap<>();
            for (String n : s.names()) {
                a.put(n, Floats.toF32(s.tensor(n)));
                shapes.put(n, s.info(n).shape());
            }
            Map<String, float[]> b = new LinkedHashMap<>();
            a.forEach((n, v) -> {
                float[] x = v.clone();
                for (int i = 0; i < x.length; i++) {
                    x[i] = switch (n) {
                        case "timesteps" -> 0.31f;
                        case "guidance" -> 2.5f;
                        case "img_ids" -> i % 3 == 0 ? 0 : x[i] + 3;
                        case "txt_ids" -> 0;
                        default -> x[i] + 0.3f * (float) rng.nextGaussian();
                    };
                }
                b.put(n, x);
            });
            float[][] single = new float[2][];
            float[][] singleGrads = new float[2][];
            int k = 0;
            for (Map<String, float[]> one : List.of(a, b)) {
                m.forward(inputs(one, shapes, 1), false);
                single[k] = be.download(m.forward(inputs(one, shapes, 1), false));
                FluxGradients g = m.newGradients(true, true);
                m.backward(tensor(one.get("grad_output"), shapes.get("grad_output")), g);
                singleGrads[k++] = be.download(g.params().get("transformer_blocks.1.attn.to_q.weight"));
            }
            Map<String, float[]> both = new LinkedHashMap<>();
            a.forEach((n, v) -> both.put(n, concat(List.of(v, b.get(n)))));
            float[] out = be.download(m.forward(inputs(both, shapes, 2), false));
            assertClose(single[0], Arrays.copyOfRange(out, 0, single[0].length), 1e-6);
            assertClose(single[1], Arrays.copyOfRange(out, single[0].length, out.length), 1e-6);
            FluxGradients g = m.newGradients(true, true);
            long[] gs = shapes.get("grad_output").clone();
            gs[0] = 2;
            m.backward(tensor(both.get("grad_output"), gs), g);
            float[] sum = singleGrads[0].clone();
            for (int i = 0; i < sum.length; i++) {
                sum[i] += singleGrads[1][i];
            }
            assertClose(sum, be.download(g.params().get("transformer_blocks.1.attn.to_q.weight")), 1e-5);
        }
    }

    /**
     * inferenceBytes and trainingBytes against what a forward (and a backward with an attention-map gradient) really
     * allocate, through a backend that counts every allocation: they count no buffer twice and miss only the ones
     * that do not grow with the token count.
     */
    @Test
    void theByteEstimatesCountWhatTheModelAllocates() {
        long[] allocated = {0};
        Backend cpu = new CpuBackend();
        Backend counting = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[]{Backend.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("allocate")) {
                        allocated[0] += Tensor.numel((long[]) args[1]) * ((DType) args[0]).byteSize();
                    }
                    try {
                        return method.invoke(cpu, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        Random rng = new Random(5);
        int b = 2;
        int block = c.depth() - 1;
        for (int[] lengths : new int[][]{{8, 24}, {16, 240}}) {
            int lTxt = lengths[0];
            int lImg = lengths[1];
            int l = lTxt + lImg;
            FluxInputs in = randomInputs(cpu, rng, lTxt, lImg);
            Tensor gradOut = Tensor.of(RandomData.gaussian(rng, (long) b * lImg * c.outChannels(), 1), b, lImg,
                    c.outChannels());
            Tensor gradProbs = Tensor.of(RandomData.gaussian(rng, (long) b * c.numHeads() * l * l, 1), b,
                    c.numHeads(), l, l);
            for (boolean checkpointing : new boolean[]{true, false}) {
                for (DType mlp : new DType[]{DType.F32, DType.BF16}) {
                    try (FluxWeights w = FluxWeights.open(Golden.WEIGHTS_BFL, c)) {
                        String what = lTxt + "+" + lImg + " tokens, checkpointing " + checkpointing + ", " + mlp
                                + " MLP activations";
                        if (checkpointing) {
                            FluxModel sampling = new FluxModel(w, counting);
                            sampling.setCheckpointing(true);
                            sampling.setMlpActivations(mlp);
                            allocated[0] = 0;
                            sampling.forward(in, false);
                            assertWithin(allocated[0], FluxModel.inferenceBytes(c, b, lTxt, lImg, mlp), lImg,
                                    "forward, " + what);
                        }
                        // the trainer's LoRA, on every double block, so that the backward runs through all of them
                        FluxModel m = new FluxModel(w, counting);
                        m.setLora(LoraSet.create(c, LoraSet.DEFAULT_TARGETS, 2, 2f, 1, LoraSet.Init.GAUSSIAN).modules(),
                                1f);
                        m.setCheckpointing(checkpointing);
                        m.setMlpActivations(mlp);
                        allocated[0] = 0;
                        m.forward(in, List.of(block));
                        long forward = allocated[0];
                        FluxGradients g = m.newGradients(false, false);
                        allocated[0] = forward;
                        m.backward(gradOut, Map.of(block, gradProbs), g);
                        assertWithin(allocated[0], FluxModel.trainingBytes(c, b, lTxt, lImg, checkpointing, 1, mlp),
                                lImg, "forward and backward, " + what);
                    }
                }
            }
        }
    }

    /**
     * LoRAs on both MLP Linears of every block with BF16 MLP activations: the first Linear's LoRA term joins before
     * the GELU (Linear.forwardGelu's f32 scratch), the second reads the BF16 GELU output (u = x·Aᵀ, dA += duᵀ·x). Output
     * and every LoRA gradient stay within FluxModelGoldenTest's bf16 estimates of the F32 model's, also on a second
     * step at another token count (the scratch follows the rows).
     */
    @Test
    void loraOnTheMlpLinearsWithBf16Activations() {
        Random rng = new Random(11);
        Collection<LoraModule> modules = LoraSet.create(c, List.of("ff.net.0.proj", "ff_context.net.0.proj", "proj_mlp",
                "ff.net.2", "ff_context.net.2", "proj_out"), 2, 2f, 3, LoraSet.Init.GAUSSIAN).modules();
        for (LoraModule mod : modules) {
            float[] b = RandomData.gaussian(rng, mod.b().numel(), 0.1);
            MemorySegment.copy(MemorySegment.ofArray(b), 0, mod.b().data(), 0, 4L * b.length);
        }
        try (FluxWeights w = FluxWeights.open(Golden.WEIGHTS_BFL, c)) {
            FluxModel f32 = new FluxModel(w, be);
            FluxModel bf16 = new FluxModel(w, be);
            bf16.setMlpActivations(DType.BF16);
            f32.setLora(modules, 1f);
            bf16.setLora(modules, 1f);
            for (int[] lengths : new int[][]{{8, 24}, {16, 40}}) {
                FluxInputs in = randomInputs(be, rng, lengths[0], lengths[1]);
                Tensor gradOut = Tensor.of(RandomData.gaussian(rng, 2L * lengths[1] * c.outChannels(), 1), 2,
                        lengths[1], c.outChannels());
                float[] expected = be.download(f32.forward(in, false));
                float[] actual = be.download(bf16.forward(in, false));
                assertCloseRel("out", actual, expected, FluxModelGoldenTest.BF16_MLP_OUT);
                FluxGradients g32 = f32.newGradients(false, false);
                FluxGradients g16 = bf16.newGradients(false, false);
                f32.backward(gradOut, g32);
                bf16.backward(gradOut, g16);
                for (LoraModule mod : modules) {
                    assertCloseRel(mod.module() + " A", be.download(g16.loraA(mod.module())),
                            be.download(g32.loraA(mod.module())), FluxModelGoldenTest.BF16_MLP_GRADIENTS);
                    assertCloseRel(mod.module() + " B", be.download(g16.loraB(mod.module())),
                            be.download(g32.loraB(mod.module())), FluxModelGoldenTest.BF16_MLP_GRADIENTS);
                }
            }
        }
    }

    private static void assertCloseRel(String what, float[] actual, float[] expected, double bound) {
        double r = Compare.relToMax(actual, expected);
        assertTrue(r <= bound, what + ": rel_to_max " + r + " > " + bound);
    }

    /** Random inputs for a batch of 2 with lTxt text and lImg image tokens (image ids on a grid 4 wide). */
    private FluxInputs randomInputs(Backend be, Random rng, int lTxt, int lImg) {
        int b = 2;
        double[] ids = new double[lImg * 3];
        for (int i = 0; i < lImg; i++) {
            ids[3 * i + 1] = i / 4;
            ids[3 * i + 2] = i % 4;
        }
        return FluxInputs.fromHost(be, c, Tensor.of(RandomData.gaussian(rng, (long) b * lImg * c.inChannels(), 1), b,
                        lImg, c.inChannels()), Tensor.wrap(DType.F64, MemorySegment.ofArray(ids), lImg, 3),
                Tensor.of(RandomData.gaussian(rng, (long) b * lTxt * c.contextInDim(), 1), b, lTxt, c.contextInDim()),
                Tensor.wrap(DType.F64, MemorySegment.ofArray(new double[lTxt * 3]), lTxt, 3),
                Tensor.of(new float[]{0.5f, 0.7f}, b),
                Tensor.of(RandomData.gaussian(rng, (long) b * c.vecInDim(), 1), b, c.vecInDim()),
                Tensor.of(new float[]{3.5f, 3.5f}, b));
    }

    /**
     * A device backend holds what it allocated until it is freed, so a model whose shape (tokens, batch), LoRA or
     * checkpointing changes must give the earlier buffers back: after forwards at other shapes and settings it holds
     * exactly what a fresh model holds after the last one. Counted through a backend that tracks every live tensor.
     */
    @Test
    void changesGiveTheEarlierBuffersBack() {
        Backend cpu = new CpuBackend();
        Map<Tensor, Long> live = new java.util.IdentityHashMap<>();
        Backend tracking = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[]{Backend.class},
                (proxy, method, args) -> {
                    Object r;
                    try {
                        r = method.invoke(cpu, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                    switch (method.getName()) {
                        case "allocate", "upload" -> live.put((Tensor) r, ((Tensor) r).data().byteSize());
                        case "free" -> live.remove((Tensor) args[0]);
                        default -> {
                        }
                    }
                    return r;
                });
        Random rng = new Random(9);
        FluxInputs small = randomInputs(cpu, rng, 8, 24);
        FluxInputs large = randomInputs(cpu, rng, 16, 240);
        java.util.Collection<LoraModule> lora = LoraSet.create(c, LoraSet.DEFAULT_TARGETS, 2, 2f, 1, LoraSet.Init.GAUSSIAN).modules();
        try (FluxWeights w = FluxWeights.open(Golden.WEIGHTS_BFL, c)) {
            FluxModel fresh = new FluxModel(w, tracking);
            fresh.setLora(lora, 1f);
            fresh.forward(large, true);
            long expected = live.values().stream().mapToLong(Long::longValue).sum();
            live.clear();

            FluxModel m = new FluxModel(w, tracking);
            m.forward(small, true);
            m.setLora(lora, 1f);
            m.forward(small, true);
            m.setCheckpointing(true);
            m.forward(large, false);
            m.setCheckpointing(false);
            m.forward(small, true);
            m.forward(large, true);
            assertEquals(expected, live.values().stream().mapToLong(Long::longValue).sum());
        }
    }

    private static void assertWithin(long allocated, long estimate, int lImg, String what) {
        double ratio = (double) allocated / estimate;
        assertTrue(ratio >= 1 && ratio < (lImg > 100 ? 1.01 : 1.05), what + ": allocated " + allocated
                + " bytes, estimate " + estimate);
    }

    /** B·L_img stays 16 while B and L_img change: every workspace buffer must follow the shape, not the row count. */
    @Test
    void shapeChangesBetweenCallsReallocateTheWorkspace() {
        try (FluxWeights w = FluxWeights.open(Golden.WEIGHTS_BFL, c);
             TensorSource s = Safetensors.open(Golden.INPUTS)) {
            float[] img = Floats.toF32(s.tensor("img"));
            float[] ids = Floats.toF32(s.tensor("img_ids"));
            float[] txt = Floats.toF32(s.tensor("txt"));
            float[] y = Floats.toF32(s.tensor("y"));
            FluxInputs other = FluxInputs.fromHost(be, c, Tensor.of(img, 2, 8, 16),
                    Tensor.of(Arrays.copyOf(ids, 24), 8, 3), Tensor.of(concat(List.of(txt, txt)), 2, 8, 32),
                    Tensor.of(new float[24], 8, 3), Tensor.of(new float[]{0.3f, 0.8f}, 2),
                    Tensor.of(concat(List.of(y, y)), 2, 24), Tensor.of(new float[]{3.5f, 2f}, 2));
            FluxModel m = new FluxModel(w, be);
            float[] first = be.download(m.forward(Golden.inputs(be, c), false));
            float[] shaped = be.download(m.forward(other, false));
            assertArrayEquals(be.download(new FluxModel(w, be).forward(other, false)), shaped);
            assertArrayEquals(first, be.download(m.forward(Golden.inputs(be, c), false)));
        }
    }

    private Tensor tensor(float[] v, long[] shape) {
        return be.upload(v, shape);
    }

    private FluxInputs inputs(Map<String, float[]> v, Map<String, long[]> shapes, int batch) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        v.forEach((n, x) -> {
            long[] s = shapes.get(n).clone();
            s[0] = batch;
            t.put(n, Tensor.of(x, s));
        });
        return FluxInputs.fromHost(be, c, t.get("img"), t.get("img_ids"), t.get("txt"), t.get("txt_ids"),
                t.get("timesteps"), t.get("y"), t.get("guidance"));
    }

    private static void assertClose(float[] ref, float[] ours, double bound) {
        double r = Compare.relToMax(ours, ref);
        assertTrue(r <= bound, "rel_to_max " + r + " > " + bound);
    }

    @Test
    void bf16WeightsRunInPlaceLikeTheirF32UpCast() {
        Map<String, Tensor> up = new LinkedHashMap<>();
        try (TensorSource s = Safetensors.open(Golden.weightsBf16())) {
            for (String n : s.names()) {
                assertEquals(DType.BF16, s.info(n).dtype());
                up.put(n, Tensor.of(Floats.toF32(s.tensor(n)), s.info(n).shape()));
            }
        }
        Path f32 = tmp.resolve("up.safetensors");
        SafetensorsWriter.write(f32, up, Map.of());
        float[] ref;
        try (FluxWeights w = FluxWeights.open(f32, c)) {
            ref = be.download(new FluxModel(w, be).forward(Golden.inputs(be, c), false));
        }
        try (FluxWeights w = FluxWeights.open(Golden.weightsBf16(), c)) {
            assertEquals(DType.BF16, w.tensor("proj_out.weight").dtype());
            float[] out = be.download(new FluxModel(w, be).forward(Golden.inputs(be, c), false));
            assertClose(ref, out, 1e-6);
            // and bf16 rounding of the weights moves the output visibly away from the f64 reference
            double r = Compare.relToMax(out, Golden.read("outputs.safetensors").get("out_f64"));
            assertTrue(r > 1e-4 && r < 5e-2, "bf16 weights vs f64 reference: " + r);
        }
    }

    /**
     * LoRAs on Linears of every kind (the final adaLN whose halves the layout splits, a modulation, a single-block
     * projection, an embedder): the output equals the one with B·A merged into W, and dA = s·Bᵀ·dW, dB = s·dW·Aᵀ.
     */
    @Test
    void loraOnAnyLinearActsLikeTheMergedWeight() {
        List<String> modules = List.of("norm_out.linear", "transformer_blocks.0.norm1_context.linear",
                "single_transformer_blocks.1.proj_mlp", "time_text_embed.timestep_embedder.linear_1", "x_embedder");
        Map<String, Tensor> weights = Golden.diffusersWeights();
        Random rng = new Random(11);
        List<LoraModule> loras = new ArrayList<>();
        int rank = 3;
        float alpha = 6f;
        float mult = 0.5f;
        float s = mult * alpha / rank;
        for (String mod : modules) {
            Tensor wt = weights.get(mod + ".weight");
            long out = wt.dim(0);
            long in = wt.dim(1);
            float[] a = new float[(int) (rank * in)];
            float[] b = new float[(int) (out * rank)];
            for (int i = 0; i < a.length; i++) {
                a[i] = 0.2f * (float) rng.nextGaussian();
            }
            for (int i = 0; i < b.length; i++) {
                b[i] = 0.2f * (float) rng.nextGaussian();
            }
            loras.add(new LoraModule(mod, Tensor.of(a, rank, in), Tensor.of(b, out, rank), alpha, null, null));
            float[] merged = Floats.toF32(wt);
            for (int o = 0; o < out; o++) {
                for (int i = 0; i < in; i++) {
                    double acc = 0;
                    for (int r = 0; r < rank; r++) {
                        acc += (double) b[o * rank + r] * a[r * (int) in + i];
                    }
                    merged[(int) (o * in + i)] += (float) (s * acc);
                }
            }
            weights.put(mod + ".weight", Tensor.of(merged, out, in));
        }
        Path mergedFile = tmp.resolve("merged.safetensors");
        SafetensorsWriter.write(mergedFile, weights, Map.of());
        float[] ref;
        try (FluxWeights w = FluxWeights.open(mergedFile, c)) {
            ref = be.download(new FluxModel(w, be).forward(Golden.inputs(be, c), false));
        }
        try (FluxWeights w = FluxWeights.open(Golden.WEIGHTS_BFL, c)) {
            FluxModel m = new FluxModel(w, be);
            m.setLora(loras, mult);
            float[] out = be.download(m.forward(Golden.inputs(be, c), false));
            assertClose(ref, out, 1e-5);
            FluxGradients g = m.newGradients(true, false);
            m.backward(Golden.gradOutput(be), g);
            FluxGradients frozen = m.newGradients(false, false);
            m.backward(Golden.gradOutput(be), frozen);
            for (LoraModule l : loras) {
                float[] dw = l.module().equals("norm_out.linear")
                        ? concat(List.of(be.download(g.param("norm_out.linear.scale.weight")),
                        be.download(g.param("norm_out.linear.shift.weight"))))
                        : be.download(g.param(l.module() + ".weight"));
                int out2 = (int) l.out();
                int in = (int) l.in();
                float[] a = Floats.toF32(l.a());
                float[] b = Floats.toF32(l.b());
                float[] da = new float[rank * in];
                float[] db = new float[out2 * rank];
                for (int r = 0; r < rank; r++) {
                    for (int o = 0; o < out2; o++) {
                        for (int i = 0; i < in; i++) {
                            da[r * in + i] += s * b[o * rank + r] * dw[o * in + i];
                            db[o * rank + r] += s * dw[o * in + i] * a[r * in + i];
                        }
                    }
                }
                assertClose(da, be.download(g.loraA(l.module())), 1e-5);
                assertClose(db, be.download(g.loraB(l.module())), 1e-5);
                assertArrayEquals(be.download(g.loraA(l.module())), be.download(frozen.loraA(l.module())), l.module());
                assertArrayEquals(be.download(g.loraB(l.module())), be.download(frozen.loraB(l.module())), l.module());
            }
        }
    }

    /**
     * A loss on the output and on the attention probabilities of double block 1, L = Σ out⊙G + Σ P₁⊙H: the directional
     * derivative of L along random directions of every LoRA factor and of the input img matches central differences.
     */
    @Test
    void attentionLossGradientMatchesFiniteDifferences() {
        be = FluxModelGoldenTest.backend("naive");
        Random rng = new Random(3);
        try (FluxWeights w = FluxWeights.open(Golden.WEIGHTS_BFL, c)) {
            FluxModel m = new FluxModel(w, be);
            List<LoraModule> lora = new ArrayList<>(LoraSet.load(Golden.DIR.resolve("lora_weights.safetensors"))
                    .modules());
            m.setLora(lora, 1f);
            FluxInputs in = Golden.inputs(be, c);
            Tensor gOut = Golden.gradOutput(be);
            long l = in.txtTokens() + in.imgTokens();
            float[] h = new float[(int) (c.numHeads() * l * l)];
            for (int i = 0; i < h.length; i++) {
                h[i] = 4f * (float) rng.nextGaussian();
            }
            Tensor gProbs = be.upload(h, 1, c.numHeads(), l, l);
            java.util.function.DoubleSupplier loss = () -> {
                float[] out = be.download(m.forward(in, List.of(1)));
                float[] go = be.download(gOut);
                float[] p = be.download(m.attentionProbs(1));
                double sum = 0;
                for (int i = 0; i < out.length; i++) {
                    sum += (double) out[i] * go[i];
                }
                for (int i = 0; i < p.length; i++) {
                    sum += (double) p[i] * h[i];
                }
                return sum;
            };
            loss.getAsDouble();
            FluxGradients g = m.newGradients(false, true);
            m.backward(gOut, Map.of(1, gProbs), g);
            // the attention term matters: without it the LoRA gradient differs
            FluxGradients outOnly = m.newGradients(false, false);
            m.backward(gOut, outOnly);
            String mod1 = "transformer_blocks.1.attn.add_q_proj";
            double diff = Compare.relToMax(be.download(outOnly.loraA(mod1)), be.download(g.loraA(mod1)));
            assertTrue(diff > 0.05, "attention term changes the gradient: " + diff);

            List<Tensor> params = new ArrayList<>();
            List<Tensor> grads = new ArrayList<>();
            for (LoraModule mod : lora) {
                params.add(mod.a());
                grads.add(g.loraA(mod.module()));
                params.add(mod.b());
                grads.add(g.loraB(mod.module()));
            }
            checkDirection(loss, params, grads, rng);
            checkDirection(loss, List.of(in.img()), List.of(g.img()), rng);
        }
    }

    private void checkDirection(java.util.function.DoubleSupplier loss, List<Tensor> params, List<Tensor> grads,
                                Random rng) {
        List<float[]> dirs = new ArrayList<>();
        double analytic = 0;
        for (int t = 0; t < params.size(); t++) {
            float[] d = new float[(int) params.get(t).numel()];
            float[] gr = be.download(grads.get(t));
            for (int i = 0; i < d.length; i++) {
                d[i] = (float) rng.nextGaussian();
                analytic += (double) d[i] * gr[i];
            }
            dirs.add(d);
        }
        double eps = 1e-3;
        double[] f = new double[2];
        for (int side = 0; side < 2; side++) {
            double step = side == 0 ? eps : -2 * eps;
            for (int t = 0; t < params.size(); t++) {
                Tensor p = params.get(t);
                float[] d = dirs.get(t);
                for (int i = 0; i < d.length; i++) {
                    p.set(i, (float) (p.get(i) + step * d[i]));
                }
            }
            f[side] = loss.getAsDouble();
        }
        for (int t = 0; t < params.size(); t++) {
            Tensor p = params.get(t);
            float[] d = dirs.get(t);
            for (int i = 0; i < d.length; i++) {
                p.set(i, (float) (p.get(i) + eps * d[i]));
            }
        }
        double numeric = (f[0] - f[1]) / (2 * eps);
        assertEquals(analytic, numeric, 2e-4 * Math.abs(analytic), "directional derivative");
    }

    @Test
    void loraOnAnUnknownModuleOrWithAWrongShapeIsRejected() {
        try (FluxWeights w = FluxWeights.open(Golden.WEIGHTS_BFL, c)) {
            FluxModel m = new FluxModel(w, be);
            LoraModule unknown = new LoraModule("transformer_blocks.7.attn.to_q", Tensor.zeros(2, 64),
                    Tensor.zeros(64, 2), 2, "k.lora_A", "k.lora_B");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> m.setLora(List.of(unknown), 1f));
            assertTrue(e.getMessage().contains("no Linear module transformer_blocks.7.attn.to_q"), e.getMessage());
            LoraModule wrong = new LoraModule("transformer_blocks.0.attn.to_q", Tensor.zeros(2, 64),
                    Tensor.zeros(32, 2), 2, "q.lora_A.weight", "q.lora_B.weight");
            e = assertThrows(IllegalArgumentException.class, () -> m.setLora(List.of(wrong), 1f));
            assertEquals("LoRA q.lora_B.weight: expected [64, 2] F32, got [32, 2] F32", e.getMessage());
        }
    }
}
