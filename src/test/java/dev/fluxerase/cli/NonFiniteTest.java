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
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A NaN anywhere stops the command with a line that says where, instead of a black PNG or a NaN LoRA and exit 0. */
class NonFiniteTest {
    @TempDir
    Path tmp;

    /** A copy of {@code file} whose tensor {@code name} has {@code value} at index 0. */
    private static void poison(Path file, String name, float value) {
        rewrite(file, name, v -> v[0] = value);
    }

    /**
     * A copy of {@code file} whose tensor {@code name} holds the largest float everywhere: finite, so it loads, but its
     * products overflow in the first forward as an fp16 or badly trained weight can.
     */
    private static void overflow(Path file, String name) {
        rewrite(file, name, v -> Arrays.fill(v, Float.MAX_VALUE));
    }

    private static void rewrite(Path file, String name, Consumer<float[]> change) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        try (TensorSource s = Safetensors.open(file)) {
            for (String n : s.names()) {
                float[] v = Floats.toF32(s.tensor(n));
                if (n.equals(name)) {
                    change.accept(v);
                }
                t.put(n, Tensor.of(v, s.info(n).shape()));
            }
        }
        SafetensorsWriter.write(file, t, Map.of("format", "pt"));
    }

    @Test
    void aNanInTheWeightsIsRefusedWhenLoadedNamingTheTensor() throws Exception {
        Path model = ToyFolder.create(tmp.resolve("toy"));
        Path file = model.resolve("transformer/diffusion_pytorch_model.safetensors");
        poison(file, "proj_out.bias", Float.NaN);
        Path png = tmp.resolve("x.png");
        CliRun r = CliRun.of("generate", "--model", model.toString(), "--no-cache", "--prompt", "a red square",
                "--steps", "2", "--width", "16", "--height", "16", "--t5-length", "16", "--out", png.toString());
        assertEquals(1, r.exit());
        assertEquals("flux-erase: " + file + ": tensor proj_out.bias: 1 of its 48 values are not finite (the first, at "
                + "index 0, is NaN); the weights are damaged (a bad download or conversion)", r.err().strip());
        assertFalse(Files.exists(png));
    }

    @Test
    void anInfinityInAnEncoderOrTheVaeIsRefusedWhenLoaded() throws Exception {
        Path model = ToyFolder.create(tmp.resolve("toy"));
        Path t5 = model.resolve("text_encoder_2/model.safetensors");
        String name;
        try (TensorSource s = Safetensors.open(t5)) {
            name = s.names().iterator().next();
        }
        poison(t5, name, Float.NEGATIVE_INFINITY);
        CliRun r = CliRun.of("encode-prompt", "--model", model.toString(), "--prompt", "a red square", "--output",
                tmp.resolve("p.safetensors").toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("tensor '" + name + "': 1 of its ") && r.err().contains("values are not finite "
                + "(the first, at index 0, is -Infinity); the file is damaged"), r.err());
    }

    @Test
    void startingLatentsWithANanAreRefused() throws Exception {
        Path model = ToyFolder.create(tmp.resolve("toy"));
        Path latents = tmp.resolve("start.safetensors");
        float[] v = new float[16 * 48];
        v[20] = Float.NaN;
        SafetensorsWriter.write(latents, Map.of("latents", Tensor.of(v, 1, 16, 48)), Map.of());
        CliRun r = CliRun.of("generate", "--model", model.toString(), "--no-cache", "--prompt", "a red square",
                "--steps", "2", "--width", "16", "--height", "16", "--t5-length", "16", "--latents", latents.toString(),
                "--out", tmp.resolve("x.png").toString());
        assertEquals(1, r.exit());
        assertEquals("flux-erase: " + latents + ": tensor latents: 1 of its 768 values are not finite (the first, at "
                + "index 20, is NaN)", r.err().strip());
    }

    @Test
    void anOverflowInTheActivationsStopsSamplingAtTheStepItAppears() throws Exception {
        Path model = ToyFolder.create(tmp.resolve("toy"));
        overflow(model.resolve("transformer/diffusion_pytorch_model.safetensors"), "proj_out.weight");
        Path png = tmp.resolve("x.png");
        CliRun r = CliRun.of("generate", "--model", model.toString(), "--no-cache", "--prompt", "a red square",
                "--steps", "2", "--width", "16", "--height", "16", "--t5-length", "16", "--out", png.toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().matches("flux-erase: sampling step 1/2: the transformer's velocity is (NaN|-?Infinity) at "
                + "image 0, token \\d+, channel \\d+ \\(.*\\); no image is written\\s*"), r.err());
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
    void aNonFiniteLossStopsTheErasureBeforeAnythingOfItIsSaved() throws Exception {
        Path model = tmp.resolve("tiny");
        copy(TinyRun.MODEL, model);
        overflow(model.resolve("transformer/diffusion_pytorch_model.safetensors"), "proj_out.weight");
        Path out = tmp.resolve("run");
        List<String> args = TinyRun.args(tmp, out, "--steps", "2", "--checkpoint-every", "1");
        args.set(args.indexOf(TinyRun.MODEL.toString()), model.toString());
        CliRun r = CliRun.of(args.toArray(String[]::new));
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("flux-erase: step 1/2 (erase): the loss is NaN"), r.err());
        assertFalse(Files.exists(out.resolve("pytorch_lora_weights.safetensors")));
        // only the checkpoint of the run's start, written before its first step, holds nothing of the NaN step
        try (TensorSource s = Safetensors.open(out.resolve("checkpoint.safetensors"))) {
            assertEquals("[]", s.metadata().get("history"));
        }
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
