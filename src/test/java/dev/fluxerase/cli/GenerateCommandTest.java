package dev.fluxerase.cli;

import dev.fluxerase.image.Png;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.pipeline.LockHolder;
import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Resources;
import dev.fluxerase.testing.ToyFolder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code generate} end to end on the tiny pipeline: PNG and latents out, --latents in, batches, one-line errors. */
class GenerateCommandTest {
    static final Path TINY = Resources.path("pipeline-tiny");
    static final String MODEL = TINY.resolve("model").toString();

    @TempDir
    Path tmp;

    private CliRun generate(String... extra) {
        String[] base = {"generate", "--model", MODEL, "--cache-dir", tmp.resolve("cache").toString()};
        String[] args = new String[base.length + extra.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        return CliRun.of(args);
    }

    static float[] reference(String testCase, String name) {
        try (TensorSource s = Safetensors.open(TINY.resolve("cases").resolve(testCase).resolve("reference.safetensors"))) {
            return Floats.toF32(s.tensor(name));
        }
    }

    @Test
    void withDiffusersLatentsTheLoraImageIsFluxPipelines() throws Exception {
        Path png = tmp.resolve("cat.png");
        Path saved = tmp.resolve("final.safetensors");
        CliRun r = generate("--prompt", "a photo of a cat", "--lora", TINY.resolve("lora_visible.safetensors") + ":1",
                "--steps", "4", "--width", "32", "--height", "32", "--t5-length", "64", "--latents",
                TINY.resolve("cases/cat_lora_32_s4/inputs.safetensors").toString(), "--out", png.toString(),
                "--save-latents", saved.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().startsWith("wrote " + png + " (32x32, 4 steps, latents from "), r.out());
        // not a terminal: one plain progress line per step
        assertEquals(4, r.err().lines().filter(l -> l.matches("step \\d/4, \\d+:\\d\\d elapsed, ETA \\d+:\\d\\d"))
                .count(), r.err());
        float[] ref = reference("cat_lora_32_s4", "f64.image");
        RgbImage img = Png.read(png);
        assertEquals(32, img.width());
        int off = 0;
        for (int i = 0; i < ref.length; i++) {
            int d = Math.abs((img.rgb()[i] & 0xff) - (int) Math.rint(ref[i] * 255f));
            assertTrue(d <= 1, "byte " + i);
            off += d;
        }
        assertTrue(off <= 3, off + " bytes off by one");
        float[] finalRef = reference("cat_lora_32_s4", "f64.latents_per_step");
        try (TensorSource s = Safetensors.open(saved)) {
            assertArrayEquals(new long[]{1, 64, 64}, s.info("latents").shape());
            float[] got = Floats.toF32(s.tensor("latents"));
            double max = 0;
            for (int i = 0; i < got.length; i++) {
                max = Math.max(max, Math.abs(got[i] - finalRef[3 * got.length + i]));
            }
            assertTrue(max < 1e-4, "final latents max abs " + max);
            assertEquals("a photo of a cat", s.metadata().get("prompt"));
        }
        assertFalse(Files.list(tmp).anyMatch(p -> p.getFileName().toString().contains(".tmp")));
    }

    @Test
    void latentsOfTheWrongSizeAreOneLine() {
        CliRun r = generate("--prompt", "a cat", "--steps", "1", "--width", "64", "--height", "32",
                "--latents", TINY.resolve("cases/cat_32_s4/inputs.safetensors").toString(), "--out",
                tmp.resolve("x.png").toString());
        assertEquals(1, r.exit());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().contains("tensor latents: expected [1, 128, 64] (packed latents of a 64x32 image)")
                && r.err().contains("got [1, 64, 64]"), r.err());
        assertFalse(Files.exists(tmp.resolve("x.png")));
    }

    /** Where the image cannot be written is found before the model loads, not after the sampling. */
    @Test
    void anUnwritableOutputIsRefusedBeforeAnyWork() throws Exception {
        String[] size = {"--prompt", "a cat", "--steps", "1", "--width", "16", "--height", "16", "--t5-length", "16"};
        Path missing = tmp.resolve("no-such-folder").resolve("cat.png");
        CliRun r = generate(concat(size, "--out", missing.toString()));
        assertEquals(1, r.exit());
        assertEquals("flux-erase: --out " + missing + ": the folder " + missing.getParent() + " does not exist",
                r.err().strip());
        assertFalse(r.err().contains("step 1/1"), r.err());
        Path folder = Files.createDirectories(tmp.resolve("a-folder.png"));
        CliRun f = generate(concat(size, "--out", folder.toString()));
        assertEquals("flux-erase: --out " + folder + " is a folder, expected a file to write", f.err().strip());
        CliRun latentsOut = generate(concat(size, "--out", tmp.resolve("ok.png").toString(), "--save-latents",
                missing.resolveSibling("z.safetensors").toString()));
        assertEquals(1, latentsOut.exit());
        assertTrue(latentsOut.err().contains("--save-latents") && latentsOut.err().contains("does not exist"),
                latentsOut.err());
        assertFalse(Files.exists(tmp.resolve("ok.png")));
    }

    /** Another batch whose names collide, or the same batch with other settings, must not relabel the images. */
    @Test
    void aBatchNeverOverwritesOrRelabelsAnotherBatchsImages() throws Exception {
        Path out = tmp.resolve("shared");
        String[] size = {"--steps", "1", "--width", "16", "--height", "16", "--t5-length", "16"};
        Path first = Files.writeString(tmp.resolve("first.csv"), "a red square,1,img\n");
        assertEquals(0, generate(concat(new String[]{"--batch", first.toString(), "--out-dir", out.toString()}, size))
                .exit());
        List<String> index = Files.readAllLines(out.resolve("index.csv"));
        byte[] png = Files.readAllBytes(out.resolve("img.png"));

        Path other = Files.writeString(tmp.resolve("other.csv"), "a blue circle,1,img\n");
        CliRun r = generate(concat(new String[]{"--batch", other.toString(), "--out-dir", out.toString()}, size));
        assertEquals(1, r.exit());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().contains("img.png (line 1 of the batch) holds another image: index.csv made it from prompt "
                + "\"a red square\", seed 1, 16x16, 1 steps"), r.err());
        CliRun steps = generate("--batch", first.toString(), "--out-dir", out.toString(), "--steps", "2", "--width",
                "16", "--height", "16", "--t5-length", "16");
        assertEquals(1, steps.exit());
        assertTrue(steps.err().contains("holds another image"), steps.err());
        assertEquals(index, Files.readAllLines(out.resolve("index.csv")));
        assertArrayEquals(png, Files.readAllBytes(out.resolve("img.png")));

        // other names in the same folder add rows; the first batch's row stays
        Path more = Files.writeString(tmp.resolve("more.csv"), "a blue circle,1,img2\n");
        assertEquals(0, generate(concat(new String[]{"--batch", more.toString(), "--out-dir", out.toString()}, size))
                .exit());
        List<String> both = Files.readAllLines(out.resolve("index.csv"));
        assertEquals(3, both.size());
        assertEquals(index.get(1), both.get(1));
        assertTrue(both.get(2).startsWith("img2,a blue circle,1,img2.png,"), both.get(2));
    }

    /**
     * --activations bf16 samples with BF16 MLP activations; its settings say so in index.csv, so the same batch in f32
     * is another image, refused in a folder that holds the bf16 one.
     */
    @Test
    void bf16ActivationsAreOtherSettingsOfABatch() throws Exception {
        Path out = tmp.resolve("bf16");
        String[] size = {"--steps", "1", "--width", "16", "--height", "16", "--t5-length", "16"};
        Path csv = Files.writeString(tmp.resolve("b.csv"), "a red square,1,img\n");
        CliRun r = generate(concat(new String[]{"--batch", csv.toString(), "--out-dir", out.toString(), "--activations",
                "bf16"}, size));
        assertEquals(0, r.exit(), r.err());
        List<String> index = Files.readAllLines(out.resolve("index.csv"));
        assertTrue(index.get(1).contains("bf16 MLP activations"), index.get(1));
        CliRun f32 = generate(concat(new String[]{"--batch", csv.toString(), "--out-dir", out.toString()}, size));
        assertEquals(1, f32.exit());
        assertTrue(f32.err().contains("holds another image"), f32.err());
    }

    @Test
    void aSecondBatchIntoALockedFolderIsRefused() throws Exception {
        Path out = tmp.resolve("locked");
        Process holder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), LockHolder.class.getName(),
                out.toString()).redirectErrorStream(true).start();
        try {
            assertEquals("locked", new BufferedReader(new InputStreamReader(holder.getInputStream(),
                    StandardCharsets.UTF_8)).readLine());
            Path csv = Files.writeString(tmp.resolve("p.csv"), "a red square,1\n");
            CliRun r = generate("--batch", csv.toString(), "--out-dir", out.toString(), "--steps", "1", "--width", "16",
                    "--height", "16", "--t5-length", "16");
            assertEquals(1, r.exit());
            assertEquals("flux-erase: --out-dir " + out + " is in use by another generate batch (pid " + holder.pid()
                    + "); wait for it to end, or choose another folder", r.err().strip());
            assertFalse(Files.exists(out.resolve("0001.png")));
        } finally {
            holder.destroyForcibly();
            holder.waitFor();
        }
    }

    @Test
    void batchWritesOnePngPerRowAndResumes() throws Exception {
        Path csv = Files.writeString(tmp.resolve("prompts.csv"), "prompt,seed,name\n"
                + "\"a cat, sitting\",1,cat\n"
                + "\"the \"\"best\"\" dog\",2\n");
        Path out = tmp.resolve("out");
        String[] args = {"--batch", csv.toString(), "--out-dir", out.toString(), "--steps", "1", "--width", "16",
                "--height", "16", "--t5-length", "16"};
        CliRun r = generate(args);
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().startsWith("2 images written, 0 already there"), r.out());
        assertTrue(r.err().contains("[1/2] cat step 1/1") && r.err().contains("[2/2] 0002 step 1/1"), r.err());
        String settings = "\"16x16, 1 steps, guidance 3.5, T5 length 16, model " + MODEL + ", LoRAs none\"";
        assertEquals(List.of("name,prompt,seed,file,settings", "cat,\"a cat, sitting\",1,cat.png," + settings,
                "0002,\"the \"\"best\"\" dog\",2,0002.png," + settings), Files.readAllLines(out.resolve("index.csv")));
        RgbImage cat = Png.read(out.resolve("cat.png"));
        assertEquals(16, cat.width());

        // a different seed gives a different image; the same seed the same one
        Files.delete(out.resolve("0002.png"));
        CliRun again = generate(args);
        assertEquals(0, again.exit(), again.err());
        assertTrue(again.out().startsWith("1 image written, 1 already there"), again.out());
        assertFalse(again.err().contains("[1/2]"), again.err());
        assertEquals(3, Files.readAllLines(out.resolve("index.csv")).size());
        CliRun single = generate("--prompt", "a cat, sitting", "--seed", "1", "--steps", "1", "--width", "16",
                "--height", "16", "--t5-length", "16", "--out", tmp.resolve("one.png").toString());
        assertEquals(0, single.exit(), single.err());
        assertEquals(cat, Png.read(tmp.resolve("one.png")));
        assertTrue(single.out().contains("seed 1"), single.out());
    }

    @Test
    void badBatchRowsAndOptionMixesAreOneLine() throws Exception {
        Path csv = Files.writeString(tmp.resolve("bad.csv"), "a cat,1\na dog,two\n");
        CliRun r = generate("--batch", csv.toString(), "--out-dir", tmp.resolve("o").toString());
        assertEquals(1, r.exit());
        assertEquals("flux-erase: " + csv + " line 2: seed \"two\" is not an integer", r.err().strip());
        Path dup = Files.writeString(tmp.resolve("dup.csv"), "a cat,1,x\n\"multi\nline\",2,x\n");
        CliRun d = generate("--batch", dup.toString(), "--out-dir", tmp.resolve("o").toString());
        assertTrue(d.err().contains("line 2: name \"x\" is already used on line 1"), d.err());
        CliRun mix = generate("--prompt", "a", "--out-dir", tmp.resolve("o").toString());
        assertEquals("flux-erase: --prompt needs --out (the PNG to write)", mix.err().strip());
        CliRun both = generate("--prompt", "a", "--batch", csv.toString(), "--out", "x.png");
        assertEquals(2, both.exit());
        CliRun size = generate("--prompt", "a", "--width", "30", "--out", tmp.resolve("x.png").toString());
        assertEquals(1, size.exit());
        assertTrue(size.err().contains("multiples of 4"), size.err());
        CliRun backend = generate("--prompt", "a", "--backend", "gpu", "--out", tmp.resolve("x.png").toString());
        assertEquals("flux-erase: --backend gpu: unknown (auto, cuda, cpu, naive)", backend.err().strip());
    }

    @Test
    void latentsFileWithoutTheTensorIsOneLine() {
        Path f = tmp.resolve("wrong.safetensors");
        SafetensorsWriter.write(f, Map.of("noise", Tensor.zeros(1, 64, 64)), Map.of());
        CliRun r = generate("--prompt", "a", "--width", "32", "--height", "32", "--latents", f.toString(), "--out",
                tmp.resolve("x.png").toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("tensor latents missing (expected packed latents [1, 64, 64]; tensors: noise)"),
                r.err());
    }

    /** A toy-like folder (pixel codec, in_channels 48) with {@code defaults} as its flux_erase_defaults. */
    private Path toy(String name, String defaults) {
        return ToyFolder.create(tmp.resolve(name), defaults);
    }

    private CliRun generateWith(Path model, String... extra) {
        List<String> args = new ArrayList<>(List.of("generate", "--model", model.toString(), "--cache-dir",
                tmp.resolve("cache").toString(), "--prompt", "a red square"));
        args.addAll(List.of(extra));
        return CliRun.of(args.toArray(String[]::new));
    }

    private static String metadata(Path latents, String key) {
        try (TensorSource s = Safetensors.open(latents)) {
            return s.metadata().get(key);
        }
    }

    /** Width, height, steps and T5 length: the options given, else the folder's defaults, else FLUX.1-dev's. */
    @Test
    void settingsComeFromTheOptionsThenTheModelFolderThenFluxDefaults() throws Exception {
        Path toy = toy("toy", "{\"resolution\": 16, \"t5_length\": 8, \"steps\": 1}");
        Path saved = tmp.resolve("a.safetensors");
        CliRun folder = generateWith(toy, "--out", tmp.resolve("a.png").toString(), "--save-latents", saved.toString());
        assertEquals(0, folder.exit(), folder.err());
        assertTrue(folder.out().startsWith("wrote " + tmp.resolve("a.png") + " (16x16, 1 steps, seed 0"), folder.out());
        assertEquals(16, Png.read(tmp.resolve("a.png")).width());
        assertEquals("8", metadata(saved, "t5_length"));
        assertEquals("16x16", metadata(saved, "size"));

        CliRun given = generateWith(toy, "--width", "32", "--height", "16", "--steps", "2", "--t5-length", "12",
                "--out", tmp.resolve("b.png").toString(), "--save-latents", saved.toString());
        assertEquals(0, given.exit(), given.err());
        assertTrue(given.out().startsWith("wrote " + tmp.resolve("b.png") + " (32x16, 2 steps, seed 0"), given.out());
        assertEquals("12", metadata(saved, "t5_length"));

        // a subset: what the folder leaves out is FLUX.1-dev's 28 steps and T5 length 512
        Path some = toy("some", "{\"resolution\": 16}");
        CliRun builtIn = generateWith(some, "--out", tmp.resolve("c.png").toString(), "--save-latents",
                saved.toString());
        assertEquals(0, builtIn.exit(), builtIn.err());
        assertTrue(builtIn.out().startsWith("wrote " + tmp.resolve("c.png") + " (16x16, 28 steps, seed 0"),
                builtIn.out());
        assertEquals("512", metadata(saved, "t5_length"));

        // no defaults at all: 512 x 512 (seen in the size the initial latents are checked against, before any work)
        Path none = toy("none", null);
        Path small = tmp.resolve("small.safetensors");
        SafetensorsWriter.write(small, Map.of("latents", Tensor.zeros(1, 16, 48)), Map.of());
        CliRun plain = generateWith(none, "--latents", small.toString(), "--out", tmp.resolve("d.png").toString());
        assertEquals(1, plain.exit());
        assertTrue(plain.err().contains("tensor latents: expected [1, 16384, 48] (packed latents of a 512x512 image)"),
                plain.err());
    }

    @Test
    void badFolderDefaultsAreOneLine() throws Exception {
        Path toy = toy("toy", "{\"steps\": \"many\"}");
        CliRun r = generateWith(toy, "--out", tmp.resolve("x.png").toString());
        assertEquals(1, r.exit());
        assertEquals("flux-erase: " + toy.resolve("model_index.json") + ": flux_erase_defaults.steps must be an integer"
                + " of at least 1, got \"many\"", r.err().strip());
    }

    /**
     * --batch-size samples consecutive rows of one prompt together: the same PNGs as one at a time, and the same resume
     * and index semantics.
     */
    @Test
    void batchSizeSamplesRowsOfOnePromptTogether() throws Exception {
        Path toy = toy("toy", "{\"resolution\": 16, \"t5_length\": 8, \"steps\": 2}");
        Path csv = Files.writeString(tmp.resolve("p.csv"), "prompt,seed,name\n"
                + "a red square,1,r1\na red square,2,r2\na red square,3,r3\na blue dot,4,b1\n");
        List<String> names = List.of("r1", "r2", "r3", "b1");
        String[] base = {"generate", "--model", toy.toString(), "--cache-dir", tmp.resolve("cache").toString(),
                "--batch", csv.toString(), "--out-dir"};
        Path single = tmp.resolve("single");
        assertEquals(0, CliRun.of(concat(base, single.toString())).exit());
        Path grouped = tmp.resolve("grouped");
        CliRun g = CliRun.of(concat(base, grouped.toString(), "--batch-size", "2"));
        assertEquals(0, g.exit(), g.err());
        assertTrue(g.out().startsWith("4 images written, 0 already there"), g.out());
        assertTrue(g.err().contains("[1/4] r1..r2 (2 images) step 2/2") && g.err().contains("[3/4] r3 step 2/2")
                && g.err().contains("[4/4] b1 step 2/2"), g.err());
        assertEquals(3, g.err().lines().filter(l -> l.contains("step 1/2")).count(), "three samplings: " + g.err());
        for (String n : names) {
            assertArrayEquals(Files.readAllBytes(single.resolve(n + ".png")), Files.readAllBytes(grouped.resolve(n
                    + ".png")), n);
        }
        Files.delete(grouped.resolve("r2.png"));
        Files.delete(grouped.resolve("b1.png"));
        CliRun resumed = CliRun.of(concat(base, grouped.toString(), "--batch-size", "4"));
        assertEquals(0, resumed.exit(), resumed.err());
        assertTrue(resumed.out().startsWith("2 images written, 2 already there"), resumed.out());
        assertTrue(resumed.err().contains("[2/4] r2 step") && resumed.err().contains("[4/4] b1 step"), resumed.err());
        for (String n : names) {
            assertArrayEquals(Files.readAllBytes(single.resolve(n + ".png")), Files.readAllBytes(grouped.resolve(n
                    + ".png")), n);
        }
        assertEquals(Files.readAllLines(single.resolve("index.csv")), Files.readAllLines(grouped.resolve("index.csv")));

        CliRun withPrompt = generateWith(toy, "--batch-size", "2", "--out", tmp.resolve("x.png").toString());
        assertEquals("flux-erase: --batch-size goes with --batch, not with a single --prompt", withPrompt.err().strip());
        CliRun zero = CliRun.of(concat(base, grouped.toString(), "--batch-size", "0"));
        assertEquals("flux-erase: --batch-size must be at least 1, got 0", zero.err().strip());
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
