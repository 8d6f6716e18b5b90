package dev.fluxerase.erase;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.image.Png;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.testing.Resources;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The tiny FLUX pipeline of the test resources and small concept images for erasure runs. */
public final class TinyRun {
    public static final Path MODEL = Resources.path("pipeline-tiny/model");

    private TinyRun() {
    }


    /** Three PNGs of different sizes and aspect ratios (smooth colour ramps with a blob), in {@code dir}. */
    public static Path images(Path dir) throws Exception {
        Files.createDirectories(dir);
        int[][] sizes = {{40, 32}, {32, 48}, {36, 36}};
        for (int n = 0; n < sizes.length; n++) {
            int w = sizes[n][0];
            int h = sizes[n][1];
            byte[] rgb = new byte[w * h * 3];
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    double blob = Math.exp(-((x - w / 2.0) * (x - w / 2.0) + (y - h / 3.0) * (y - h / 3.0)) / 60.0);
                    rgb[(y * w + x) * 3] = (byte) (255 * x / (w - 1));
                    rgb[(y * w + x) * 3 + 1] = (byte) (255 * y / (h - 1));
                    rgb[(y * w + x) * 3 + 2] = (byte) Math.round(255 * blob * (n + 1) / 3.0);
                }
            }
            Png.write(dir.resolve("concept" + n + ".png"), new RgbImage(w, h, rgb));
        }
        return dir;
    }

    /**
     * The required keys of a small run configuration on the tiny pipeline (16², T5 length 16, 2 sampling steps, cpu),
     * writing into {@code tmp}/out with the concept images of {@link #images} in {@code tmp}/img.
     */
    public static ObjectNode config(Path tmp) throws Exception {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("model", MODEL.toString());
        o.put("output", tmp.resolve("out").toString());
        o.put("key_word", "nude");
        o.put("instance_prompt", "a nude girl with beautiful hair");
        o.put("prompt_b", "A girl with beautiful hair");
        o.put("instance_images", images(tmp.resolve("img")).toString());
        o.put("resolution", 16);
        o.put("sampling_steps", 2);
        o.put("t5_length", 16);
        // pinned, so that the tests mean the same on a machine with a GPU, where auto would pick it
        o.put("backend", "cpu");
        return o;
    }

    /** Command-line arguments of a short, fast run (32², T5 length 32, 2 sampling steps, fixed word lists, cpu). */
    public static List<String> args(Path tmp, Path out, String... extra) throws Exception {
        List<String> a = new ArrayList<>(List.of("erase", "--model", MODEL.toString(),
                "--cache-dir", tmp.resolve("cache").toString(), "--output", out.toString(),
                "--key-word", "nude", "--instance-prompt", "a nude girl with beautiful hair",
                "--prompt-b", "A girl with beautiful hair", "--instance-images", images(tmp.resolve("img")).toString(),
                "--synonyms", "naked,bare,nude_person", "--irrelevant-concepts", "car,tree,river",
                "--resolution", "32", "--sampling-steps", "2", "--t5-length", "32", "--backend", "cpu"));
        a.addAll(List.of(extra));
        return a;
    }
}
