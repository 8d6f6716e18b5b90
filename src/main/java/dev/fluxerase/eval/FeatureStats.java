package dev.fluxerase.eval;

import dev.fluxerase.safetensors.SafetensorsFile;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.safetensors.TensorInfo;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The FID statistics of one feature set: mu (the mean row), sigma (the covariance, divided by N−1, row-major) and N.
 * Saved as a safetensors file (tensors {@code mu} [d] and {@code sigma} [d, d], F64; N in the metadata key
 * {@value #SAMPLES}) so a reference dataset's statistics are computed once and reused.
 */
public final class FeatureStats {
    static final String SAMPLES = "samples";
    /** sigma is one Java array of d² doubles. */
    static final int MAX_DIMS = 46_340;
    private static final String ABOUT = "flux-erase FID statistics: mu = mean of the feature rows, sigma = their"
            + " covariance divided by N-1 (np.cov(rowvar=False)), N = metadata 'samples'";
    private static final ValueLayout.OfDouble F64_LE =
            ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final double[] mu;
    private final double[] sigma;
    private final long samples;

    /** {@code sigma} is row-major d×d; the arrays are copied. */
    public FeatureStats(double[] mu, double[] sigma, long samples) {
        int d = mu.length;
        if (d < 1 || d > MAX_DIMS) {
            throw new IllegalArgumentException("FID statistics: mu has " + d + " values, expected 1 to " + MAX_DIMS);
        }
        if (sigma.length != (long) d * d) {
            throw new IllegalArgumentException("FID statistics: sigma has " + sigma.length + " values, expected " + d + "x"
                    + d + " = " + (long) d * d + " for mu of length " + d);
        }
        if (samples < 2) {
            throw new IllegalArgumentException("FID statistics: need at least 2 samples, got " + samples);
        }
        checkFinite("mu", mu, d);
        checkFinite("sigma", sigma, d);
        this.mu = mu.clone();
        this.sigma = sigma.clone();
        this.samples = samples;
    }

    public int dims() {
        return mu.length;
    }

    public long samples() {
        return samples;
    }

    public double[] mu() {
        return mu.clone();
    }

    /** Row-major d×d. */
    public double[] sigma() {
        return sigma.clone();
    }

    double[] sigmaView() {
        return sigma;
    }

    double[] muView() {
        return mu;
    }

    public void save(Path file) {
        int d = dims();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("mu", Tensor.wrap(DType.F64, littleEndian(mu), d));
        tensors.put("sigma", Tensor.wrap(DType.F64, littleEndian(sigma), d, d));
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("about", ABOUT);
        metadata.put(SAMPLES, Long.toString(samples));
        SafetensorsWriter.write(file, tensors, metadata);
    }

    public static FeatureStats load(Path file) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            double[] mu = read(file, f, "mu", null);
            double[] sigma = read(file, f, "sigma", new long[]{mu.length, mu.length});
            String n = f.metadata().get(SAMPLES);
            long samples;
            try {
                samples = Long.parseLong(n == null ? "" : n);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(file + ": metadata '" + SAMPLES + "': expected the number of feature"
                        + " rows, got " + (n == null ? "nothing" : "'" + n + "'"));
            }
            try {
                return new FeatureStats(mu, sigma, samples);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
            }
        }
    }

    private static double[] read(Path file, SafetensorsFile f, String name, long[] shape) {
        if (!f.contains(name)) {
            throw new IllegalArgumentException(file + ": tensor '" + name + "': missing; FID statistics files hold 'mu'"
                    + " and 'sigma'");
        }
        TensorInfo info = f.info(name);
        if (info.dtype() != DType.F64) {
            throw new IllegalArgumentException(file + ": tensor '" + name + "': dtype " + info.dtype()
                    + ", expected F64");
        }
        if (shape == null ? info.rank() != 1 || info.dim(0) < 1 || info.dim(0) > MAX_DIMS
                : !Arrays.equals(info.shape(), shape)) {
            throw new IllegalArgumentException(file + ": tensor '" + name + "': shape " + Arrays.toString(info.shape())
                    + ", expected " + (shape == null ? "[d] with d at most " + MAX_DIMS : Arrays.toString(shape)));
        }
        MemorySegment data = f.tensor(name).data();
        double[] out = new double[Math.toIntExact(info.numel())];
        for (int i = 0; i < out.length; i++) {
            out[i] = data.get(F64_LE, (long) i * 8);
        }
        return out;
    }

    private static MemorySegment littleEndian(double[] values) {
        MemorySegment seg = MemorySegment.ofArray(new byte[values.length * 8]);
        for (int i = 0; i < values.length; i++) {
            seg.set(F64_LE, (long) i * 8, values[i]);
        }
        return seg;
    }

    private static void checkFinite(String name, double[] values, int d) {
        for (int i = 0; i < values.length; i++) {
            if (!Double.isFinite(values[i])) {
                String at = name.equals("mu") ? "[" + i + "]" : "[" + i / d + ", " + i % d + "]";
                throw new IllegalArgumentException("FID statistics: " + name + at + " is " + values[i]
                        + ", expected finite values");
            }
        }
    }
}
