package dev.fluxerase.erase;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;

/**
 * The words a run uses besides its prompts: the synonyms of the key word (one is drawn per step for the prompt swap
 * and the reverse self-contrastive loss) and the K irrelevant concepts of L_rsc, each with where it came from. Written
 * into the run record and the checkpoint, so that a run can be repeated and resumed with exactly these words.
 *
 * @param irrelevantDetails how WordNet chose each irrelevant concept (empty when the configuration listed them)
 */
public record Words(List<String> synonyms, String synonymSource, List<String> irrelevant, String irrelevantSource,
                    List<WordNet.Choice> irrelevantDetails) {

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
            return new Words(syn, synSource, c.irrelevant(), FROM_CONFIG, List.of());
        }
        List<WordNet.Choice> chosen = wn.irrelevant(c.keyWord(), syn, RunRandom.words(c.seed()));
        return new Words(syn, synSource, chosen.stream().map(WordNet.Choice::word).toList(),
                "WordNet " + wn.version() + ": noun hypernym-graph distance (unrelated, far, mid)", chosen);
    }

    ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        ArrayNode s = o.putArray("synonyms");
        synonyms.forEach(s::add);
        o.put("synonyms_source", synonymSource);
        ArrayNode ir = o.putArray("irrelevant_concepts");
        irrelevant.forEach(ir::add);
        o.put("irrelevant_source", irrelevantSource);
        ArrayNode d = o.putArray("irrelevant_wordnet");
        for (WordNet.Choice c : irrelevantDetails) {
            d.addObject().put("word", c.word()).put("kind", c.kind()).put("distance", c.distance());
        }
        return o;
    }

    static Words fromJson(JsonNode o, String source) {
        List<String> syn = new ArrayList<>();
        field(o, "synonyms", source).forEach(n -> syn.add(n.asText()));
        List<String> ir = new ArrayList<>();
        field(o, "irrelevant_concepts", source).forEach(n -> ir.add(n.asText()));
        List<WordNet.Choice> details = new ArrayList<>();
        for (JsonNode n : field(o, "irrelevant_wordnet", source)) {
            details.add(new WordNet.Choice(field(n, "word", source).asText(), field(n, "kind", source).asText(),
                    field(n, "distance", source).asInt()));
        }
        if (syn.isEmpty() || ir.isEmpty()) {
            throw new EraseException(source + ": the recorded word lists are empty");
        }
        return new Words(List.copyOf(syn), field(o, "synonyms_source", source).asText(), List.copyOf(ir),
                field(o, "irrelevant_source", source).asText(), List.copyOf(details));
    }

    private static JsonNode field(JsonNode o, String name, String source) {
        JsonNode v = o == null ? null : o.get(name);
        if (v == null || v.isNull()) {
            throw new EraseException(source + ": the recorded words lack \"" + name + "\"");
        }
        return v;
    }
}
