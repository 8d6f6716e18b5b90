package dev.fluxerase.toy;

import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.io.AtomicFiles;
import dev.fluxerase.safetensors.SafetensorsWriter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The text half of the toy FLUX world: writes {@code tokenizer/}, {@code tokenizer_2/}, {@code text_encoder/} and
 * {@code text_encoder_2/} of a diffusers-layout model folder, which the pipeline then reads exactly as it reads
 * FLUX.1-dev's. The vocabularies are built from a word list (lower-case ASCII letters) and the weights are random,
 * frozen, and drawn from {@code java.util.Random(seed)}: the same arguments give the same bytes.
 *
 * <p>Tokenizers. CLIP: openai's byte-level BPE layout (vocab.json + merges.txt) with only the 256 byte symbols, their
 * {@code </w>} forms, the merges that make every word one token, and the two specials as the largest ids (so the legacy
 * argmax pooling and the eos_token_id rule pick the same position), so any text tokenizes. T5: a Unigram
 * tokenizer.json with {@code <pad>} 0, {@code </s>} 1, {@code <unk>} 2, {@code ▁word} for every word (score -1), then
 * {@code ▁} (-2) and the 94 printable ASCII characters (-3), so a listed word is one piece and any ASCII text
 * tokenizes; no precompiled charsmap, so other characters become {@code <unk>}.
 *
 * <p>Initialisation (N(0, σ), σ the standard deviation), and why. FLUX gives text tokens no positions (txt_ids are 0),
 * so it sees the T5 states as a set: each state must name its own word, and word order must show up inside the states.
 * T5: embeddings N(0, 1), nearly orthogonal rows, which dominate the residual stream because every Linear is small
 * (at d_model 32: q, k, wi_0, wi_1, wo N(0, 0.05); v, o N(0, 0.08); at other widths these stds are scaled by
 * √(32/d_model), since with fixed stds each Linear's output grows with √fan_in: at d_model 64 "circle" then kept only
 * 0.88 cosine with itself after "red", and "circle" and "square" states had cosine 0.20; scaled, 0.965 and −0.001, seed
 * 7). The relative attention bias is not drawn but fixed at +6 for offset −1 in head 0 and +1 in head 1, 0 elsewhere:
 * each position takes in some of its neighbours, so "red circle on
 * blue" and "blue circle on red" differ at every word (with a drawn bias they were nearly the same set).
 *
 * <p>CLIP matters only through the pooled output, the final state at the first end token, whose own embedding is the
 * same in every prompt; so the embeddings are small (tokens N(0, 0.1), positions N(0, 0.01)) next to what attention
 * brings in (v_proj, out_proj, fc1 N(0, 1/√fan_in)). q_proj, k_proj and fc2 are N(0, 0.1/√fan_in): attention is then
 * close to a causal average, and the MLP, whose quick_gelu has a positive mean, adds little of the one vector it would
 * add to every prompt; with unit gain there, how alike the pooled vectors were varied widely from seed to seed. A
 * pooled vector stays mostly the part prompts share (start and end token, "a"): "a circle" vs "a square" have cosine
 * about 0.9, and what tells them apart is the rest.
 *
 * <p>Norm scales are 1 and biases 0, and both models end in a norm (LayerNorm, RMS norm), so outputs are O(1): every
 * T5 state and the pooled vector have norm about √width.
 *
 * <p>Draw order: one generator for everything; CLIP's tensors, then T5's, each in the order of its
 * {@code model.safetensors} (see {@link ToyTextWeights}).
 */
public final class ToyText {

    /** Widths of the two toy encoders; both have 2 layers of 2 heads. */
    public record Sizes(int clipHidden, int clipIntermediate, int t5Model, int t5Kv, int t5Ff) {
        public static final Sizes DEFAULT = new Sizes(64, 128, 64, 32, 128);

        public Sizes {
            if (clipHidden <= 0 || clipIntermediate <= 0 || t5Model <= 0 || t5Kv <= 0 || t5Ff <= 0
                    || clipHidden % HEADS != 0) {
                throw new IllegalArgumentException("toy text sizes must be positive with clipHidden a multiple of "
                        + HEADS + ", got " + this);
            }
        }
    }

    static final int LAYERS = 2;
    static final int HEADS = 2;
    static final int CLIP_POSITIONS = 77;
    static final int T5_BUCKETS = 32;
    static final int T5_MAX_DISTANCE = 128;
    static final double CLIP_TOKEN_STD = 0.1;
    static final double CLIP_POSITION_STD = 0.01;
    /** CLIP's q_proj, k_proj and fc2 are drawn with std CLIP_SMALL_GAIN/√fan_in, the other Linears with 1/√fan_in. */
    static final double CLIP_SMALL_GAIN = 0.1;
    static final double T5_TOKEN_STD = 1;
    /** T5's Linear stds below are for this d_model and scale with 1/√d_model, so the context's share does not. */
    static final int T5_REFERENCE_WIDTH = 32;
    static final double T5_LAYER_STD = 0.05;
    static final double T5_VALUE_STD = 0.08;
    static final float T5_NEIGHBOUR_BIAS = 6;
    static final double T5_WORD_SCORE = -1;
    static final double T5_METASPACE_SCORE = -2;
    static final double T5_CHAR_SCORE = -3;

    private static final Pattern WORD = Pattern.compile("[a-z]+");
    private static final String METASPACE = "\u2581";
    /** {@code <pad>}, {@code </s>}, {@code <unk>}: ids 0, 1, 2 as in T5. */
    private static final List<String> T5_SPECIALS = List.of("<pad>", "</s>", "<unk>");
    private static final ObjectWriter JSON = new ObjectMapper().writer(new DefaultPrettyPrinter(
            Separators.createDefaultInstance().withObjectFieldValueSpacing(Separators.Spacing.AFTER)
                    .withObjectEmptySeparator("").withArrayEmptySeparator(""))
            .withObjectIndenter(new DefaultIndenter("  ", "\n")).withArrayIndenter(new DefaultIndenter("  ", "\n")));

    private ToyText() {
    }

    /** {@link #write(Path, List, int, long, Sizes)} with {@link Sizes#DEFAULT}. */
    public static void write(Path modelFolder, List<String> words, int t5Length, long seed) {
        write(modelFolder, words, t5Length, seed, Sizes.DEFAULT);
    }

    /**
     * Writes the four text folders under {@code modelFolder} (created if needed; files of the same name are replaced,
     * each atomically). {@code words}: distinct lower-case ASCII words; {@code t5Length}: the T5 sequence length the
     * pipeline will use, recorded as tokenizer_2's model_max_length.
     */
    public static void write(Path modelFolder, List<String> words, int t5Length, long seed, Sizes sizes) {
        Set<String> seen = new HashSet<>();
        for (String w : words) {
            if (!WORD.matcher(w).matches()) {
                throw new IllegalArgumentException("toy word \"" + w + "\" is not lower-case ASCII letters a-z");
            }
            if (!seen.add(w)) {
                throw new IllegalArgumentException("toy word \"" + w + "\" is listed twice");
            }
        }
        if (t5Length < 2) {
            throw new IllegalArgumentException("toy T5 length must be at least 2 (content plus </s>), got " + t5Length);
        }
        ToyTextBpe.Vocab clip = ToyTextBpe.build(words);
        List<Piece> t5 = t5Pieces(words);
        Random random = new Random(seed);

        Path tokenizer = folder(modelFolder, "tokenizer");
        writeJson(tokenizer.resolve("vocab.json"), clipVocab(clip));
        StringBuilder merges = new StringBuilder("#version: 0.2\n");
        clip.merges().forEach(m -> merges.append(m).append('\n'));
        AtomicFiles.writeText(tokenizer.resolve("merges.txt"), merges.toString());
        writeJson(tokenizer.resolve("tokenizer_config.json"), clipTokenizerConfig(clip));
        writeJson(tokenizer.resolve("special_tokens_map.json"), clipSpecialTokens());

        Path tokenizer2 = folder(modelFolder, "tokenizer_2");
        writeJson(tokenizer2.resolve("tokenizer.json"), t5TokenizerJson(t5));
        writeJson(tokenizer2.resolve("tokenizer_config.json"), t5TokenizerConfig(t5Length));
        writeJson(tokenizer2.resolve("special_tokens_map.json"), t5SpecialTokens());

        Path textEncoder = folder(modelFolder, "text_encoder");
        writeJson(textEncoder.resolve("config.json"), clipConfig(clip, sizes));
        SafetensorsWriter.write(textEncoder.resolve("model.safetensors"),
                ToyTextWeights.clip(random, clip.tokens().size(), sizes), Map.of("format", "pt"));

        Path textEncoder2 = folder(modelFolder, "text_encoder_2");
        writeJson(textEncoder2.resolve("config.json"), t5Config(t5.size(), sizes));
        SafetensorsWriter.write(textEncoder2.resolve("model.safetensors"),
                ToyTextWeights.t5(random, t5.size(), sizes), Map.of("format", "pt"));
    }

    private record Piece(String text, double score) {
    }

    /** The T5 pieces in id order: the three specials, the words, then ▁ and the printable ASCII characters. */
    private static List<Piece> t5Pieces(List<String> words) {
        List<Piece> pieces = new ArrayList<>();
        T5_SPECIALS.forEach(t -> pieces.add(new Piece(t, 0)));
        words.forEach(w -> pieces.add(new Piece(METASPACE + w, T5_WORD_SCORE)));
        pieces.add(new Piece(METASPACE, T5_METASPACE_SCORE));
        for (char c = '!'; c <= '~'; c++) {
            pieces.add(new Piece(String.valueOf(c), T5_CHAR_SCORE));
        }
        return pieces;
    }

    /** transformers writes vocab.json with sorted keys (UTF-16 order equals Python's here: every symbol is in the BMP). */
    private static ObjectNode clipVocab(ToyTextBpe.Vocab clip) {
        TreeMap<String, Integer> sorted = new TreeMap<>();
        for (int id = 0; id < clip.tokens().size(); id++) {
            sorted.put(clip.tokens().get(id), id);
        }
        ObjectNode o = object();
        sorted.forEach(o::put);
        return o;
    }

    private static ObjectNode clipTokenizerConfig(ToyTextBpe.Vocab clip) {
        ObjectNode o = object();
        o.put("add_prefix_space", false);
        ObjectNode added = o.putObject("added_tokens_decoder");
        added.set(String.valueOf(clip.bosId()), addedToken(ToyTextBpe.START_OF_TEXT, true).put("special", true));
        added.set(String.valueOf(clip.eosId()), addedToken(ToyTextBpe.END_OF_TEXT, false).put("special", true));
        o.put("bos_token", ToyTextBpe.START_OF_TEXT);
        o.put("clean_up_tokenization_spaces", true);
        o.put("do_lower_case", true);
        o.put("eos_token", ToyTextBpe.END_OF_TEXT);
        o.put("errors", "replace");
        o.put("model_max_length", CLIP_POSITIONS);
        o.put("pad_token", ToyTextBpe.END_OF_TEXT);
        o.put("tokenizer_class", "CLIPTokenizer");
        o.put("unk_token", ToyTextBpe.END_OF_TEXT);
        return o;
    }

    private static ObjectNode clipSpecialTokens() {
        ObjectNode o = object();
        o.set("bos_token", addedToken(ToyTextBpe.START_OF_TEXT, true));
        for (String key : new String[]{"eos_token", "pad_token", "unk_token"}) {
            o.set(key, addedToken(ToyTextBpe.END_OF_TEXT, false));
        }
        return o;
    }

    /**
     * FLUX's tokenizer.json pipeline without the Precompiled normalizer: its nmt_nfkc charsmap is 237 kB, more than the
     * whole toy folder, and only rewrites non-ASCII and control characters (here a tab or newline is {@code <unk>}, not ▁).
     */
    private static ObjectNode t5TokenizerJson(List<Piece> pieces) {
        ObjectNode o = object();
        o.put("version", "1.0");
        o.putNull("truncation");
        o.putNull("padding");
        ArrayNode added = o.putArray("added_tokens");
        for (int id = 0; id < T5_SPECIALS.size(); id++) {
            ObjectNode t = added.addObject().put("id", id).put("content", T5_SPECIALS.get(id));
            t.put("single_word", false).put("lstrip", false).put("rstrip", false).put("normalized", false)
                    .put("special", true);
        }
        ObjectNode normalizer = o.putObject("normalizer").put("type", "Sequence");
        ArrayNode normalizers = normalizer.putArray("normalizers");
        normalizers.addObject().put("type", "Strip").put("strip_left", false).put("strip_right", true);
        ObjectNode replace = normalizers.addObject().put("type", "Replace");
        replace.putObject("pattern").put("Regex", " {2,}");
        replace.put("content", METASPACE);
        o.set("pre_tokenizer", metaspace("first"));
        ObjectNode post = o.putObject("post_processor").put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        single.addObject().putObject("SpecialToken").put("id", "</s>").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        for (String seq : new String[]{"A", "B"}) {
            pair.addObject().putObject("Sequence").put("id", seq).put("type_id", 0);
            pair.addObject().putObject("SpecialToken").put("id", "</s>").put("type_id", 0);
        }
        ObjectNode eos = post.putObject("special_tokens").putObject("</s>").put("id", "</s>");
        eos.putArray("ids").add(1);
        eos.putArray("tokens").add("</s>");
        o.set("decoder", metaspace("always"));
        ObjectNode model = o.putObject("model").put("type", "Unigram").put("unk_id", 2);
        ArrayNode vocab = model.putArray("vocab");
        pieces.forEach(p -> vocab.addArray().add(p.text()).add(p.score()));
        model.put("byte_fallback", false);
        return o;
    }

    private static ObjectNode metaspace(String prepend) {
        return object().put("type", "Metaspace").put("replacement", METASPACE).put("add_prefix_space", true)
                .put("prepend_scheme", prepend);
    }

    private static ObjectNode t5TokenizerConfig(int t5Length) {
        ObjectNode o = object();
        ObjectNode added = o.putObject("added_tokens_decoder");
        for (int id = 0; id < T5_SPECIALS.size(); id++) {
            added.set(String.valueOf(id), addedToken(T5_SPECIALS.get(id), false).put("special", true));
        }
        o.putArray("additional_special_tokens");
        o.put("clean_up_tokenization_spaces", true);
        o.put("eos_token", "</s>");
        o.put("extra_ids", 0);
        o.put("legacy", false);
        o.put("model_max_length", t5Length);
        o.put("pad_token", "<pad>");
        o.putObject("sp_model_kwargs");
        o.put("tokenizer_class", "T5Tokenizer");
        o.put("unk_token", "<unk>");
        return o;
    }

    private static ObjectNode t5SpecialTokens() {
        ObjectNode o = object();
        o.set("eos_token", addedToken("</s>", false));
        o.set("pad_token", addedToken("<pad>", false));
        o.set("unk_token", addedToken("<unk>", false));
        return o;
    }

    private static ObjectNode addedToken(String content, boolean normalized) {
        return object().put("content", content).put("lstrip", false).put("normalized", normalized)
                .put("rstrip", false).put("single_word", false);
    }

    private static ObjectNode clipConfig(ToyTextBpe.Vocab clip, Sizes s) {
        ObjectNode o = object();
        o.putArray("architectures").add("CLIPTextModel");
        o.put("attention_dropout", 0.0);
        o.put("bos_token_id", clip.bosId());
        o.put("dropout", 0.0);
        o.put("dtype", "bfloat16");
        o.put("eos_token_id", clip.eosId());
        o.put("hidden_act", "quick_gelu");
        o.put("hidden_size", s.clipHidden());
        o.put("initializer_factor", 1.0);
        o.put("initializer_range", 0.02);
        o.put("intermediate_size", s.clipIntermediate());
        o.put("layer_norm_eps", 1e-5);
        o.put("max_position_embeddings", CLIP_POSITIONS);
        o.put("model_type", "clip_text_model");
        o.put("num_attention_heads", HEADS);
        o.put("num_hidden_layers", LAYERS);
        o.put("pad_token_id", clip.eosId());
        o.put("projection_dim", s.clipHidden());
        o.put("vocab_size", clip.tokens().size());
        return o;
    }

    private static ObjectNode t5Config(int vocab, Sizes s) {
        ObjectNode o = object();
        o.putArray("architectures").add("T5EncoderModel");
        o.put("classifier_dropout", 0.0);
        o.put("d_ff", s.t5Ff());
        o.put("d_kv", s.t5Kv());
        o.put("d_model", s.t5Model());
        o.put("decoder_start_token_id", 0);
        o.put("dense_act_fn", "gelu_new");
        o.put("dropout_rate", 0.1);
        o.put("dtype", "bfloat16");
        o.put("eos_token_id", 1);
        o.put("feed_forward_proj", "gated-gelu");
        o.put("initializer_factor", 1.0);
        o.put("is_encoder_decoder", false);
        o.put("is_gated_act", true);
        o.put("layer_norm_epsilon", 1e-6);
        o.put("model_type", "t5");
        o.put("num_decoder_layers", LAYERS);
        o.put("num_heads", HEADS);
        o.put("num_layers", LAYERS);
        o.put("pad_token_id", 0);
        o.put("relative_attention_max_distance", T5_MAX_DISTANCE);
        o.put("relative_attention_num_buckets", T5_BUCKETS);
        o.put("tie_word_embeddings", false);
        o.put("use_cache", false);
        o.put("vocab_size", vocab);
        return o;
    }

    private static ObjectNode object() {
        return JsonNodeFactory.instance.objectNode();
    }

    private static Path folder(Path modelFolder, String name) {
        Path dir = modelFolder.resolve(name);
        try {
            return Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot create folder: " + e.getMessage(), e);
        }
    }

    /** Two-space indent and ": " as Python's json.dumps(indent=2) and tokenizers' pretty printer write. */
    private static void writeJson(Path file, ObjectNode o) {
        try {
            AtomicFiles.writeText(file, JSON.writeValueAsString(o) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot encode JSON: " + e.getMessage(), e);
        }
    }
}
