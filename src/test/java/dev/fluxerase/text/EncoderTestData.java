package dev.fluxerase.text;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Compare;
import dev.fluxerase.testing.Resources;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading the copied goldens under src/test/resources/text-encoders and comparing against them (here and in cuda). */
public final class EncoderTestData {
    private EncoderTestData() {
    }

    public static Path resource(String relative) {
        return Resources.path("text-encoders/" + relative);
    }

    /** A path inside the pipeline-tiny model folder (the real-layout BF16 encoders, stored once for all tests). */
    static Path pipelineModel(String relative) {
        return Resources.path("pipeline-tiny/model/" + relative);
    }

    /** An I64 [B, L] id tensor as int rows. */
    public static int[][] ids(Tensor t) {
        assertEquals(DType.I64, t.dtype(), "ids dtype");
        int rows = (int) t.rows();
        int cols = (int) t.cols();
        int[][] out = new int[rows][cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[r][c] = Math.toIntExact(t.data().getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, (long) r * cols + c));
            }
        }
        return out;
    }

    static long[] longs(Tensor t) {
        assertEquals(DType.I64, t.dtype(), "dtype");
        return t.data().toArray(ValueLayout.JAVA_LONG_UNALIGNED);
    }

    static void assertClose(Tensor ours, Tensor ref, double bound, String what) {
        double r = Compare.relToMax(ours, ref);
        assertTrue(r <= bound, what + ": rel_to_max " + r + " > " + bound);
    }
}
