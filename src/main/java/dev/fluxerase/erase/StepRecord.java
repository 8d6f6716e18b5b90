package dev.fluxerase.erase;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * What one training step did, for the run record: its kind and learning rate, the image (and with {@code preserve:
 * irrelevant} the preservation image of a preservation step), the augmented prompt, the
 * synonym, the T5 positions of the concept, the sampling step and the transformer timestep σ, and each loss (null when
 * the step does not compute it, or its weight is 0).
 *
 * @param samplingStep t_enc for erasure steps (the ESD latent's sampling step), j for preservation steps (the step
 *                     whose attention gives the synonym and irrelevant features)
 * @param loss         the weighted sum the step descended
 */
public record StepRecord(int step, Kind kind, double lr, String image, String preserveImage, String prompt, String synonym, boolean swapped,
                         int[] positions, int samplingStep, double sigma, Double esd, Double attn, Double lora,
                         Double rsc, double loss, double seconds) {

    /** Erasure steps descend the lower-level (paper) loss, preservation steps the upper-level one. */
    public enum Kind { ERASE, PRESERVE }

    ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("step", step);
        o.put("kind", kind == Kind.ERASE ? "erase" : "preserve");
        o.put("lr", lr);
        o.put("image", image);
        if (preserveImage != null) {
            o.put("preserve_image", preserveImage);
        }
        o.put("prompt", prompt);
        o.put("synonym", synonym);
        o.put("swapped", swapped);
        ArrayNode p = o.putArray("positions");
        for (int i : positions) {
            p.add(i);
        }
        o.put(kind == Kind.ERASE ? "t_enc" : "rsc_step", samplingStep);
        o.put("sigma", sigma);
        ObjectNode l = o.putObject("losses");
        put(l, "esd", esd);
        put(l, "attn", attn);
        put(l, "lora", lora);
        put(l, "rsc", rsc);
        o.put("loss", loss);
        o.put("seconds", seconds);
        return o;
    }

    private static void put(ObjectNode o, String key, Double v) {
        if (v != null) {
            o.put(key, v);
        }
    }
}
