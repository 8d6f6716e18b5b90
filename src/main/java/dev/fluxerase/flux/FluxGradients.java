package dev.fluxerase.flux;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Tensor;

import java.util.Collections;
import java.util.Map;

/**
 * Gradient accumulators of one model, all F32 on the model's backend. The backward ADDS into them, so several backward
 * passes (micro-batches) accumulate until {@link #zero}. Which gradients exist is chosen at creation: base parameters
 * (absent in the frozen-base mode that LoRA training uses), LoRA A and B per module, and the inputs img, txt, y.
 */
public final class FluxGradients {
    private final Map<String, Tensor> params;
    private final Map<String, Tensor> loraA;
    private final Map<String, Tensor> loraB;
    private final Tensor img;
    private final Tensor txt;
    private final Tensor y;

    FluxGradients(Map<String, Tensor> params, Map<String, Tensor> loraA, Map<String, Tensor> loraB, Tensor img,
                  Tensor txt, Tensor y) {
        this.params = Collections.unmodifiableMap(params);
        this.loraA = Collections.unmodifiableMap(loraA);
        this.loraB = Collections.unmodifiableMap(loraB);
        this.img = img;
        this.txt = txt;
        this.y = y;
    }

    /** Gradient of an internal parameter (a {@link FluxLayout.Param} name); null when base parameters are frozen. */
    public Tensor param(String internalName) {
        return params.get(internalName);
    }

    /** Internal parameter name → gradient; empty when base parameters are frozen. */
    public Map<String, Tensor> params() {
        return params;
    }

    public boolean hasParams() {
        return !params.isEmpty();
    }

    /** dL/dA [rank, in] of the LoRA on a diffusers module; null when none is attached there. */
    public Tensor loraA(String module) {
        return loraA.get(module);
    }

    /** dL/dB [out, rank] of the LoRA on a diffusers module. */
    public Tensor loraB(String module) {
        return loraB.get(module);
    }

    /** dL/d img [B, L_img, in_channels]; null when input gradients were not requested. */
    public Tensor img() {
        return img;
    }

    /** dL/d txt [B, L_txt, context_in_dim]. */
    public Tensor txt() {
        return txt;
    }

    /** dL/d y [B, vec_in_dim]. */
    public Tensor y() {
        return y;
    }

    public boolean hasInputs() {
        return img != null;
    }

    public void zero(Backend be) {
        for (Tensor t : params.values()) {
            be.fill(t, 0f);
        }
        for (Tensor t : loraA.values()) {
            be.fill(t, 0f);
        }
        for (Tensor t : loraB.values()) {
            be.fill(t, 0f);
        }
        for (Tensor t : new Tensor[]{img, txt, y}) {
            if (t != null) {
                be.fill(t, 0f);
            }
        }
    }
}
