package dev.fluxerase.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;

/**
 * Builds a {@link T5Tokenizer} from a Hugging Face {@code tokenizer.json} (the components FLUX's T5 file uses:
 * Precompiled/Strip/Replace normalizers, Metaspace, Unigram, special added tokens, a TemplateProcessing post
 * processor), or from a SentencePiece {@code spiece.model} turned into the same pipeline that transformers' converter
 * writes into FLUX's {@code tokenizer.json}. Anything else is refused with a message naming the file.
 */
final class TokenizerJson {

    /** T5Tokenizer's default number of sentinel tokens {@code <extra_id_0>..<extra_id_99>}. */
    private static final int T5_EXTRA_IDS = 100;
    private static final char METASPACE = '\u2581';

    private TokenizerJson() {
    }

    static T5Tokenizer fromJson(byte[] bytes, String file) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(bytes);
        } catch (IOException e) {
            throw new TokenizerException(file + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""), e);
        }
        if (root == null || !root.isObject()) {
            throw new TokenizerException(file + ": expected a JSON object");
        }
        Unigram model = model(root.path("model"), file);
        List<UnaryOperator<SpannedText>> normalizers = new ArrayList<>();
        normalizers(root.path("normalizer"), file, normalizers);

        JsonNode pre = root.path("pre_tokenizer");
        if (!"Metaspace".equals(pre.path("type").asText())) {
            throw new TokenizerException(file + ": pre_tokenizer " + describe(pre) + " is not supported (Metaspace is)");
        }
        String replacement = pre.path("replacement").asText("");
        if (replacement.length() != 1) {
            throw new TokenizerException(file + ": Metaspace replacement '" + replacement + "' is not one char");
        }
        // tokenizers: prepend_scheme defaults to "always"; a legacy add_prefix_space=false forces "never".
        T5Tokenizer.Prepend prepend = switch (pre.path("prepend_scheme").asText("always")) {
            case "always" -> T5Tokenizer.Prepend.ALWAYS;
            case "first" -> T5Tokenizer.Prepend.FIRST;
            case "never" -> T5Tokenizer.Prepend.NEVER;
            default -> throw new TokenizerException(file + ": unknown Metaspace prepend_scheme "
                    + pre.path("prepend_scheme").asText());
        };
        if (!pre.path("add_prefix_space").asBoolean(true)) {
            prepend = T5Tokenizer.Prepend.NEVER;
        }
        boolean split = pre.path("split").asBoolean(true);

        Map<String, Integer> specials = new LinkedHashMap<>();
        for (JsonNode t : root.path("added_tokens")) {
            String content = t.path("content").asText();
            for (String flag : List.of("lstrip", "rstrip", "single_word", "normalized")) {
                if (t.path(flag).asBoolean(false)) {
                    throw new TokenizerException(file + ": added token " + content + " sets " + flag
                            + ", which is not supported");
                }
            }
            if (content.isEmpty() || !t.path("id").canConvertToInt()) {
                throw new TokenizerException(file + ": added token without content or id: " + t);
            }
            specials.put(content, t.path("id").intValue());
        }

        List<Integer> prefix = new ArrayList<>();
        List<Integer> suffix = new ArrayList<>();
        JsonNode post = root.path("post_processor");
        if (!post.isMissingNode() && !post.isNull()) {
            if (!"TemplateProcessing".equals(post.path("type").asText())) {
                throw new TokenizerException(file + ": post_processor " + describe(post)
                        + " is not supported (TemplateProcessing is)");
            }
            boolean seenSequence = false;
            for (JsonNode item : post.path("single")) {
                if (item.has("Sequence")) {
                    seenSequence = true;
                    continue;
                }
                String id = item.path("SpecialToken").path("id").asText();
                JsonNode ids = post.path("special_tokens").path(id).path("ids");
                if (!ids.isArray() || ids.isEmpty()) {
                    throw new TokenizerException(file + ": post_processor special token " + id + " has no ids");
                }
                for (JsonNode v : ids) {
                    (seenSequence ? suffix : prefix).add(v.intValue());
                }
            }
        }
        int pad = specials.getOrDefault("<pad>", model.id("<pad>"));
        if (pad < 0) {
            throw new TokenizerException(file + ": no <pad> token");
        }
        return new T5Tokenizer(model, normalizers, replacement.charAt(0), prepend, split, specials,
                ints(prefix), ints(suffix), pad, file);
    }

    private static Unigram model(JsonNode m, String file) {
        if (!"Unigram".equals(m.path("type").asText())) {
            throw new TokenizerException(file + ": model " + describe(m) + " is not supported (Unigram is)");
        }
        if (m.path("byte_fallback").asBoolean(false)) {
            throw new TokenizerException(file + ": Unigram byte_fallback is not supported");
        }
        if (!m.path("unk_id").canConvertToInt()) {
            throw new TokenizerException(file + ": Unigram model has no unk_id");
        }
        JsonNode vocab = m.path("vocab");
        String[] pieces = new String[vocab.size()];
        double[] scores = new double[vocab.size()];
        for (int i = 0; i < pieces.length; i++) {
            JsonNode e = vocab.get(i);
            if (!e.isArray() || e.size() != 2 || !e.get(0).isTextual() || !e.get(1).isNumber()) {
                throw new TokenizerException(file + ": vocab entry " + i + " is not [piece, score]");
            }
            pieces[i] = e.get(0).asText();
            scores[i] = e.get(1).doubleValue();
        }
        return new Unigram(pieces, scores, m.path("unk_id").intValue(), file);
    }

    private static void normalizers(JsonNode n, String file, List<UnaryOperator<SpannedText>> out) {
        if (n.isMissingNode() || n.isNull()) {
            return;
        }
        switch (n.path("type").asText()) {
            case "Sequence" -> n.path("normalizers").forEach(c -> normalizers(c, file, out));
            case "Precompiled" -> {
                String b64 = n.path("precompiled_charsmap").asText("");
                if (!b64.isEmpty()) {
                    out.add(new PrecompiledCharsmap(Base64.getDecoder().decode(b64), file)::normalize);
                }
            }
            case "Strip" -> {
                boolean left = n.path("strip_left").asBoolean(false);
                boolean right = n.path("strip_right").asBoolean(false);
                out.add(t -> t.strip(left, right));
            }
            case "Replace" -> {
                JsonNode p = n.path("pattern");
                Pattern pattern = p.has("Regex") ? Pattern.compile(p.get("Regex").asText())
                        : Pattern.compile(Pattern.quote(p.path("String").asText()));
                String content = n.path("content").asText();
                out.add(t -> t.replaceAll(pattern, content));
            }
            default -> throw new TokenizerException(file + ": normalizer " + describe(n) + " is not supported "
                    + "(Precompiled, Strip, Replace and Sequence are)");
        }
    }

    /**
     * spiece.model as transformers' T5 converter sees it (with FLUX's {@code legacy: false}): pieces, then
     * {@code <extra_id_99>..<extra_id_0>} at ids 32000..32099; the control and unknown pieces and the sentinels are
     * special tokens; Precompiled + Strip(right) + Replace(" {2,}", "▁"); Metaspace("▁", first); append {@code </s>}.
     */
    static T5Tokenizer fromSentencePiece(byte[] bytes, String file) {
        SentencePieceModel spm = SentencePieceModel.parse(bytes, file);
        if (spm.modelType() != SentencePieceModel.MODEL_UNIGRAM) {
            throw new TokenizerException(file + ": SentencePiece model type " + spm.modelType()
                    + " is not supported (Unigram is)");
        }
        if (spm.byteFallback()) {
            throw new TokenizerException(file + ": SentencePiece byte_fallback is not supported");
        }
        int n = spm.pieces().size();
        String[] pieces = new String[n + T5_EXTRA_IDS];
        double[] scores = new double[n + T5_EXTRA_IDS];
        Map<String, Integer> specials = new HashMap<>();
        int unk = -1;
        for (int i = 0; i < n; i++) {
            pieces[i] = spm.pieces().get(i);
            scores[i] = spm.scores()[i];
            int type = spm.types()[i];
            if (type == SentencePieceModel.TYPE_UNKNOWN && unk < 0) {
                unk = i;
            }
            if (type == SentencePieceModel.TYPE_UNKNOWN || type == SentencePieceModel.TYPE_CONTROL) {
                specials.put(pieces[i], i);
            }
        }
        if (unk < 0) {
            throw new TokenizerException(file + ": no piece of type UNKNOWN");
        }
        for (int k = 0; k < T5_EXTRA_IDS; k++) {
            pieces[n + k] = "<extra_id_" + (T5_EXTRA_IDS - 1 - k) + ">";
            specials.put(pieces[n + k], n + k);
        }
        Unigram model = new Unigram(pieces, scores, unk, file);
        List<UnaryOperator<SpannedText>> normalizers = new ArrayList<>();
        if (spm.precompiledCharsmap().length > 0) {
            normalizers.add(new PrecompiledCharsmap(spm.precompiledCharsmap(), file)::normalize);
        }
        normalizers.add(t -> t.strip(false, true));
        Pattern spaces = Pattern.compile(" {2,}");
        normalizers.add(t -> t.replaceAll(spaces, String.valueOf(METASPACE)));
        int eos = model.id("</s>");
        int pad = model.id("<pad>");
        if (eos < 0 || pad < 0) {
            throw new TokenizerException(file + ": no </s> or <pad> piece");
        }
        return new T5Tokenizer(model, normalizers, METASPACE, T5Tokenizer.Prepend.FIRST, true, specials,
                new int[0], new int[]{eos}, pad, file);
    }

    private static String describe(JsonNode n) {
        return n.isMissingNode() || n.isNull() ? "(none)" : n.path("type").asText("(no type)");
    }

    private static int[] ints(List<Integer> list) {
        return list.stream().mapToInt(Integer::intValue).toArray();
    }
}
