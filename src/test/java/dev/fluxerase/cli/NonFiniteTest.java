package dev.fluxerase.cli;

import dev.fluxerase.erase.TinyRun;
import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Resources;
import dev.fluxerase.testing.ToyFolder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A NaN anywhere stops the command with a line that says where, instead of a black PNG or a NaN LoRA and exit 0. */
class NonFiniteTest {
    @TempDir
    Path tmp;

    /** A copy of {@code file} whose tensor {@code name} has {@code value} at index 0. */
    private static void poison(Path file, String name, float value) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        try (TensorSource s = Safetensors.open(file)) {
            for (String n : s.names()) {
                float[] v = Floats.toF32(s.tensor(n));
                if (n.equals(name)) {
                    v[0] = value;
                }
                t.put(n, Tensor.of(v, s.info(n).shape()));
            }
        }
        SafetensorsWriter.write(file, t, Map.of("format", "pt"));
    }

    @Test
    void aNanInTheWeightsStopsSamplingAtTheStepItAppears() throws Exception {
        Path model = ToyFolder.create(tmp.resolve("toy"));
        poison(model.resolve("transformer/diffusion_pytorch_model.safetensors"), "proj_out.bias", Float.NaN);
        Path png = tmp.resolve("x.png");
        CliRun r = CliRun.of("generate", "--model", model.toString(), "--no-cache", "--prompt", "a red square",
                "--steps", "2", "--width", "16", "--height", "16", "--t5-length", "16", "--out", png.toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().startsWith("flux-erase: sampling step 1/2: the transformer's velocity is NaN at image 0, "
                + "token 0, channel 0"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertFalse(Files.exists(png));
    }

    @Test
    void aLoraWithAnInfinityIsRefusedWhenLoaded() throws Exception {
        Path lora = Files.copy(Resources.path("lora/flux-tiny-lora.safetensors"), tmp.resolve("bad.safetensors"));
        String name;
        try (TensorSource s = Safetensors.open(lora)) {
            name = s.names().stream().filter(n -> n.contains("lora_A") || n.contains("lora_down")).findFirst()
                    .orElseThrow();
        }
        poison(lora, name, Float.POSITIVE_INFINITY);
        CliRun r = CliRun.of("generate", "--model", TinyRun.MODEL.toString(), "--no-cache", "--prompt", "a cat",
                "--steps", "1", "--width", "16", "--height", "16", "--t5-length", "16", "--lora", lora.toString(),
                "--out", tmp.resolve("y.png").toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("tensor '" + name + "': 1 of its ") && r.err().contains("values are not finite "
                + "(the first, at index 0, is Infinity)"), r.err());
    }

    @Test
    void aNonFiniteLossStopsTheErasureBeforeAnythingIsSaved() throws Exception {
        Path model = tmp.resolve("tiny");
        copy(TinyRun.MODEL, model);
        poison(model.resolve("transformer/diffusion_pytorch_model.safetensors"), "proj_out.bias", Float.NaN);
        Path out = tmp.resolve("run");
        List<String> args = TinyRun.args(tmp, out, "--steps", "2", "--checkpoint-every", "1");
        args.set(args.indexOf(TinyRun.MODEL.toString()), model.toString());
        CliRun r = CliRun.of(args.toArray(String[]::new));
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("flux-erase: step 1/2 (erase): the loss is NaN"), r.err());
        assertFalse(Files.exists(out.resolve("pytorch_lora_weights.safetensors")));
        assertFalse(Files.exists(out.resolve("checkpoint.safetensors")));
    }

    private static void copy(Path from, Path to) throws Exception {
        try (var s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path q = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(q);
                } else {
                    Files.copy(p, q);
                }
            }
        }
    }
}
