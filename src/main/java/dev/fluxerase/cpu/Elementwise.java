package dev.fluxerase.cpu;

import jdk.incubator.vector.FloatVector;

import static dev.fluxerase.cpu.Vec.N;
import static dev.fluxerase.cpu.Vec.S;

/**
 * Flat elementwise ops and reductions (axpy, mul, scale, sum, dot), split across threads in contiguous chunks. Nothing is
 * saved for a backward: these are linear and their adjoints are the same ops. Reductions accumulate each chunk in double
 * lanes and add the chunk sums in chunk order, so a result does not depend on thread timing.
 */
final class Elementwise {
    private Elementwise() {
    }

    static void axpy(float alpha, Arr x, Arr y, int n) {
        Parallel.forRange(n, 1, (c, from, to) -> Vec.axpy(alpha, x.a, x.off + from, y.a, y.off + from, to - from));
    }

    static void mul(Arr a, Arr b, Arr out, int n) {
        Parallel.forRange(n, 1, (c, from, to) -> {
            int ao = a.off + from;
            int bo = b.off + from;
            int oo = out.off + from;
            int len = to - from;
            int i = 0;
            for (int upper = S.loopBound(len); i < upper; i += N) {
                FloatVector.fromArray(S, a.a, ao + i).mul(FloatVector.fromArray(S, b.a, bo + i)).intoArray(out.a, oo + i);
            }
            for (; i < len; i++) {
                out.a[oo + i] = a.a[ao + i] * b.a[bo + i];
            }
        });
    }

    static void scale(Arr x, int n, float alpha) {
        Parallel.forRange(n, 1, (c, from, to) -> Vec.scale(x.a, x.off + from, to - from, alpha));
    }

    static double sum(Arr x, int n) {
        int chunks = Parallel.reductionChunks(n, 1);
        double[] part = new double[chunks];
        Parallel.run(chunks, n, (c, from, to) -> part[c] = Vec.sumDouble(x.a, x.off + from, to - from));
        double s = 0;
        for (double p : part) {
            s += p;
        }
        return s;
    }

    static double dot(Arr a, Arr b, int n) {
        int chunks = Parallel.reductionChunks(n, 2);
        double[] part = new double[chunks];
        Parallel.run(chunks, n, (c, from, to) -> part[c] = Vec.dotDouble(a.a, a.off + from, b.a, b.off + from, to - from));
        double s = 0;
        for (double p : part) {
            s += p;
        }
        return s;
    }
}
