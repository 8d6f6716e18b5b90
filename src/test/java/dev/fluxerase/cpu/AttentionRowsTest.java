package dev.fluxerase.cpu;

import static dev.fluxerase.cpu.TestTensors.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The CPU attention computes every output row by its own chain of operations, whatever other rows share its pass: the
 * kernels take query rows (and, in the backward, key rows) two at a time, and a row must come out bit for bit as it does
 * alone. Checked against the same rows computed one query at a time (forward out and lse, backward dq) and with the keys
 * in reverse order (backward dk and dv, given the same out and lse), at a head dim with a tail past the kernels' four
 * vectors and at one below it, with 67 queries: pairs, an odd last row, and a second query block.
 */
class AttentionRowsTest {
    private static final int HEADS = 2;
    private static final int L = 67;
    private final CpuBackend cpu = new CpuBackend();

    @Test
    void aQueryRowIsTheSameAloneAsAmongOthers() {
        for (int d : new int[]{144, 24}) {
            Case x = new Case(cpu, new Random(d), d);
            Tensor dq = Tensor.zeros(1, HEADS, L, d);
            cpu.attentionBackward(x.dOut, x.q, x.k, x.v, x.out, x.lse, dq, Tensor.zeros(1, HEADS, L, d),
                    Tensor.zeros(1, HEADS, L, d), x.scale);
            for (int i = 0; i < L; i++) {
                Tensor q1 = rows(x.q, i, 1, d);
                Tensor out1 = Tensor.zeros(1, HEADS, 1, d);
                Tensor lse1 = Tensor.zeros(1, HEADS, 1);
                cpu.attention(q1, x.k, x.v, out1, lse1, null, x.scale);
                Tensor dq1 = Tensor.zeros(1, HEADS, 1, d);
                cpu.attentionBackward(rows(x.dOut, i, 1, d), q1, x.k, x.v, rows(x.out, i, 1, d), rows(x.lse, i, 1, 1),
                        dq1, Tensor.zeros(1, HEADS, L, d), Tensor.zeros(1, HEADS, L, d), x.scale);
                assertBits("out, d " + d + ", query " + i, rows(x.out, i, 1, d), out1);
                assertBits("lse, d " + d + ", query " + i, rows(x.lse, i, 1, 1), lse1);
                assertBits("dq, d " + d + ", query " + i, rows(dq, i, 1, d), dq1);
            }
        }
    }

    @Test
    void aKeyRowsGradientDoesNotDependOnItsNeighbours() {
        for (int d : new int[]{144, 24}) {
            Case x = new Case(cpu, new Random(100 + d), d);
            Tensor dk = Tensor.zeros(1, HEADS, L, d);
            Tensor dv = Tensor.zeros(1, HEADS, L, d);
            cpu.attentionBackward(x.dOut, x.q, x.k, x.v, x.out, x.lse, Tensor.zeros(1, HEADS, L, d), dk, dv, x.scale);
            Tensor dkReversed = Tensor.zeros(1, HEADS, L, d);
            Tensor dvReversed = Tensor.zeros(1, HEADS, L, d);
            cpu.attentionBackward(x.dOut, x.q, reversed(x.k, d), reversed(x.v, d), x.out, x.lse,
                    Tensor.zeros(1, HEADS, L, d), dkReversed, dvReversed, x.scale);
            assertBits("dk, d " + d, dk, reversed(dkReversed, d));
            assertBits("dv, d " + d, dv, reversed(dvReversed, d));
        }
    }

    /** Random q, k, v and dOut [1, HEADS, L, d], and the forward's out and lse from them. */
    private static final class Case {
        final float scale;
        final Tensor q;
        final Tensor k;
        final Tensor v;
        final Tensor dOut;
        final Tensor out;
        final Tensor lse;

        Case(CpuBackend cpu, Random rnd, int d) {
            scale = (float) (1 / Math.sqrt(d));
            q = randn(rnd, 1.5, 1, HEADS, L, d);
            k = randn(rnd, 1.5, 1, HEADS, L, d);
            v = randn(rnd, 1, 1, HEADS, L, d);
            dOut = randn(rnd, 1, 1, HEADS, L, d);
            out = Tensor.zeros(1, HEADS, L, d);
            lse = Tensor.zeros(1, HEADS, L);
            cpu.attention(q, k, v, out, lse, null, scale);
        }
    }

    /** Rows [i, i + n) of each head of t [1, HEADS, L, w], as a new tensor [1, HEADS, n, w]. */
    private static Tensor rows(Tensor t, int i, int n, int w) {
        Tensor r = w == 1 ? Tensor.zeros(1, HEADS, n) : Tensor.zeros(1, HEADS, n, w);
        for (int h = 0; h < HEADS; h++) {
            for (int e = 0; e < n * w; e++) {
                r.set((long) h * n * w + e, t.get(((long) h * L + i) * w + e));
            }
        }
        return r;
    }

    /** t [1, HEADS, L, d] with each head's rows in reverse order. */
    private static Tensor reversed(Tensor t, int d) {
        Tensor r = Tensor.zeros(1, HEADS, L, d);
        for (int h = 0; h < HEADS; h++) {
            for (int j = 0; j < L; j++) {
                for (int e = 0; e < d; e++) {
                    r.set(((long) h * L + L - 1 - j) * d + e, t.get(((long) h * L + j) * d + e));
                }
            }
        }
        return r;
    }

    private static void assertBits(String what, Tensor expected, Tensor actual) {
        assertEquals(expected.numel(), actual.numel(), what);
        for (long i = 0; i < expected.numel(); i++) {
            int e = Float.floatToRawIntBits(expected.get(i));
            int a = Float.floatToRawIntBits(actual.get(i));
            if (e != a) {
                throw new AssertionError(what + ": element " + i + " is " + actual.get(i) + ", alone/in order "
                        + expected.get(i));
            }
        }
    }
}
