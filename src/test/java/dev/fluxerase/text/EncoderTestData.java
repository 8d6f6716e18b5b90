package dev.fluxerase.text;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Resources;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading the copied goldens under src/test/resources/text-encoders and comparing against them. */
final class EncoderTestData {
    private EncoderTestData() {
    }

    static Path resource(String relative) {
        return Resources.path("text-encoders/" + relative);
    }

    /** A path inside the pipeline-tiny model folder (the real-layout BF16 encoders, stored once for all tests). */
    static Path pipelineModel(String relative) {
        return Resources.path("pipeline-tiny/model/" + relative);
    }

    /** An I64 [B, L] id tensor as int rows. */
    static int[][] ids(Tensor t) {
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

    /** A F32 or F64 reference as doubles (F64 values kept exact). */
    static double[] values(Tensor t) {
        if (t.dtype() == DType.F64) {
            return t.data().toArray(ValueLayout.JAVA_DOUBLE_UNALIGNED);
        }
        float[] f = Floats.toF32(t);
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    /** max|ours − ref| / max|ref|, the goldens' rel_to_max. */
    static double relToMax(Tensor ours, Tensor ref) {
        assertArrayEquals(ref.shape(), ours.shape(), "shape of " + ours + " vs reference " + ref);
        float[] a = Floats.toF32(ours);
        double[] b = values(ref);
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < a.length; i++) {
            assertTrue(Float.isFinite(a[i]), "non-finite output at " + i);
            diff = Math.max(diff, Math.abs(a[i] - b[i]));
            scale = Math.max(scale, Math.abs(b[i]));
        }
        return diff / scale;
    }

    static void assertClose(Tensor ours, Tensor ref, double bound, String what) {
        double r = relToMax(ours, ref);
        assertTrue(r <= bound, what + ": rel_to_max " + r + " > " + bound);
    }
}
