package dev.fluxerase.erase;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;
import java.util.StringJoiner;

/**
 * The words a run uses besides its prompts: the synonyms of the key word (one is drawn per step for the prompt swap
 * and the reverse self-contrastive loss) and the K irrelevant concepts of L_rsc, each with where it came from. Written
 * into the run record and the checkpoint, so that a run can be repeated and resumed with exactly these words.
 *
 * @param irrelevantDetails each irrelevant concept's kind and WordNet distance (empty when the configuration listed
 *                          them)
 * @param irrelevantSense   the WordNet sense those distances are measured from (null when there is none)
 */
public record Words(List<String> synonyms, String synonymSource, List<String> irrelevant, String irrelevantSource,
                    List<IrrelevantConcepts.Choice> irrelevantDetails, String irrelevantSense) {

    static final String FROM_CONFIG = "run configuration";

    /** The configuration's lists, with the configured WordNet version filling in what is missing (loaded only then). */
    static Words choose(RunConfig c) {
        WordNet wn = c.synonyms() == null || c.irrelevant() == null ? WordNet.load(c.wordnet()) : null;
        List<String> syn;
        String synSource;
        if (c.synonyms() != null) {
            syn = c.synonyms();
            synSource = FROM_CONFIG;
        } else {
            syn = wn.synonyms(c.keyWord());
            synSource = "WordNet " + wn.version() + ": every lemma name of every synset of \"" + c.keyWord() + "\"";
            if (syn.isEmpty()) {
                syn = List.of(c.keyWord());
                synSource = "the key word itself (WordNet " + wn.version() + " has no synset for \"" + c.keyWord()
                        + "\")";
            }
        }
        if (c.irrelevant() != null) {
            return new Words(syn, synSource, c.irrelevant(), FROM_CONFIG, List.of(), null);
        }
        IrrelevantConcepts.Selection s = IrrelevantConcepts.choose(wn, c.keyWord(), c.keyWordSense(), syn,
                RunRandom.words(c.seed()));
        String from = s.from() == null ? "no WordNet sense to measure distances from"
                : "distances in WordNet " + wn.version() + " from " + s.from();
        return new Words(syn, synSource, s.choices().stream().map(IrrelevantConcepts.Choice::word).toList(),
                s.method() + "; " + from, s.choices(), s.from() == null ? null : s.from().name());
    }

    /** The irrelevant concepts with where they came from and, when chosen here, their kinds and distances. */
    String describeIrrelevant() {
        StringJoiner details = new StringJoiner(", ", ": ", "").setEmptyValue("");
        for (IrrelevantConcepts.Choice c : irrelevantDetails) {
            details.add(c.kind() + " " + c.word() + " " + (c.distance() == null ? "(not in the graph)" : c.distance()));
        }
        return "irrelevant concepts " + irrelevant + " (" + irrelevantSource + ")" + details;
    }

    ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        ArrayNode s = o.putArray("synonyms");
        synonyms.forEach(s::add);
        o.put("synonyms_source", synonymSource);
        ArrayNode ir = o.putArray("irrelevant_concepts");
        irrelevant.forEach(ir::add);
        o.put("irrelevant_source", irrelevantSource);
        o.put("irrelevant_sense", irrelevantSense);
        ArrayNode d = o.putArray("irrelevant_wordnet");
        for (IrrelevantConcepts.Choice c : irrelevantDetails) {
            d.addObject().put("word", c.word()).put("kind", c.kind()).put("distance", c.distance());
        }
        return o;
    }

    /** Reads {@link #toJson}'s form back; records made before irrelevant_sense existed have none. */
    static Words fromJson(JsonNode o, String source) {
        List<String> syn = new ArrayList<>();
        field(o, "synonyms", source).forEach(n -> syn.add(n.asText()));
        List<String> ir = new ArrayList<>();
        field(o, "irrelevant_concepts", source).forEach(n -> ir.add(n.asText()));
        List<IrrelevantConcepts.Choice> details = new ArrayList<>();
        for (JsonNode n : field(o, "irrelevant_wordnet", source)) {
            JsonNode d = n.get("distance");
            details.add(new IrrelevantConcepts.Choice(field(n, "word", source).asText(),
                    field(n, "kind", source).asText(), d == null || d.isNull() ? null : d.asInt()));
        }
        if (syn.isEmpty() || ir.isEmpty()) {
            throw new EraseException(source + ": the recorded word lists are empty");
        }
        JsonNode sense = o.get("irrelevant_sense");
        return new Words(List.copyOf(syn), field(o, "synonyms_source", source).asText(), List.copyOf(ir),
                field(o, "irrelevant_source", source).asText(), List.copyOf(details),
                sense == null || sense.isNull() ? null : sense.asText());
    }

    private static JsonNode field(JsonNode o, String name, String source) {
        JsonNode v = o == null ? null : o.get(name);
        if (v == null || v.isNull()) {
            throw new EraseException(source + ": the recorded words lack \"" + name + "\"");
        }
        return v;
    }
}
