package dev.fluxerase.pipeline;

import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.safetensors.TensorInfo;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * Packed latents as a safetensors file: tensor {@code latents} [1, L, 4C], the form diffusers' FluxPipeline takes as
 * {@code latents=} (initial noise) and the form {@code generate --save-latents} writes (final latents).
 */
public final class LatentsFile {
    public static final String NAME = "latents";

    private LatentsFile() {
    }

    /** Reads {@code latents} (any float dtype) and checks it against the image geometry; one line when it does not fit. */
    public static float[] read(Path file, Latents geometry) {
        try (TensorSource s = Safetensors.open(file)) {
            if (!s.contains(NAME)) {
                throw new PipelineException(s.describe() + ": tensor " + NAME + " missing (expected packed latents [1, "
                        + geometry.tokens() + ", " + geometry.tokenWidth() + "]; tensors: "
                        + String.join(", ", s.names().stream().limit(8).toList()) + ")");
            }
            TensorInfo info = s.info(NAME);
            long[] expected = {1, geometry.tokens(), geometry.tokenWidth()};
            if (!Arrays.equals(info.shape(), expected) || !info.dtype().isFloat()) {
                throw new PipelineException(s.describe() + ": tensor " + NAME + ": expected " + Arrays.toString(expected)
                        + " (packed latents of a " + geometry.width() + "x" + geometry.height() + " image) in a float"
                        + " dtype, got " + Arrays.toString(info.shape()) + " " + info.dtype());
            }
            String problem = Floats.nonFinite(s.tensor(NAME));
            if (problem != null) {
                throw new PipelineException(s.describe() + ": tensor " + NAME + ": " + problem);
            }
            return Floats.toF32(s.tensor(NAME));
        }
    }

    /** Writes {@code latents} [1, L, 4C] F32, atomically. */
    public static void write(Path file, float[] packed, Latents geometry, Map<String, String> metadata) {
        SafetensorsWriter.write(file, Map.of(NAME, Tensor.of(packed.clone(), 1, geometry.tokens(),
                geometry.tokenWidth())), metadata);
    }
}
