import dev.fluxerase.safetensors.SafetensorsFile;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Copies the text-encoder goldens the tests use from the shared golden folder into src/test/resources/text-encoders,
 * keeping only the tensors the tests assert. Run from the repository root:
 *
 * <pre>
 * mvn -q -B compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp target/classes:$(cat target/cp.txt) \
 *     tools/TextEncoderGoldens.java /work/shared/golden src/test/resources/text-encoders
 * </pre>
 *
 * The pipeline's T5 checkpoint is 2.1 MB, almost all of it the full-vocabulary shared.weight; only the rows of the ids the
 * cases use are kept (shared.rows, shared.ids), and the test rebuilds the full-vocabulary BF16 file from them.
 */
public final class TextEncoderGoldens {
    private static final String[] CASES = {"cat_32_s4", "nude_girl_64_s4_msl512", "punct_32_s28"};

    public static void main(String[] args) throws IOException {
        Path golden = Path.of(args[0]);
        Path out = Path.of(args[1]);
        Path tiny = golden.resolve("text-vae-tiny");
        Path pipe = golden.resolve("pipeline-tiny");

        copyModel(tiny.resolve("clip_text_tiny"), "weights.safetensors", out.resolve("clip-tiny"));
        trim(tiny.resolve("clip_text_tiny"), out.resolve("clip-tiny-golden.safetensors"),
                List.of("input_ids"), List.of("last_hidden_state_f32", "last_hidden_state_f64", "pooler_output_f32",
                        "pooler_output_f64", "pooled_index"));
        copyModel(tiny.resolve("t5_encoder_tiny"), "weights.safetensors", out.resolve("t5-tiny"));
        trim(tiny.resolve("t5_encoder_tiny"), out.resolve("t5-tiny-golden.safetensors"),
                List.of("input_ids", "input_ids_long"), List.of("last_hidden_state_f32", "last_hidden_state_f64",
                        "last_hidden_state_long_f32", "last_hidden_state_long_f64", "position_bias_12_f64",
                        "relative_position_bucket_table"));

        // The pipeline CLIP folder is not copied here: tests read src/test/resources/pipeline-tiny/model/text_encoder.
        Map<String, Tensor> cases = new LinkedHashMap<>();
        List<SafetensorsFile> open = new ArrayList<>();
        TreeSet<Long> t5Ids = new TreeSet<>();
        for (String c : CASES) {
            SafetensorsFile f32 = SafetensorsFile.open(pipe.resolve("cases/" + c + "/outputs_f32.safetensors"));
            SafetensorsFile f64 = SafetensorsFile.open(pipe.resolve("cases/" + c + "/outputs_f64.safetensors"));
            open.add(f32);
            open.add(f64);
            for (String name : List.of("clip_input_ids", "t5_input_ids", "clip_last_hidden_state",
                    "pooled_prompt_embeds", "prompt_embeds")) {
                cases.put(c + "/" + name, f32.tensor(name));
            }
            cases.put(c + "/pooled_prompt_embeds_f64", f64.tensor("pooled_prompt_embeds"));
            if (f64.info("prompt_embeds").dim(1) <= 64) {
                // the msl-512 case's F64 embeddings would be 131 kB; its F32 ones are kept
                cases.put(c + "/prompt_embeds_f64", f64.tensor("prompt_embeds"));
            }
            Tensor ids = f32.tensor("t5_input_ids");
            for (long i = 0; i < ids.numel(); i++) {
                t5Ids.add(ids.data().getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i));
            }
        }
        SafetensorsWriter.write(out.resolve("pipeline-cases.safetensors"), cases, Map.of("source",
                "pipeline-tiny/cases/*/outputs_f32 and outputs_f64, text-encoder tensors only"));
        open.forEach(SafetensorsFile::close);

        Path t5Out = out.resolve("pipeline-t5");
        Files.createDirectories(t5Out);
        Files.copy(pipe.resolve("model/text_encoder_2/config.json"), t5Out.resolve("config.json"),
                StandardCopyOption.REPLACE_EXISTING);
        try (SafetensorsFile t5 = SafetensorsFile.open(pipe.resolve("model/text_encoder_2/model.safetensors"))) {
            Map<String, Tensor> kept = new LinkedHashMap<>();
            for (String name : t5.names()) {
                if (!name.equals("shared.weight")) {
                    kept.put(name, t5.tensor(name));
                }
            }
            Tensor shared = t5.tensor("shared.weight");
            long d = shared.dim(1);
            long rowBytes = d * shared.dtype().byteSize();
            MemorySegment rows = MemorySegment.ofArray(new byte[(int) (t5Ids.size() * rowBytes)]);
            long[] idValues = new long[t5Ids.size()];
            int r = 0;
            for (long id : t5Ids) {
                MemorySegment.copy(shared.data(), id * rowBytes, rows, r * rowBytes, rowBytes);
                idValues[r++] = id;
            }
            kept.put("shared.rows", Tensor.wrap(shared.dtype(), rows, idValues.length, d));
            kept.put("shared.ids", Tensor.wrap(DType.I64, MemorySegment.ofArray(idValues), idValues.length));
            SafetensorsWriter.write(t5Out.resolve("trimmed.safetensors"), kept, Map.of("source",
                    "pipeline-tiny/model/text_encoder_2/model.safetensors; shared.weight rows of the case ids only"));
        }
    }

    private static void copyModel(Path from, String weights, Path to) throws IOException {
        Files.createDirectories(to);
        Files.copy(from.resolve("config.json"), to.resolve("config.json"), StandardCopyOption.REPLACE_EXISTING);
        Files.copy(from.resolve(weights), to.resolve("model.safetensors"), StandardCopyOption.REPLACE_EXISTING);
    }

    private static void trim(Path folder, Path out, List<String> inputs, List<String> outputs) {
        try (SafetensorsFile in = SafetensorsFile.open(folder.resolve("inputs.safetensors"));
             SafetensorsFile res = SafetensorsFile.open(folder.resolve("outputs.safetensors"))) {
            Map<String, Tensor> kept = new LinkedHashMap<>();
            inputs.forEach(n -> kept.put(n, in.tensor(n)));
            outputs.forEach(n -> kept.put(n, res.tensor(n)));
            SafetensorsWriter.write(out, kept, Map.of("source", "text-vae-tiny/" + folder.getFileName()
                    + "/inputs and outputs, asserted tensors only"));
        }
    }
}
