package dev.fluxerase.optim;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * One AdamW optimizer (PyTorch semantics, {@link Backend#adamw}) over a fixed list of F32 parameters, with its state:
 * the first and second moments per parameter and the step count. The learning rate is an argument of every
 * {@link #step}, so one state can be driven with a different rate per step (the erasure trainer's alternating
 * schedule); the step count, and with it the bias correction, advances on every step whatever the rate.
 */
public final class AdamW {
    /** The hyperparameters that stay fixed for a run. */
    public record Settings(float beta1, float beta2, float eps, float weightDecay) {
        public Settings {
            if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
                throw new IllegalArgumentException("AdamW betas must lie in [0, 1), got " + beta1 + ", " + beta2);
            }
            if (!(eps > 0) || !(weightDecay >= 0) || !Float.isFinite(weightDecay)) {
                throw new IllegalArgumentException("AdamW eps must be positive and weight decay non-negative, got eps "
                        + eps + ", weight decay " + weightDecay);
            }
        }
    }

    private final Backend be;
    private final Settings settings;
    private final List<Tensor> params;
    private final List<Tensor> m = new ArrayList<>();
    private final List<Tensor> v = new ArrayList<>();
    private long steps;

    /** State m = v = 0 for each parameter (F32 tensors of {@code backend}'s device), no step taken yet. */
    public AdamW(Backend backend, Settings settings, List<Tensor> params) {
        this.be = backend;
        this.settings = settings;
        this.params = List.copyOf(params);
        for (Tensor p : this.params) {
            if (p.dtype() != DType.F32 || p.device() != backend.device()) {
                throw new IllegalArgumentException("AdamW parameters must be F32 on " + backend.device() + ", got " + p);
            }
            m.add(be.allocate(DType.F32, p.shape()));
            v.add(be.allocate(DType.F32, p.shape()));
        }
    }

    /** Steps taken so far (PyTorch's {@code state["step"]}); the next step's bias correction uses this + 1. */
    public long steps() {
        return steps;
    }

    /** First moments, one per parameter in parameter order (live state tensors). */
    public List<Tensor> firstMoments() {
        return Collections.unmodifiableList(m);
    }

    /** Second moments, one per parameter in parameter order (live state tensors). */
    public List<Tensor> secondMoments() {
        return Collections.unmodifiableList(v);
    }

    /** One update of every parameter with its gradient (same order and shapes as the parameters) at rate {@code lr}. */
    public void step(List<Tensor> grads, float lr) {
        if (grads.size() != params.size()) {
            throw new IllegalArgumentException("AdamW: " + grads.size() + " gradients for " + params.size()
                    + " parameters");
        }
        if (!(lr >= 0) || !Float.isFinite(lr)) {
            throw new IllegalArgumentException("AdamW learning rate must be a non-negative number, got " + lr);
        }
        steps++;
        for (int i = 0; i < params.size(); i++) {
            Tensor g = grads.get(i);
            if (!Arrays.equals(g.shape(), params.get(i).shape())) {
                throw new IllegalArgumentException("AdamW: gradient " + i + " has shape " + Arrays.toString(g.shape())
                        + ", its parameter " + Arrays.toString(params.get(i).shape()));
            }
            be.adamw(params.get(i), g, m.get(i), v.get(i), lr, settings.beta1, settings.beta2, settings.eps,
                    settings.weightDecay, steps);
        }
    }

    /**
     * Replaces the state with saved values (a resumed run): the step count and, per parameter, m and v as host
     * arrays of the parameter's size.
     */
    public void restore(long stepCount, List<float[]> firstMoments, List<float[]> secondMoments) {
        if (stepCount < 0 || firstMoments.size() != params.size() || secondMoments.size() != params.size()) {
            throw new IllegalArgumentException("AdamW state: expected " + params.size() + " first and second moments"
                    + " and a non-negative step count, got " + firstMoments.size() + ", " + secondMoments.size() + ", "
                    + stepCount);
        }
        for (int i = 0; i < params.size(); i++) {
            long n = params.get(i).numel();
            if (firstMoments.get(i).length != n || secondMoments.get(i).length != n) {
                throw new IllegalArgumentException("AdamW state " + i + ": expected " + n + " values, got "
                        + firstMoments.get(i).length + " and " + secondMoments.get(i).length);
            }
            be.copy(be.upload(firstMoments.get(i), params.get(i).shape()), m.get(i));
            be.copy(be.upload(secondMoments.get(i), params.get(i).shape()), v.get(i));
        }
        steps = stepCount;
    }
}
