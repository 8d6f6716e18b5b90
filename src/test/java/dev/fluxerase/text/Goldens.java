package dev.fluxerase.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.testing.Resources;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The tokenizer goldens copied from shared/golden/tokenizers (see src/test/resources/tokenizers/README.md). */
final class Goldens {

    record Case(String name, String text, int[] ids, List<String> tokens, int[] paddedIds) {
        @Override
        public String toString() {
            return name;
        }
    }

    private Goldens() {
    }

    static Path resource(String name) {
        return Resources.path("tokenizers/" + name);
    }

    /**
     * The FLUX tokenizer files as a FLUX pipeline folder (tokenizer/, tokenizer_2/): the pipeline-tiny copy, which holds the
     * same real CLIP and T5 files, so the repository stores them once.
     */
    static Path fluxModelFolder() {
        return Resources.path("pipeline-tiny/model");
    }

    static JsonNode json(String name) {
        try (InputStream in = Goldens.class.getResourceAsStream("/tokenizers/" + name)) {
            return new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every case of a detail file with the primary variant's ids and tokens and the padded ids FLUX feeds. */
    static List<Case> cases(String detailFile, String idsField, String paddedFile) {
        JsonNode detail = json(detailFile);
        JsonNode padded = json(paddedFile);
        String primary = detail.get("primary_variant").asText();
        List<Case> out = new ArrayList<>();
        for (JsonNode c : detail.get("cases")) {
            JsonNode r = c.get("results").get(primary);
            List<String> tokens = new ArrayList<>();
            r.get("tokens").forEach(t -> tokens.add(t.asText()));
            String text = c.get("text").asText();
            out.add(new Case(c.get("name").asText(), text, ints(r.get(idsField)), tokens, ints(padded.get(text))));
        }
        return out;
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).intValue();
        }
        return out;
    }
}
