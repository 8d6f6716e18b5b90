package dev.fluxerase.flux;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Resources;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;


/**
 * The flux-tiny golden case (BFL reference, float64, rounded to f32 by tools/golden-to-f32.py) as the tests use it
 * (public for the GPU tests in dev.fluxerase.cuda).
 */
public final class Golden {
    public static final Path DIR = Resources.path("golden/flux-tiny");
    public static final Path WEIGHTS_BFL = DIR.resolve("weights_bfl.safetensors");
    static final Path INPUTS = DIR.resolve("inputs.safetensors");
    static final Path CONFIG = DIR.resolve("config.json");

    private static Path weightsBf16;

    private Golden() {
    }

    /**
     * The golden weights rounded to bf16 (round to nearest even), written once per test JVM to a temporary file. Rounding
     * the f32 copy gives the reference's own weights_bfl_bf16.safetensors element for element (all 482,960 compared
     * when this replaced the tracked copy), so the tracked files need not hold it.
     */
    public static synchronized Path weightsBf16() {
        if (weightsBf16 == null) {
            Map<String, Tensor> t = new LinkedHashMap<>();
            try (TensorSource s = Safetensors.open(WEIGHTS_BFL)) {
                for (String n : s.names()) {
                    t.put(n, Floats.toBf16(s.tensor(n)));
                }
            }
            try {
                Path f = Files.createTempFile("flux-tiny-weights-bf16-", ".safetensors");
                f.toFile().deleteOnExit();
                SafetensorsWriter.write(f, t, Map.of("content", "weights_bfl rounded to bfloat16 (nearest even)"));
                weightsBf16 = f;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write the bf16 golden weights: " + e.getMessage(), e);
            }
        }
        return weightsBf16;
    }

    public static FluxConfig config() {
        return FluxConfig.read(CONFIG);
    }

    /** Every tensor of a golden file as f32 arrays. */
    public static Map<String, float[]> read(String file) {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (TensorSource s = Safetensors.open(DIR.resolve(file))) {
            for (String n : s.names()) {
                out.put(n, Floats.toF32(s.tensor(n)));
            }
        }
        return out;
    }

    public static FluxInputs inputs(Backend be, FluxConfig c) {
        try (TensorSource s = Safetensors.open(INPUTS)) {
            return FluxInputs.fromHost(be, c, s.tensor("img"), s.tensor("img_ids"), s.tensor("txt"),
                    s.tensor("txt_ids"), s.tensor("timesteps"), s.tensor("y"), s.tensor("guidance"));
        }
    }

    public static Tensor gradOutput(Backend be) {
        try (TensorSource s = Safetensors.open(INPUTS)) {
            Tensor g = s.tensor("grad_output");
            return be.upload(Floats.toF32(g), g.shape());
        }
    }

    /**
     * Writes the diffusers-named weights the way diffusers' converter does, from the BFL weights and name_map.json
     * (tools/golden-to-f32.py checks that this reproduces the reference's weights_diffusers file bit for bit).
     */
    static void writeDiffusersWeights(Path file) {
        SafetensorsWriter.write(file, diffusersWeights(), Map.of("format", "pt"));
    }

    /** The diffusers-named weights as F32 tensors, in name_map.json order. */
    static Map<String, Tensor> diffusersWeights() {
        Map<String, float[]> bfl = read("weights_bfl.safetensors");
        Map<String, long[]> shapes = new LinkedHashMap<>();
        try (TensorSource s = Safetensors.open(WEIGHTS_BFL)) {
            for (String n : s.names()) {
                shapes.put(n, s.info(n).shape());
            }
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = nameMap().properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String src = e.getValue().get("bfl").asText();
            long[] shape = shapes.get(src).clone();
            long rowSize = Tensor.numel(shape) / shape[0];
            float[] v = bfl.get(src);
            JsonNode rows = e.getValue().get("rows");
            long r0 = rows.isNull() ? 0 : rows.get(0).asLong();
            long r1 = rows.isNull() ? shape[0] : rows.get(1).asLong();
            float[] part = new float[(int) ((r1 - r0) * rowSize)];
            System.arraycopy(v, (int) (r0 * rowSize), part, 0, part.length);
            if (e.getValue().get("swap_halves").asBoolean()) {
                float[] swapped = new float[part.length];
                int half = part.length / 2;
                System.arraycopy(part, half, swapped, 0, half);
                System.arraycopy(part, 0, swapped, half, half);
                part = swapped;
            }
            shape[0] = r1 - r0;
            out.put(e.getKey(), Tensor.of(part, shape));
        }
        return out;
    }

    /** name_map.json's "map": diffusers key → {bfl, rows, swap_halves}. */
    static JsonNode nameMap() {
        try {
            return new ObjectMapper().readTree(DIR.resolve("name_map.json").toFile()).get("map");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
