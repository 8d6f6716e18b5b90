package dev.fluxerase.flux;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.cpu.NaiveBackend;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** FluxWeights.to (host backends: the weights themselves) and FluxWeights.of (weights made in memory). */
class FluxWeightsDeviceTest {

    @Test
    void hostBackendsUseTheMappedWeightsInPlace() {
        for (Backend be : new Backend[]{new CpuBackend(), new NaiveBackend()}) {
            try (FluxWeights w = FluxWeights.open(Golden.weightsBf16(), Golden.config())) {
                assertSame(w, w.to(be));
                Tensor t = w.tensor("x_embedder.weight");
                assertSame(t, be.toDevice(t));
            }
        }
    }

    @Test
    void aHostBackendRefusesADeviceTensor() {
        Tensor gpu = new Tensor(Device.CUDA, DType.F32, new long[]{2}, MemorySegment.ofArray(new float[2]));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new CpuBackend().toDevice(gpu));
        assertTrue(e.getMessage().contains("CUDA"), e.getMessage());
    }

    /** Weights rebuilt through {@link FluxWeights#of} from the file's parameters give the same output bit for bit. */
    @Test
    void weightsMadeInMemoryComputeLikeTheFile() {
        Backend be = new CpuBackend();
        FluxConfig c = Golden.config();
        try (FluxWeights file = FluxWeights.open(Golden.WEIGHTS_BFL, c)) {
            FluxWeights made = FluxWeights.of(c, "copy", p -> file.tensor(p.name()));
            assertEquals("copy", made.describe());
            assertSame(made, made.to(be));
            float[] expected = be.download(new FluxModel(file, be).forward(Golden.inputs(be, c), false));
            float[] actual = be.download(new FluxModel(made, be).forward(Golden.inputs(be, c), false));
            assertArrayEquals(expected, actual);
        }
    }

    @Test
    void ofNamesAParameterWithTheWrongShape() {
        FluxConfig c = Golden.config();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FluxWeights.of(c, "made", p -> Tensor.zeros(p.shape().length == 1 ? 3 : 1, 1)));
        assertTrue(e.getMessage().startsWith("made: parameter "), e.getMessage());
        assertTrue(e.getMessage().contains("expected ["), e.getMessage());
    }
}
