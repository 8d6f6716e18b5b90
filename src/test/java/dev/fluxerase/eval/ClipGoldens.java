package dev.fluxerase.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.image.Png;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.EmbeddingRows;
import dev.fluxerase.testing.Resources;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CLIP goldens under src/test/resources/eval-tiny/clip-score (see the README there) and the tolerance check. */
public final class ClipGoldens {
    static final String[] IMAGES = {"img0_64x64.png", "img1_80x48.png", "img2_37x91.png", "img3_256x256.png"};
    private static final String TOKEN_EMBEDDING = "text_model.embeddings.token_embedding.weight";

    private ClipGoldens() {
    }

    static Path resource(String relative) {
        return Resources.path("eval-tiny/clip-score/" + relative);
    }

    static RgbImage image(int k) {
        return Png.read(resource("images/" + IMAGES[k]));
    }

    static List<RgbImage> images() {
        return Arrays.stream(IMAGES).map(f -> Png.read(resource("images/" + f))).toList();
    }

    static List<String> prompts() {
        try {
            return Arrays.asList(new ObjectMapper().readValue(resource("prompts.json").toFile(), String[].class));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The tiny CLIPModel folder as transformers saved it, rebuilt in {@code dir}: the token embedding is the full
     * [49408, 32] table with the golden ids' rows and zeros elsewhere, every other tensor byte for byte the original
     * ({@code convert} may change each tensor's dtype); the tokenizer files are the pipeline's copies of that vocab.
     */
    public static Path folder(Path dir, UnaryOperator<Tensor> convert) {
        try (TensorSource trimmed = Safetensors.open(resource("clip/trimmed.safetensors"))) {
            Tensor rows = trimmed.tensor("token_embedding.rows");
            long[] ids = trimmed.tensor("token_embedding.ids").data().toArray(ValueLayout.JAVA_LONG_UNALIGNED);
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put(TOKEN_EMBEDDING, convert.apply(EmbeddingRows.table(rows, ids, 49408)));
            for (String name : trimmed.names()) {
                if (!name.startsWith("token_embedding.")) {
                    tensors.put(name, convert.apply(trimmed.tensor(name)));
                }
            }
            Files.createDirectories(dir);
            SafetensorsWriter.write(dir.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
            Files.copy(resource("clip/config.json"), dir.resolve("config.json"));
            Files.copy(resource("clip/preprocessor_config.json"), dir.resolve("preprocessor_config.json"));
            for (String f : List.of("vocab.json.gz", "merges.txt.gz")) {
                Files.copy(Resources.path("pipeline-tiny/model/tokenizer/" + f), dir.resolve(f));
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Tensor toF32(Tensor t) {
        return Tensor.of(Floats.toF32(t), t.shape());
    }

    static int[] ints(Tensor t) {
        return Arrays.stream(t.data().toArray(ValueLayout.JAVA_LONG_UNALIGNED)).mapToInt(Math::toIntExact).toArray();
    }

    /** |ours − ref| ≤ abs + rel·|ref| everywhere (the README's check for hidden states and embeddings). */
    static void assertClose(String what, float[] ours, float[] ref, double abs, double rel) {
        assertTrue(ours.length == ref.length, what + ": " + ours.length + " values, expected " + ref.length);
        double worst = 0;
        for (int i = 0; i < ref.length; i++) {
            double excess = Math.abs(ours[i] - ref[i]) - (abs + rel * Math.abs(ref[i]));
            assertTrue(excess <= 0, what + "[" + i + "]: " + ours[i] + " vs " + ref[i]);
            worst = Math.max(worst, Math.abs(ours[i] - ref[i]));
        }
        System.out.printf("%s: max abs diff %.2e%n", what, worst);
    }
}
