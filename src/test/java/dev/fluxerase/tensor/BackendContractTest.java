package dev.fluxerase.tensor;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.cpu.NaiveBackend;
import dev.fluxerase.testing.BadArguments;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Both host backends refuse every bad call of BadArguments with the contract's line (CudaContractTest holds the CUDA
 * backend to the same lines), and a tensor of another device by naming both devices.
 */
class BackendContractTest {
    private static final List<Backend> HOST = List.of(new NaiveBackend(), new CpuBackend());

    @Test
    void hostBackendsRefuseEveryBadCallWithTheContractsLine() {
        for (Backend be : HOST) {
            BadArguments.assertRefused(be);
        }
    }

    @Test
    void aDeviceTensorIsNamedWithBothDevices() {
        Tensor onGpu = new Tensor(Device.CUDA, DType.F32, new long[]{2}, MemorySegment.ofArray(new float[2]));
        for (Backend be : HOST) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> be.silu(onGpu, be.allocate(DType.F32, 2)));
            assertEquals("silu: x must be on CPU, got [2] F32 on CUDA", e.getMessage(), be.name());
            e = assertThrows(IllegalArgumentException.class, () -> be.toDevice(onGpu));
            assertEquals("toDevice: host must be on CPU, got [2] F32 on CUDA", e.getMessage(), be.name());
        }
    }

    /** A GEMM over k = 0 is allowed and leaves beta·c, which a contract reading rows as numel / cols would refuse. */
    @Test
    void gemmOverAnEmptyInnerDimensionScalesC() {
        for (Backend be : HOST) {
            Tensor c = be.upload(new float[]{1, 2, 3, 4, 5, 6}, 2, 3);
            be.gemm(false, true, 1f, be.allocate(DType.F32, 2, 0), be.allocate(DType.F32, 3, 0), 2f, c);
            assertEquals(List.of(2f, 4f, 6f, 8f, 10f, 12f), boxed(be.download(c)), be.name());
        }
    }

    /** The VAE's four geometries give its output sizes, and a geometry no conv could use is refused when made. */
    @Test
    void convGeometryOutputSizes() {
        assertEquals(7, ConvGeometry.POINTWISE.outSize(7, 1));
        assertEquals(7, ConvGeometry.SAME.outSize(7, 3));
        assertEquals(3, ConvGeometry.DOWN.outSize(7, 3), "(7 + 1 − 3) / 2 + 1, floor");
        assertEquals(4, ConvGeometry.DOWN.outSize(8, 3));
        assertEquals(14, ConvGeometry.UP.outSize(7, 3));
        assertEquals(0, ConvGeometry.POINTWISE.outSize(1, 2), "a kernel wider than the input");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ConvGeometry(1, 0, 0, 3));
        assertEquals("conv geometry: stride 1 (≥ 1), padding 0/0 (≥ 0), upsample 3 (1 or 2)", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new ConvGeometry(0, 1, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new ConvGeometry(1, -1, 1, 1));
    }

    private static List<Float> boxed(float[] v) {
        Float[] b = new Float[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = v[i];
        }
        return List.of(b);
    }
}
