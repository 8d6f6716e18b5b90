package dev.fluxerase.optim;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * One AdamW optimizer (PyTorch semantics) over a fixed list of F32 parameters, with its state: the first and second
 * moments per parameter and the step count. The learning rate is an argument of every {@link #step}, so one state can
 * be driven with a different rate per step (the erasure trainer's alternating schedule); the step count, and with it
 * the bias correction, advances on every step whatever the rate.
 *
 * <p>The state is F32 ({@link Backend#adamw}), or BF16: then the parameters, their gradients and both moments are bf16
 * numbers (held in the F32 tensors, on the backend's device) and a step is torch.optim.AdamW on bf16 tensors, whose
 * every in-place op computes in float and rounds its result to bf16 ({@link Backend#adamwBf16}; docs/erase.md, "bf16
 * LoRA state").
 */
public final class AdamW {

    /** The hyperparameters that stay fixed for a run, as the Python floats PyTorch is given. */
    public record Settings(double beta1, double beta2, double eps, double weightDecay) {
        public Settings {
            if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
                throw new IllegalArgumentException("AdamW betas must lie in [0, 1), got " + beta1 + ", " + beta2);
            }
            if (!(eps > 0) || !(weightDecay >= 0) || !Double.isFinite(weightDecay)) {
                throw new IllegalArgumentException("AdamW eps must be positive and weight decay non-negative, got eps "
                        + eps + ", weight decay " + weightDecay);
            }
        }
    }

    private final Backend be;
    private final Settings settings;
    private final List<Tensor> params;
    private final DType state;
    private final List<Tensor> m = new ArrayList<>();
    private final List<Tensor> v = new ArrayList<>();
    private long steps;

    /** F32 state m = v = 0 for each parameter (F32 tensors of {@code backend}'s device), no step taken yet. */
    public AdamW(Backend backend, Settings settings, List<Tensor> params) {
        this(backend, settings, params, DType.F32);
    }

    /** State m = v = 0 of dtype {@code state} (F32 or BF16), no step taken yet. */
    public AdamW(Backend backend, Settings settings, List<Tensor> params, DType state) {
        if (state != DType.F32 && state != DType.BF16) {
            throw new IllegalArgumentException("AdamW state is F32 or BF16, not " + state);
        }
        this.be = backend;
        this.settings = settings;
        this.params = List.copyOf(params);
        this.state = state;
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
    public void step(List<Tensor> grads, double lr) {
        if (grads.size() != params.size()) {
            throw new IllegalArgumentException("AdamW: " + grads.size() + " gradients for " + params.size()
                    + " parameters");
        }
        if (!(lr >= 0) || !Double.isFinite(lr)) {
            throw new IllegalArgumentException("AdamW learning rate must be a non-negative number, got " + lr);
        }
        for (int i = 0; i < params.size(); i++) {
            Tensor g = grads.get(i);
            if (!Arrays.equals(g.shape(), params.get(i).shape())) {
                throw new IllegalArgumentException("AdamW: gradient " + i + " has shape " + Arrays.toString(g.shape())
                        + ", its parameter " + Arrays.toString(params.get(i).shape()));
            }
        }
        steps++;
        if (state == DType.BF16) {
            for (int i = 0; i < params.size(); i++) {
                stepBf16(params.get(i), grads.get(i), m.get(i), v.get(i), lr);
            }
        } else {
            be.adamwAll(params, grads, m, v, (float) lr, (float) settings.beta1, (float) settings.beta2,
                    (float) settings.eps, (float) settings.weightDecay, steps);
        }
    }

    /**
     * torch.optim.AdamW's op sequence on bf16 tensors (the foreach path, PyTorch's default on CUDA; the single-tensor
     * path does the same ops) through {@link Backend#adamwBf16}, with its scalars as PyTorch derives them: the Python
     * floats rounded to float, 1 − lr·wd, 1 − β1 and 1 − β2 in double first, the bias corrections in double.
     */
    private void stepBf16(Tensor param, Tensor grad, Tensor m, Tensor v, double lr) {
        be.adamwBf16(param, grad, m, v, (float) (1 - lr * settings.weightDecay), (float) (1 - settings.beta1),
                (float) settings.beta2, (float) (1 - settings.beta2),
                (float) Math.sqrt(1 - StrictMath.pow(settings.beta2, steps)), (float) settings.eps,
                (float) (-lr / (1 - StrictMath.pow(settings.beta1, steps))));
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
            be.write(m.get(i), firstMoments.get(i));
            be.write(v.get(i), secondMoments.get(i));
        }
        steps = stepCount;
    }
}
