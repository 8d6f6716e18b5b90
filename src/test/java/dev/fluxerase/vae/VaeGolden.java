package dev.fluxerase.vae;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.safetensors.SafetensorsFile;
import dev.fluxerase.safetensors.TensorInfo;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Compare;
import dev.fluxerase.testing.Resources;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The VAE goldens copied by tools/vae-golden-trim.py, and comparison helpers. */
final class VaeGolden {
    static final Path TINY = Resources.path("vae/tiny");
    static final Path PIPELINE = Resources.path("vae/pipeline");
    /** The backend the VAE tests compute on (the CPU's: host memory, nothing to free). */
    static final Backend CPU = new CpuBackend();

    private VaeGolden() {
    }

    /** A tensor of a golden file as a heap copy (F32 as F32; F64 kept as a double array in {@link #f64}). */
    static Tensor tensor(Path file, String name) {
        try (TensorSource s = SafetensorsFile.open(file)) {
            Tensor t = s.tensor(name);
            return Tensor.of(Floats.toF32(t), t.shape());
        }
    }

    static double[] f64(Path file, String name) {
        try (TensorSource s = SafetensorsFile.open(file)) {
            assertEquals(DType.F64, s.info(name).dtype(), name);
            return Compare.doubles(s.tensor(name));
        }
    }

    static float[] values(Tensor t) {
        return Floats.toF32(t);
    }

    static void assertClose(String what, Tensor ours, Tensor ref, double bound) {
        double e = Compare.relToMax(ours, ref);
        assertTrue(e <= bound, what + ": rel_to_max " + e + " > " + bound);
    }

    /** rel_to_max against a reference widened to double (a float64 golden, or a float32 one); {@code what} names it. */
    static void assertClose64(String what, Tensor ours, double[] ref, double bound) {
        double e = Compare.relToMax(values(ours), ref);
        assertTrue(e <= bound, what + ": rel_to_max " + e + " > " + bound);
    }

    /** A read-only in-memory checkpoint: the tests' way to rename or reshape tensors without writing a file. */
    static final class MapSource implements TensorSource {
        private final Map<String, Tensor> tensors;
        private final String name;

        MapSource(String name, Map<String, Tensor> tensors) {
            this.name = name;
            this.tensors = new LinkedHashMap<>(tensors);
        }

        /** Every tensor of a file as heap F32 copies, in file order. */
        static MapSource copyOf(Path file) {
            Map<String, Tensor> m = new LinkedHashMap<>();
            try (TensorSource s = SafetensorsFile.open(file)) {
                for (String n : s.names()) {
                    Tensor t = s.tensor(n);
                    m.put(n, Tensor.of(Floats.toF32(t), t.shape()));
                }
            }
            return new MapSource(file.getFileName().toString(), m);
        }

        Map<String, Tensor> tensors() {
            return tensors;
        }

        @Override
        public Set<String> names() {
            return tensors.keySet();
        }

        @Override
        public boolean contains(String n) {
            return tensors.containsKey(n);
        }

        @Override
        public TensorInfo info(String n) {
            Tensor t = tensors.get(n);
            return new TensorInfo(n, t.dtype(), t.shape(), 0, t.byteSize());
        }

        @Override
        public Tensor tensor(String n) {
            return tensors.get(n);
        }

        @Override
        public Map<String, String> metadata() {
            return Map.of();
        }

        @Override
        public String describe() {
            return name;
        }

        @Override
        public void close() {
        }

        @Override
        public String toString() {
            return name + Arrays.toString(tensors.keySet().toArray());
        }
    }
}
