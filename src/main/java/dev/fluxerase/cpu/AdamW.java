package dev.fluxerase.cpu;

import dev.fluxerase.tensor.Tensor;

/**
 * Decoupled-weight-decay Adam (torch.optim.AdamW, foreach=False): p ·= 1 − lr·wd; m = β1·m + (1−β1)·g;
 * v = β2·v + (1−β2)·g²; p −= (lr/(1−β1^t))·m / (√v/√(1−β2^t) + eps). The state m, v is the "saved" part: it persists between
 * steps and is updated in place.
 */
final class AdamW {
    private AdamW() {
    }

    static void check(Tensor param, Tensor grad, Tensor m, Tensor v, long step) {
        Checks.f32("adamw", "param", param);
        Checks.f32("adamw", "grad", grad);
        Checks.f32("adamw", "m", m);
        Checks.f32("adamw", "v", v);
        Checks.sameNumel("adamw", "param", param, "grad", grad);
        Checks.sameNumel("adamw", "param", param, "m", m);
        Checks.sameNumel("adamw", "param", param, "v", v);
        Checks.require(step >= 1, "adamw: step counts from 1, got " + step);
    }
}
