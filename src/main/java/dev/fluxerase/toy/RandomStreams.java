package dev.fluxerase.toy;

import dev.fluxerase.erase.RunRandom;

/**
 * The toy world's independent random streams: each generator is {@code java.util.Random} seeded by
 * {@link RunRandom#mix}(seed, stream, index), the erase trainer's scheme, so any item (a dataset image, a training
 * step, an evaluation sample) can be drawn on its own, in any order, and a resumed run draws exactly what an
 * uninterrupted one draws.
 */
final class RandomStreams {
    /** Stream 0, so a sample's seed is output {@code index} of the plain SplitMix64 generator seeded with the seed. */
    static final long DATA = 0;
    static final long STEP = 12;
    static final long INIT = 13;
    static final long EVAL = 14;

    private RandomStreams() {
    }

    static long mix(long seed, long stream, long index) {
        return RunRandom.mix(seed, stream, index);
    }
}
