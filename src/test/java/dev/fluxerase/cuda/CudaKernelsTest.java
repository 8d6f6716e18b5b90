package dev.fluxerase.cuda;

import dev.fluxerase.tensor.DType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CudaKernelsTest {

    @Test
    void packedArgumentsPointAtTheirValues() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ptrs = CudaKernels.packArguments(a, Kernel.AXPY, 10L, 2.5f, 0x1000L, 0x2000L);
            MemorySegment p0 = ptrs.getAtIndex(ValueLayout.ADDRESS, 0).reinterpret(8);
            MemorySegment p1 = ptrs.getAtIndex(ValueLayout.ADDRESS, 1).reinterpret(8);
            MemorySegment p3 = ptrs.getAtIndex(ValueLayout.ADDRESS, 3).reinterpret(8);
            assertEquals(10L, p0.get(ValueLayout.JAVA_LONG, 0));
            assertEquals(2.5f, p1.get(ValueLayout.JAVA_FLOAT, 0));
            assertEquals(0x2000L, p3.get(ValueLayout.JAVA_LONG, 0));
            assertEquals(0, p0.address() % 8);
            assertEquals(MemorySegment.NULL, ptrs.reinterpret(5 * 8L).getAtIndex(ValueLayout.ADDRESS, 4),
                    "ended by a NULL, which the stand-in driver counts up to");
        }
    }

    @Test
    void wrongArgumentCountOrTypeIsRejectedBeforeAnyLaunch() {
        try (Arena a = Arena.ofConfined()) {
            IllegalArgumentException count = assertThrows(IllegalArgumentException.class,
                    () -> CudaKernels.packArguments(a, Kernel.AXPY, 10L, 2.5f, 0x1000L));
            assertEquals("axpy_f32 takes 4 arguments, got 3", count.getMessage());
            IllegalArgumentException type = assertThrows(IllegalArgumentException.class,
                    () -> CudaKernels.packArguments(a, Kernel.AXPY, 10L, 2.5, 0x1000L, 0x2000L));
            assertEquals("axpy_f32 argument 1 (F) must be a Float, got Double", type.getMessage());
            assertThrows(IllegalArgumentException.class, () -> CudaKernels.packArguments(a, Kernel.SOFTMAX_FWD, 4L, 8L,
                    0x10L, 0x20L));
        }
    }

    @Test
    void dtypeCodesMatchCommonCuh() throws Exception {
        String h = java.nio.file.Files.readString(java.nio.file.Path.of("kernels/common.cuh"));
        assertTrue(h.contains("#define DT_F32 " + CudaKernels.dtypeCode(DType.F32)));
        assertTrue(h.contains("#define DT_BF16 " + CudaKernels.dtypeCode(DType.BF16)));
        assertTrue(h.contains("#define DT_F16 " + CudaKernels.dtypeCode(DType.F16)));
        assertThrows(IllegalArgumentException.class, () -> CudaKernels.dtypeCode(DType.F8_E4M3));
    }
}
