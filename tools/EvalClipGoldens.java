import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.image.Png;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.safetensors.SafetensorsFile;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Copies the CLIP-score goldens of shared/golden/eval-tiny into src/test/resources/eval-tiny/clip-score in their
 * smallest exact form (see the README there). Run from the repository root:
 *
 * <pre>
 * mvn -q -B compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp target/classes:$(cat target/cp.txt) \
 *     tools/EvalClipGoldens.java /work/shared/golden/eval-tiny src/test/resources/eval-tiny/clip-score
 * </pre>
 */
public final class EvalClipGoldens {
    private static final String TOKEN_EMBEDDING = "text_model.embeddings.token_embedding.weight";
    private static final double[] MEAN = {0.48145466, 0.4578275, 0.40821073};
    private static final double[] STD = {0.26862954, 0.26130258, 0.27577711};
    private static final List<String> SCORE_TENSORS = List.of("input_ids", "input_ids_max77", "pooled_index",
            "vision_last_hidden_state", "vision_pooled", "image_embeds", "text_pooled", "text_embeds",
            "text_embeds_max77", "cosine", "clip_score_per_pair", "clip_score_per_pair_max77",
            "clip_score_torchmetrics", "logit_scale", "logits_per_image");

    public static void main(String[] args) throws IOException {
        Path golden = Path.of(args[0]);
        Path out = Path.of(args[1]);
        Path clip = out.resolve("clip");
        Path images = out.resolve("images");
        Files.createDirectories(clip);
        Files.createDirectories(images);
        for (String f : List.of("config.json", "preprocessor_config.json", "preprocessor_224.json")) {
            Files.copy(golden.resolve("clip").resolve(f), clip.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        }

        TreeSet<Long> ids = new TreeSet<>();
        try (SafetensorsFile scores = SafetensorsFile.open(golden.resolve("clip_score/clip_score.safetensors"))) {
            Map<String, Tensor> kept = new LinkedHashMap<>();
            for (String name : SCORE_TENSORS) {
                kept.put(name, scores.tensor(name));
            }
            for (String name : List.of("input_ids", "input_ids_max77")) {
                Tensor t = scores.tensor(name);
                for (long i = 0; i < t.numel(); i++) {
                    ids.add(t.data().getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i));
                }
            }
            SafetensorsWriter.write(out.resolve("clip_score.safetensors"), kept, Map.of("source",
                    "eval-tiny/clip_score/clip_score.safetensors, asserted tensors only"));
        }
        JsonNode cases = new ObjectMapper().readTree(golden.resolve("clip_score/cases.json").toFile());
        new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(out.resolve("prompts.json").toFile(),
                cases.get("prompts"));

        try (SafetensorsFile model = SafetensorsFile.open(golden.resolve("clip/model.safetensors"))) {
            Map<String, Tensor> kept = new LinkedHashMap<>();
            for (String name : model.names()) {
                if (!name.equals(TOKEN_EMBEDDING)) {
                    kept.put(name, model.tensor(name));
                }
            }
            Tensor table = model.tensor(TOKEN_EMBEDDING);
            long rowBytes = table.dim(1) * table.dtype().byteSize();
            MemorySegment rows = MemorySegment.ofArray(new byte[(int) (ids.size() * rowBytes)]);
            long[] idValues = ids.stream().mapToLong(Long::longValue).toArray();
            for (int r = 0; r < idValues.length; r++) {
                MemorySegment.copy(table.data(), idValues[r] * rowBytes, rows, r * rowBytes, rowBytes);
            }
            kept.put("token_embedding.rows", Tensor.wrap(table.dtype(), rows, idValues.length, table.dim(1)));
            kept.put("token_embedding.ids", Tensor.wrap(DType.I64, MemorySegment.ofArray(idValues), idValues.length));
            SafetensorsWriter.write(clip.resolve("trimmed.safetensors"), kept, Map.of("source",
                    "eval-tiny/clip/model.safetensors; token_embedding rows of the golden prompts' ids only"));
        }

        try (SafetensorsFile pre = SafetensorsFile.open(golden.resolve("images/preprocess.safetensors"))) {
            Map<String, Tensor> px32 = new LinkedHashMap<>();
            for (int k = 0; k < 4; k++) {
                String img = "img" + k;
                px32.put(img + ".pixel_values_32", pre.tensor(img + ".pixel_values_32"));
                Png.write(images.resolve(img + "_crop224.png"), crop(pre.tensor(img + ".pixel_values_224"), img));
            }
            SafetensorsWriter.write(images.resolve("pixel_values_32.safetensors"), px32, Map.of("source",
                    "eval-tiny/images/preprocess.safetensors, the PIL processor at 32 px"));
        }
        try (var pngs = Files.list(golden.resolve("images"))) {
            for (Path p : pngs.filter(p -> p.getFileName().toString().matches("img\\d_.*\\.png")).toList()) {
                Files.copy(p, images.resolve(p.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    /**
     * The uint8 crop behind pixel values [1, 3, S, S]: round((p·std + mean)·255), checked to give back every stored
     * float bit for bit through the processor's rescale and normalise.
     */
    private static RgbImage crop(Tensor pixels, String what) {
        int s = (int) pixels.dim(3);
        int plane = s * s;
        float[] p = Floats.toF32(pixels);
        byte[] rgb = new byte[3 * plane];
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < plane; i++) {
                long u8 = Math.round((p[c * plane + i] * STD[c] + MEAN[c]) * 255);
                float back = ((float) (u8 * (1 / 255.0)) - (float) MEAN[c]) / (float) STD[c];
                if (u8 < 0 || u8 > 255 || Float.floatToRawIntBits(back) != Float.floatToRawIntBits(p[c * plane + i])) {
                    throw new IllegalStateException(what + ": value " + p[c * plane + i] + " at channel " + c
                            + ", pixel " + i + " is not an exact uint8 crop value");
                }
                rgb[i * 3 + c] = (byte) u8;
            }
        }
        return new RgbImage(s, s, rgb);
    }
}
