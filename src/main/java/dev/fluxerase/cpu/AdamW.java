package dev.fluxerase.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import static dev.fluxerase.cpu.Vec.N;
import static dev.fluxerase.cpu.Vec.S;

/**
 * Decoupled-weight-decay Adam (torch.optim.AdamW, foreach=False): p ·= 1 − lr·wd; m = β1·m + (1−β1)·g;
 * v = β2·v + (1−β2)·g²; p −= (lr/(1−β1^t))·m / (√v/√(1−β2^t) + eps). The state m, v is the "saved" part: it persists between
 * steps and is updated in place. The vector kernel follows PyTorch's single-tensor f32 arithmetic (m.lerp_(g, 1 − β1) as
 * one fma, v·β2 + (1 − β2)·g², scalars formed in double and rounded once, the powers by StrictMath so that they are the
 * same bits in every JIT tier); the scalar tail repeats the vector body's operations, so the chunking does not matter.
 */
final class AdamW {
    private AdamW() {
    }

    static void step(Arr p, Arr g, Arr m, Arr v, int n, float lr, float beta1, float beta2, float eps, float weightDecay,
                     long step) {
        float decay = (float) (1 - (double) lr * weightDecay);
        float w1 = (float) (1 - (double) beta1);
        float w2 = (float) (1 - (double) beta2);
        float stepSize = (float) (lr / (1 - StrictMath.pow(beta1, step)));
        float bc2Sqrt = (float) Math.sqrt(1 - StrictMath.pow(beta2, step));
        Parallel.forRange(n, 8, (c, from, to) -> {
            int i = 0;
            int len = to - from;
            for (int upper = S.loopBound(len); i < upper; i += N) {
                int k = from + i;
                FloatVector gv = FloatVector.fromArray(S, g.a, g.off + k);
                FloatVector mv = FloatVector.fromArray(S, m.a, m.off + k);
                mv = gv.sub(mv).fma(FloatVector.broadcast(S, w1), mv);
                FloatVector vv = FloatVector.fromArray(S, v.a, v.off + k).mul(beta2).add(gv.mul(gv).mul(w2));
                FloatVector denom = vv.lanewise(VectorOperators.SQRT).div(bc2Sqrt).add(eps);
                FloatVector pv = FloatVector.fromArray(S, p.a, p.off + k).mul(decay);
                pv.sub(mv.div(denom).mul(stepSize)).intoArray(p.a, p.off + k);
                mv.intoArray(m.a, m.off + k);
                vv.intoArray(v.a, v.off + k);
            }
            for (; i < len; i++) {
                int k = from + i;
                float gk = g.a[g.off + k];
                float mk = m.a[m.off + k];
                mk = Math.fma(gk - mk, w1, mk);
                float vk = v.a[v.off + k] * beta2 + gk * gk * w2;
                float denom = (float) Math.sqrt(vk) / bc2Sqrt + eps;
                p.a[p.off + k] = p.a[p.off + k] * decay - mk / denom * stepSize;
                m.a[m.off + k] = mk;
                v.a[v.off + k] = vk;
            }
        });
    }
}
