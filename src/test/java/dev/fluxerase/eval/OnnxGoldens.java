package dev.fluxerase.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.safetensors.SafetensorsFile;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.testing.Resources;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/** The ONNX goldens of src/test/resources/eval-tiny/onnx (tools/onnx-golden-copy.py; its README). */
public final class OnnxGoldens {
    public static final String DIR = "eval-tiny/onnx/";

    private OnnxGoldens() {
    }

    /** The classifier's model, with its classifier.json beside it. */
    public static Path classifier() {
        return Resources.path(DIR + "classifier.onnx");
    }

    /** The tiny NudeNet-layout detector, unzipped into {@code dir}. */
    public static Path detector(Path dir) {
        return gunzip("detector.onnx", dir);
    }

    /** Golden picture {@code k} (det0, det1) as a file. */
    public static Path picture(int k) {
        return Resources.path(DIR + json("detector-golden.json").path("pictures").get(k).path("file").asText());
    }

    static JsonNode json(String name) {
        try {
            return new ObjectMapper().readTree(Resources.path(DIR + name).toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Tensor {@code name} of detector-output.safetensors as floats (unzipped into {@code dir}). */
    static float[] output(Path dir, String name) {
        try (SafetensorsFile f = SafetensorsFile.open(gunzip("detector-output.safetensors", dir))) {
            return Floats.toF32(f.tensor(name));
        }
    }

    /** Tensor {@code name} of detector-output.safetensors as ints (anchor indices). */
    static int[] anchors(Path dir, String name) {
        try (SafetensorsFile f = SafetensorsFile.open(gunzip("detector-output.safetensors", dir))) {
            return ClipGoldens.ints(f.tensor(name));
        }
    }

    private static Path gunzip(String name, Path dir) {
        Path out = dir.resolve(name);
        if (!Files.exists(out)) {
            try (InputStream in = new GZIPInputStream(Files.newInputStream(Resources.path(DIR + name + ".gz")))) {
                Files.copy(in, out);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return out;
    }
}
