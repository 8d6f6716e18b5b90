package dev.fluxerase.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;

/**
 * The summary of a metric that gives each image one label (the toy's shape classifier, an ONNX classifier): per label
 * how many images got it, and the hits among the images whose suite row names a concept: {@code hit_rate} (null when
 * no row names one), {@code hits}, {@code with_concept}, {@code counts}.
 */
public class LabelTally {
    private final List<String> labels;
    private final String none;
    private final long[] counts;
    private long hits;
    private long withConcept;

    /** {@code none}: the key of images that got no label (the shape classifier's "none"), or null where all get one. */
    public LabelTally(List<String> labels, String none) {
        this.labels = List.copyOf(labels);
        this.none = none;
        this.counts = new long[labels.size() + (none == null ? 0 : 1)];
    }

    /** One image: its label's index (−1: none), and whether it is the row's concept (null: the row names none). */
    public void add(int label, Boolean hit) {
        counts[label < 0 ? labels.size() : label]++;
        if (hit != null) {
            withConcept++;
            hits += hit ? 1 : 0;
        }
    }

    /** The share of images with a concept that show it; NaN when no image has one. */
    public double hitRate() {
        return (double) hits / withConcept;
    }

    /** How many images got label {@code label} (−1: none). */
    public long count(int label) {
        return counts[label < 0 ? labels.size() : label];
    }

    /** Per label (and the none key) how many images it got, in label order. */
    public ObjectNode counts() {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        for (int i = 0; i < labels.size(); i++) {
            n.put(labels.get(i), counts[i]);
        }
        if (none != null) {
            n.put(none, counts[labels.size()]);
        }
        return n;
    }

    public JsonNode summary() {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        if (withConcept > 0) {
            n.put("hit_rate", hitRate());
        } else {
            n.putNull("hit_rate");
        }
        n.put("hits", hits);
        n.put("with_concept", withConcept);
        n.set("counts", counts());
        return n;
    }
}
