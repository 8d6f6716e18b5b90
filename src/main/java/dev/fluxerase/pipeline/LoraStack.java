package dev.fluxerase.pipeline;

import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.lora.LoraException;
import dev.fluxerase.lora.LoraModule;
import dev.fluxerase.lora.LoraSet;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Several LoRAs with their own strengths as one set of modules for {@code FluxModel.setLora}, which takes one module per
 * Linear and one multiplier. Where LoRAs share a module, their factors are stacked along the rank:
 * {@code Σ s_i·(α_i/r_i)·B_i·A_i = [s_1·(α_1/r_1)·B_1 | s_2·(α_2/r_2)·B_2 | …]·[A_1; A_2; …]}, with alpha set to the
 * stacked rank so that the model's alpha/rank is 1 (the adapter the model needs when FluxModel's API is one LoRA per
 * module). A single LoRA is passed through unchanged with its strength as the multiplier.
 */
public final class LoraStack {

    /** A LoRA file and its strength, as {@code --lora FILE[:SCALE]} gives them. */
    public record Entry(Path file, float scale) {

        /** FILE or FILE:SCALE; the scale is taken after the last ':' when that is a number and FILE exists. */
        public static Entry parse(String spec) {
            int colon = spec.lastIndexOf(':');
            if (colon > 0) {
                String tail = spec.substring(colon + 1);
                Path file = Path.of(spec.substring(0, colon));
                try {
                    float s = Float.parseFloat(tail);
                    if (Files.exists(file) || !Files.exists(Path.of(spec))) {
                        if (!Float.isFinite(s)) {
                            throw new PipelineException("--lora " + spec + ": the scale must be a finite number");
                        }
                        return new Entry(file, s);
                    }
                } catch (NumberFormatException e) {
                    // not a scale: the whole string is the path, unless only the part before ':' names a file
                    if (Files.exists(file) && !Files.exists(Path.of(spec))) {
                        throw new PipelineException("--lora " + spec + ": the scale \"" + tail + "\" is not a number "
                                + "(FILE or FILE:SCALE, e.g. " + file + ":0.8)");
                    }
                }
            }
            return new Entry(Path.of(spec), 1f);
        }
    }

    /** The modules to attach and the multiplier to attach them with. */
    public record Attached(Collection<LoraModule> modules, float multiplier, List<String> warnings) {
    }

    private LoraStack() {
    }

    /** Loads and validates every LoRA against {@code config}, then combines them. */
    public static Attached load(List<Entry> entries, FluxConfig config) {
        List<LoraSet> sets = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        for (Entry e : entries) {
            if (!Files.isRegularFile(e.file())) {
                throw new PipelineException("--lora " + e.file() + ": no such file");
            }
            LoraSet set = LoraSet.load(e.file(), config);
            sets.add(set);
            for (String w : set.warnings()) {
                warnings.add(e.file().getFileName() + ": " + w);
            }
        }
        return combine(sets, entries.stream().map(Entry::scale).toList(), warnings);
    }

    static Attached combine(List<LoraSet> sets, List<Float> scales, List<String> warnings) {
        if (sets.isEmpty()) {
            return new Attached(List.of(), 1f, warnings);
        }
        if (sets.size() == 1) {
            return new Attached(sets.getFirst().modules(), scales.getFirst(), warnings);
        }
        Map<String, List<LoraModule>> byModule = new LinkedHashMap<>();
        Map<LoraModule, Float> scaleOf = new LinkedHashMap<>();
        for (int i = 0; i < sets.size(); i++) {
            for (LoraModule m : sets.get(i).modules()) {
                byModule.computeIfAbsent(m.module(), k -> new ArrayList<>()).add(m);
                scaleOf.put(m, scales.get(i));
            }
        }
        List<LoraModule> out = new ArrayList<>();
        for (Map.Entry<String, List<LoraModule>> e : byModule.entrySet()) {
            out.add(stack(e.getKey(), e.getValue(), scaleOf));
        }
        return new Attached(out, 1f, warnings);
    }

    private static LoraModule stack(String module, List<LoraModule> parts, Map<LoraModule, Float> scaleOf) {
        long in = parts.getFirst().in();
        long outDim = parts.getFirst().out();
        int rank = 0;
        for (LoraModule m : parts) {
            if (m.in() != in || m.out() != outDim) {
                throw new LoraException(module + ": LoRAs disagree on the Linear's shape ([" + outDim + ", " + in
                        + "] vs [" + m.out() + ", " + m.in() + "])");
            }
            rank += m.rank();
        }
        float[] a = new float[Math.toIntExact(rank * in)];
        float[] b = new float[Math.toIntExact(outDim * rank)];
        int r0 = 0;
        for (LoraModule m : parts) {
            float[] pa = Floats.toF32(m.a());
            float[] pb = Floats.toF32(m.b());
            float s = scaleOf.get(m) * m.scale();
            System.arraycopy(pa, 0, a, Math.toIntExact(r0 * in), pa.length);
            for (int o = 0; o < outDim; o++) {
                for (int j = 0; j < m.rank(); j++) {
                    b[o * rank + r0 + j] = s * pb[o * m.rank() + j];
                }
            }
            r0 += m.rank();
        }
        return new LoraModule(module, Tensor.of(a, rank, in), Tensor.of(b, outDim, rank), rank, null, null);
    }
}
