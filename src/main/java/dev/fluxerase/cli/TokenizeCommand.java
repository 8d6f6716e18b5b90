package dev.fluxerase.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.text.ClipTokenizer;
import dev.fluxerase.text.T5Tokenizer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code flux-erase tokenize}: the ids FLUX feeds its text encoders for a prompt, position by position. */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = {"Show the padded token ids FLUX feeds CLIP (77) and T5 (512 by default) for a prompt.",
                "--model is a diffusers FLUX folder (tokenizer/ and tokenizer_2/) or a folder holding the tokenizer "
                        + "files themselves (vocab.json + merges.txt; tokenizer.json[.gz] or spiece.model).",
                "With --json: one object {\"encoder\", \"length\", \"ids\", \"tokens\"[, \"keyword_positions\"]} "
                        + "for one encoder, a JSON array [clip, t5] of such objects for both."})
public final class TokenizeCommand implements Callable<Integer> {

    enum Encoder { clip, t5 }

    private static final ObjectMapper JSON = new ObjectMapper();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "FLUX or tokenizer folder.")
    Path model;

    @Option(names = "--text", required = true, paramLabel = "TEXT", description = "The prompt.")
    String text;

    @Option(names = "--encoder", paramLabel = "clip|t5", description = "Only this encoder (default: both).")
    Encoder encoder;

    @Option(names = "--length", paramLabel = "N", description = "T5 sequence length (default 512; BFL uses 256 "
            + "for schnell, EraseAnything 256). CLIP is always 77.")
    Integer length;

    @Option(names = "--keyword", paramLabel = "WORDS", description = "Mark the T5 positions whose tokens come from "
            + "these words of the prompt (whole words, case-insensitive).")
    String keyword;

    @Option(names = "--json", description = "Print JSON instead of a table.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (encoder == Encoder.clip && length != null) {
            throw new IllegalArgumentException("--length applies to t5 only; CLIP always takes 77 ids");
        }
        if (encoder == Encoder.clip && keyword != null) {
            throw new IllegalArgumentException("--keyword applies to t5 only");
        }
        int t5Length = length == null ? T5Tokenizer.DEFAULT_LENGTH : length;
        if (t5Length < 1) {
            throw new IllegalArgumentException("--length must be at least 1, got " + t5Length);
        }
        List<Result> results = new ArrayList<>();
        if (encoder != Encoder.t5) {
            ClipTokenizer clip = ClipTokenizer.load(model);
            int[] ids = clip.inputIds(text);
            int content = clip.contentIds(text).length;
            // The table also shows what each byte-level symbol spells (cafÃ©</w> is café).
            List<String> shown = Arrays.stream(ids).mapToObj(id -> {
                String symbol = clip.tokenText(id);
                String decoded = clip.decode(id);
                return decoded.equals(symbol) || (decoded + "</w>").equals(symbol) ? visible(symbol)
                        : visible(symbol) + "  (" + visible(decoded) + ")";
            }).toList();
            results.add(new Result("clip", ids, Arrays.stream(ids).mapToObj(clip::tokenText).toList(), shown,
                    Math.min(content + 2, ClipTokenizer.CONTEXT_LENGTH), content, null));
        }
        if (encoder != Encoder.clip) {
            T5Tokenizer t5 = T5Tokenizer.load(model);
            int[] ids = t5.inputIds(text, t5Length);
            int total = t5.ids(text).length;
            int[] marked = keyword == null ? null : t5.keywordPositions(text, keyword, t5Length);
            List<String> tokens = Arrays.stream(ids).mapToObj(t5::tokenText).toList();
            List<String> shown = tokens.stream().map(TokenizeCommand::visible).toList();
            results.add(new Result("t5", ids, tokens, shown, Math.min(total, t5Length), total - 1, marked));
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(JSON.writeValueAsString(results.size() == 1 ? toJson(results.getFirst())
                    : JSON.createArrayNode().addAll(results.stream().map(TokenizeCommand::toJson).toList())));
        } else {
            for (Result r : results) {
                table(r, out);
            }
        }
        out.flush();
        return 0;
    }

    /**
     * {@code tokens}: vocabulary strings (JSON); {@code shown}: what the table prints; {@code used}: positions before
     * the padding; {@code content}: untruncated content token count; {@code marked}: keyword positions or null.
     */
    private record Result(String encoder, int[] ids, List<String> tokens, List<String> shown, int used, int content,
                          int[] marked) {
    }

    private static ObjectNode toJson(Result r) {
        ObjectNode o = JSON.createObjectNode();
        o.put("encoder", r.encoder());
        o.put("length", r.ids().length);
        ArrayNode ids = o.putArray("ids");
        Arrays.stream(r.ids()).forEach(ids::add);
        ArrayNode tokens = o.putArray("tokens");
        r.tokens().forEach(tokens::add);
        if (r.marked() != null) {
            ArrayNode marked = o.putArray("keyword_positions");
            Arrays.stream(r.marked()).forEach(marked::add);
        }
        return o;
    }

    private static void table(Result r, PrintWriter out) {
        int kept = r.used() - (r.encoder().equals("clip") ? 2 : 1);
        out.printf("%s: %d ids, %d content tokens%s%n", r.encoder(), r.ids().length, r.content(),
                kept < r.content() ? " (" + kept + " kept, the rest truncated)" : "");
        out.printf("%6s %7s  %s%n", "pos", "id", "token");
        boolean[] mark = new boolean[r.ids().length];
        if (r.marked() != null) {
            Arrays.stream(r.marked()).forEach(m -> mark[m] = true);
        }
        for (int p = 0; p < r.used(); p++) {
            out.printf("%6d %7d  %s%s%n", p, r.ids()[p], r.shown().get(p), mark[p] ? "   <- keyword" : "");
        }
        if (r.used() < r.ids().length) {
            int pad = r.ids()[r.used()];
            out.printf("%6s %7d  %s  (padding, %d positions)%n", r.used() + "-" + (r.ids().length - 1), pad,
                    r.shown().get(r.used()), r.ids().length - r.used());
        }
    }

    /** Invisible and control characters as \\uXXXX so every row shows what the token holds. */
    static String visible(String token) {
        StringBuilder sb = new StringBuilder();
        token.codePoints().forEach(cp -> {
            int type = Character.getType(cp);
            if (Character.isISOControl(cp) || type == Character.FORMAT || type == Character.SPACE_SEPARATOR
                    || type == Character.LINE_SEPARATOR || type == Character.PARAGRAPH_SEPARATOR) {
                sb.append(String.format("\\u%04X", cp));
            } else {
                sb.appendCodePoint(cp);
            }
        });
        return sb.toString();
    }
}
