package dev.fluxerase.cuda;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every host-to-device copy from a temporary host buffer is waited for before the buffer is freed: cuMemcpyHtoDAsync
 * from pageable memory may return before the driver has read it. Runs on the fake driver, so no GPU is needed.
 */
class CudaBackendHostCopyTest {

    /** The calls {@code op} made, checked to contain exactly one copy to the device, directly followed by a wait. */
    private static void copiesAreWaitedFor(String what, Consumer<CudaBackend> op) {
        FakeCuda fake = new FakeCuda();
        try (CudaBackend be = fake.backend()) {
            fake.calls.clear();
            op.accept(be);
            List<String> calls = List.copyOf(fake.calls);
            int copy = calls.indexOf("cuMemcpyHtoDAsync_v2");
            assertTrue(copy >= 0 && copy == calls.lastIndexOf("cuMemcpyHtoDAsync_v2"), what + ": one copy expected in " + calls);
            assertEquals("cuStreamSynchronize", copy + 1 < calls.size() ? calls.get(copy + 1) : null,
                    what + ": the copy must be waited for before its host buffer is freed: " + calls);
        }
    }

    @Test
    void upload() {
        copiesAreWaitedFor("upload", be -> be.upload(new float[] {1, 2, 3, 4}, 2, 2));
    }

    @Test
    void toDevice() {
        copiesAreWaitedFor("toDevice", be -> be.toDevice(Tensor.of(new float[] {1, 2}, 2)));
    }

    @Test
    void attentionColumnProbabilities() {
        copiesAreWaitedFor("attentionColumnProbabilities", be -> {
            Tensor q = be.allocate(DType.F32, 1, 1, 16, 128);
            Tensor lse = be.allocate(DType.F32, 1, 1, 16);
            Tensor out = be.allocate(DType.F32, 1, 1, 16, 2);
            be.attentionColumnProbabilities(q, q, lse, new int[] {0, 5}, 0.1f, out);
        });
    }

    @Test
    void adamwAll() {
        copiesAreWaitedFor("adamwAll", be -> {
            Tensor p = be.allocate(DType.F32, 8);
            be.adamwAll(List.of(p), List.of(p), List.of(p), List.of(p), 1e-3f, 0.9f, 0.999f, 1e-8f, 0, 1);
        });
    }
}
