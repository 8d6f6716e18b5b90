package dev.fluxerase.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Vector API building blocks over F32 memory segments (heap, native or mapped alike). Offsets count floats. Every loop
 * runs whole vectors of the preferred species and finishes with a scalar tail.
 */
final class Vec {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int N = S.length();
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private Vec() {
    }

    static FloatVector load(MemorySegment s, long i) {
        return FloatVector.fromMemorySegment(S, s, i * 4, LE);
    }

    static void store(FloatVector v, MemorySegment s, long i) {
        v.intoMemorySegment(s, i * 4, LE);
    }

    /** dst[d..d+n) += src[s..s+n). */
    static void addInto(MemorySegment src, long s, MemorySegment dst, long d, int n) {
        int i = 0;
        for (int upper = S.loopBound(n); i < upper; i += N) {
            store(load(dst, d + i).add(load(src, s + i)), dst, d + i);
        }
        for (; i < n; i++) {
            dst.setAtIndex(F32, d + i, dst.getAtIndex(F32, d + i) + src.getAtIndex(F32, s + i));
        }
    }

    /** Σ a[ao..ao+n)·b[bo..bo+n) in f32 lanes, reduced once. */
    static float dot(MemorySegment a, long ao, MemorySegment b, long bo, int n) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (int upper = S.loopBound(n); i < upper; i += N) {
            acc = load(a, ao + i).fma(load(b, bo + i), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += a.getAtIndex(F32, ao + i) * b.getAtIndex(F32, bo + i);
        }
        return s;
    }
}
