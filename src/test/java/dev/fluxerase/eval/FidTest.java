package dev.fluxerase.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.safetensors.SafetensorsFile;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Resources;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * FID against pytorch-fid 0.3.0 on the eval-tiny goldens (tools/fid-golden-copy.sh), with the tolerances of their
 * README: mu and sigma rel 1e-12, fid_a rel 1e-9, the near-singular fid_b abs 1e-6; and against closed forms.
 */
class FidTest {
    private static final String DIR = "eval-tiny/fid/";
    private static final ValueLayout.OfDouble F64_LE =
            ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path tmp;

    private record Golden(double[][] features1, double[][] features2, double[] mu1, double[] mu2, double[] sigma1,
                          double[] sigma2, double fid, double trCovmean, JsonNode json) {
    }

    private Golden golden(String name) throws IOException {
        Path file = tmp.resolve(name + ".safetensors");
        try (InputStream in = new GZIPInputStream(Files.newInputStream(Resources.path(DIR + name + ".safetensors.gz")))) {
            Files.copy(in, file);
        }
        JsonNode json = new ObjectMapper().readTree(Resources.path(DIR + "fid.json").toFile()).path("cases").path(name);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            return new Golden(rows(f, "features1"), rows(f, "features2"), values(f, "mu1"), values(f, "mu2"),
                    values(f, "sigma1"), values(f, "sigma2"), values(f, "fid")[0], values(f, "tr_covmean")[0], json);
        }
    }

    private static double[] values(SafetensorsFile f, String name) {
        Tensor t = f.tensor(name);
        assertEquals(DType.F64, t.dtype());
        double[] out = new double[(int) t.numel()];
        for (int i = 0; i < out.length; i++) {
            out[i] = t.data().get(F64_LE, (long) i * 8);
        }
        return out;
    }

    private static double[][] rows(SafetensorsFile f, String name) {
        double[] flat = values(f, name);
        int cols = (int) f.info(name).dim(1);
        double[][] out = new double[flat.length / cols][cols];
        for (int r = 0; r < out.length; r++) {
            System.arraycopy(flat, r * cols, out[r], 0, cols);
        }
        return out;
    }

    private static FeatureStats stats(double[][] rows) {
        FeatureAccumulator acc = new FeatureAccumulator(rows[0].length);
        acc.addAll(rows);
        return acc.statistics();
    }

    private static void assertRelative(double[] expected, double[] actual, double rel, String what) {
        assertEquals(expected.length, actual.length, what);
        double scale = 0;
        for (double e : expected) {
            scale = Math.max(scale, Math.abs(e));
        }
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], rel * scale, what + "[" + i + "]");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"fid_a", "fid_b_near_singular"})
    void meanAndCovarianceMatchNumpy(String name) throws IOException {
        Golden g = golden(name);
        FeatureStats s1 = stats(g.features1());
        FeatureStats s2 = stats(g.features2());
        assertEquals(g.features1().length, s1.samples());
        assertRelative(g.mu1(), s1.mu(), 1e-12, "mu1");
        assertRelative(g.mu2(), s2.mu(), 1e-12, "mu2");
        assertRelative(g.sigma1(), s1.sigma(), 1e-12, "sigma1");
        assertRelative(g.sigma2(), s2.sigma(), 1e-12, "sigma2");
        double[] sigma = s1.sigma();
        int d = s1.dims();
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < i; j++) {
                assertEquals(sigma[i * d + j], sigma[j * d + i], "sigma1 is exactly symmetric at " + i + "," + j);
            }
        }
    }

    @Test
    void wellConditionedGoldenMatchesPytorchFid() throws IOException {
        Golden g = golden("fid_a");
        Fid.Result r = Fid.distance(stats(g.features1()), stats(g.features2()));
        assertEquals(g.fid(), r.fid(), 1e-9 * g.fid());
        assertEquals(g.trCovmean(), r.traceCovmean(), 1e-9 * g.trCovmean());
        assertEquals(g.json().path("mean_term").asDouble(), r.meanTerm(), 1e-12 * r.meanTerm());
        assertEquals(g.json().path("trace_sigma1").asDouble(), r.traceSigma1(), 1e-12 * r.traceSigma1());
        assertEquals(g.json().path("trace_sigma2").asDouble(), r.traceSigma2(), 1e-12 * r.traceSigma2());
        assertEquals(0.0, r.imaginary());
        assertFalse(r.offset());
    }

    @Test
    void nearSingularGoldenMatchesPytorchFid() throws IOException {
        Golden g = golden("fid_b_near_singular");
        Fid.Result r = Fid.distance(stats(g.features1()), stats(g.features2()));
        assertEquals(g.fid(), r.fid(), 1e-6);
        assertEquals(g.trCovmean(), r.traceCovmean(), 0.5e-6);
        assertFalse(r.offset(), "pytorch-fid's eps branch is not taken on this golden");
        // SciPy's square root is complex here, with imaginary parts up to 2.7e-8: the roots of round-off negative
        // eigenvalues, which this computation meets too
        assertTrue(r.imaginary() > 0 && r.imaginary() < 1e-7, "imaginary " + r.imaginary());
    }

    @Test
    void goldenStatisticsGiveTheSameDistanceAsFeatures() throws IOException {
        for (String name : new String[]{"fid_a", "fid_b_near_singular"}) {
            Golden g = golden(name);
            Fid.Result r = Fid.distance(new FeatureStats(g.mu1(), g.sigma1(), g.features1().length),
                    new FeatureStats(g.mu2(), g.sigma2(), g.features2().length));
            assertEquals(g.fid(), r.fid(), name.equals("fid_a") ? 1e-9 * g.fid() : 1e-6, name);
        }
    }

    /** pytorch-fid's retry, sqrtm((sigma1 + 1e-6·I)(sigma2 + 1e-6·I)) with the unshifted traces, is not taken on the
     *  goldens; fid.json has what it would give. */
    @Test
    void epsOffsetMatchesPytorchFidsBranch() throws IOException {
        for (String name : new String[]{"fid_a", "fid_b_near_singular"}) {
            Golden g = golden(name);
            Fid.Result plain = Fid.distance(new FeatureStats(g.mu1(), g.sigma1(), 2), new FeatureStats(g.mu2(),
                    g.sigma2(), 2));
            Fid.SqrtTrace t = Fid.traceSqrtProduct(g.sigma1(), g.sigma2(), g.mu1().length, Fid.EPS);
            double fid = plain.meanTerm() + plain.traceSigma1() + plain.traceSigma2() - 2 * t.trace();
            double expected = g.json().path("fid_if_eps_branch_taken").asDouble();
            assertEquals(expected, fid, name.equals("fid_a") ? 1e-9 * expected : 1e-6, name);
        }
    }

    @Test
    void oneDimensionalClosedForm() {
        // (mu1 - mu2)² + s1 + s2 - 2·sqrt(s1·s2) with mu 1 and 5, variances 2 and 8 (÷ N−1)
        FeatureStats a = stats(new double[][]{{0}, {2}});
        FeatureStats b = stats(new double[][]{{3}, {7}});
        assertEquals(18.0, Fid.distance(a, b).fid(), 1e-12);
    }

    @Test
    void diagonalCovariancesWithASingularOne() {
        // ‖Δmu‖² + Σ(√a − √b)²: 9 + (1 − 2)² + 0 + (3 − 0)² = 19
        FeatureStats a = new FeatureStats(new double[]{0, 0, 0}, new double[]{1, 0, 0, 0, 4, 0, 0, 0, 9}, 10);
        FeatureStats b = new FeatureStats(new double[]{1, 2, 2}, new double[]{4, 0, 0, 0, 4, 0, 0, 0, 0}, 10);
        Fid.Result r = Fid.distance(a, b);
        assertEquals(19.0, r.fid(), 1e-12);
        assertEquals(6.0, r.traceCovmean(), 1e-12);
    }

    @Test
    void nonCommutingTwoByTwo() {
        // for a 2x2 A with positive eigenvalues, tr(sqrtm(A)) = sqrt(tr A + 2·sqrt(det A)); A = [[2,1],[1,2]]·diag(1,3)
        // = [[2,3],[1,6]], trace 8, determinant 9
        FeatureStats a = new FeatureStats(new double[]{0, 0}, new double[]{2, 1, 1, 2}, 5);
        FeatureStats b = new FeatureStats(new double[]{0, 0}, new double[]{1, 0, 0, 3}, 5);
        assertEquals(4 + 4 - 2 * Math.sqrt(14), Fid.distance(a, b).fid(), 1e-12);
        assertEquals(4 + 4 - 2 * Math.sqrt(14), Fid.distance(b, a).fid(), 1e-12);
    }

    /** Zero up to the round-off of the rank-deficient product's zero eigenvalues, which pytorch-fid shares. */
    @Test
    void identicalSetsAreAtDistanceZero() throws IOException {
        Golden g = golden("fid_b_near_singular");
        FeatureStats s = stats(g.features1());
        assertEquals(0.0, Fid.distance(s, s).fid(), 2e-6);
    }

    @Test
    void blocksRowsAndFloatsAgree() {
        int n = 2 * FeatureAccumulator.BLOCK + 17;
        float[][] rows = new float[n][3];
        double[][] wide = new double[n][3];
        for (int r = 0; r < n; r++) {
            for (int j = 0; j < 3; j++) {
                // a large common offset, which a one-pass sum of squares would cancel away
                rows[r][j] = 1000f + (float) Math.sin(r * 0.7 + j);
                wide[r][j] = rows[r][j];
            }
        }
        FeatureAccumulator acc = new FeatureAccumulator(3);
        acc.addAll(rows);
        FeatureStats streamed = acc.statistics();
        double[] mean = new double[3];
        for (double[] row : wide) {
            for (int j = 0; j < 3; j++) {
                mean[j] += row[j] / n;
            }
        }
        double[] cov = new double[9];
        for (double[] row : wide) {
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) {
                    cov[i * 3 + j] += (row[i] - mean[i]) * (row[j] - mean[j]) / (n - 1);
                }
            }
        }
        assertRelative(mean, streamed.mu(), 1e-13, "mu");
        assertRelative(cov, streamed.sigma(), 1e-11, "sigma");
    }

    @Test
    void saveLoadRoundTrip() {
        FeatureStats s = new FeatureStats(new double[]{1.5, -2, Math.PI}, new double[]{2, 0.25, 1e-300, 0.25, 3,
                -1, 1e-300, -1, 4}, 12345);
        Path file = tmp.resolve("ref.safetensors");
        s.save(file);
        FeatureStats back = FeatureStats.load(file);
        assertArrayEquals(s.mu(), back.mu());
        assertArrayEquals(s.sigma(), back.sigma());
        assertEquals(12345, back.samples());
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertArrayEquals(new long[]{3}, f.info("mu").shape());
            assertArrayEquals(new long[]{3, 3}, f.info("sigma").shape());
        }
    }

    @Test
    void oneLineErrors() {
        FeatureAccumulator acc = new FeatureAccumulator(3);
        assertMessage("row 0 has 2 values, expected 3", () -> acc.add(new double[]{1, 2}));
        assertMessage("row 0 has NaN at index 1", () -> acc.add(new float[]{1, Float.NaN, 3}));
        acc.add(new double[]{1, 2, 3});
        assertMessage("at least 2 feature rows, got 1", acc::statistics);

        FeatureStats two = new FeatureStats(new double[2], new double[]{1, 0, 0, 1}, 2);
        FeatureStats three = new FeatureStats(new double[3], new double[]{1, 0, 0, 0, 1, 0, 0, 0, 1}, 2);
        assertMessage("different dimensions, 2 and 3", () -> Fid.distance(two, three));
        assertMessage("sigma[0, 1] is NaN", () -> new FeatureStats(new double[2], new double[]{1, Double.NaN, 0, 1}, 2));

        FeatureStats indefinite = new FeatureStats(new double[2], new double[]{1, 0, 0, -1}, 2);
        assertMessage("imaginary component 1.0", () -> Fid.distance(indefinite, two));
        assertMessage("imaginary component 1.0", () -> Fid.distance(two, indefinite));
        assertMessage("neither covariance is positive semi-definite", () -> Fid.distance(indefinite, indefinite));
    }

    @Test
    void loadErrorsNameTheFileAndTensor() {
        Path file = tmp.resolve("bad.safetensors");
        SafetensorsWriter.write(file, Map.of("mu", Tensor.of(new float[]{1, 2}, 2)), Map.of());
        assertMessage(file + ": tensor 'mu': dtype F32, expected F64", () -> FeatureStats.load(file));

        Path noSigma = tmp.resolve("nosigma.safetensors");
        SafetensorsWriter.write(noSigma, Map.of("mu", Tensor.wrap(DType.F64, MemorySegment.ofArray(new double[2]), 2)),
                Map.of());
        assertMessage(noSigma + ": tensor 'sigma': missing", () -> FeatureStats.load(noSigma));

        Tensor mu = Tensor.wrap(DType.F64, MemorySegment.ofArray(new double[2]), 2);
        Path wide = tmp.resolve("wide.safetensors");
        SafetensorsWriter.write(wide, Map.of("mu", mu, "sigma", Tensor.wrap(DType.F64,
                MemorySegment.ofArray(new double[6]), 2, 3)), Map.of("samples", "9"));
        assertMessage(wide + ": tensor 'sigma': shape [2, 3], expected [2, 2]", () -> FeatureStats.load(wide));

        Path noCount = tmp.resolve("nocount.safetensors");
        SafetensorsWriter.write(noCount, Map.of("mu", mu, "sigma", Tensor.wrap(DType.F64,
                MemorySegment.ofArray(new double[]{1, 0, 0, 1}), 2, 2)), Map.of());
        assertMessage(noCount + ": metadata 'samples': expected the number of feature rows, got nothing",
                () -> FeatureStats.load(noCount));
    }

    private static void assertMessage(String part, org.junit.jupiter.api.function.Executable body) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, body);
        assertTrue(e.getMessage().contains(part), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }
}
