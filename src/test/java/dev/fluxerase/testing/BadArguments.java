package dev.fluxerase.testing;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.ConvGeometry;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Bad calls of every Backend op, each with the one line that every backend must refuse it with (BackendContract): the
 * naive and CPU backends in BackendContractTest, the CUDA backend in CudaContractTest, on a GPU or the stand-in, since
 * each call is refused before anything is launched. The tensors are made on the backend under test.
 */
public final class BadArguments {
    private BadArguments() {
    }

    /** A bad call on a backend, and the message it must be refused with. */
    public record Case(String expected, Consumer<Backend> call) {
    }

    /** Asserts that {@code be} refuses every case with its message. */
    public static void assertRefused(Backend be) {
        for (Case c : cases()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.call().accept(be),
                    be.name() + " accepted the call expected to fail with: " + c.expected());
            assertEquals(c.expected(), e.getMessage(), be.name());
        }
    }

    private static Tensor f32(Backend be, long... shape) {
        return be.allocate(DType.F32, shape);
    }

    private static Tensor of(Backend be, DType dtype, long... shape) {
        return be.allocate(dtype, shape);
    }

    private static final long[] FOUR = {0, 0, 3, 1};

    public static List<Case> cases() {
        return List.of(
                // memory
                new Case("upload: 5 values for shape [2, 3]", be -> be.upload(new float[5], 2, 3)),
                new Case("write: 5 values for dst [2, 3] F32", be -> be.write(f32(be, 2, 3), new float[5])),
                new Case("download: tensor must be a float tensor, got [3] I32",
                        be -> be.download(of(be, DType.I32, 3))),
                new Case("copy: dst must be a float tensor, got [3] I32",
                        be -> be.copy(f32(be, 3), of(be, DType.I32, 3))),
                new Case("copy: src [3] F32 and dst [4] BF16 differ in element count",
                        be -> be.copy(f32(be, 3), of(be, DType.BF16, 4))),
                new Case("fill: tensor is null", be -> be.fill(null, 1f)),
                new Case("copyStrided: src must be F32 or BF16, got [2, 3] F16",
                        be -> be.copyStrided(of(be, DType.F16, 2, 3), 0, FOUR, f32(be, 6), 0, FOUR,
                                new long[]{1, 1, 2, 3}, false)),
                new Case("copyStrided: accumulate needs an F32 dst, got [6] BF16",
                        be -> be.copyStrided(f32(be, 2, 3), 0, FOUR, of(be, DType.BF16, 6), 0, FOUR,
                                new long[]{1, 1, 2, 3}, true)),
                new Case("copyStrided: src elements [0, 6] (offset 0, strides [0, 0, 3, 1], sizes [1, 1, 2, 4]) "
                        + "outside [2, 3] F32", be -> be.copyStrided(f32(be, 2, 3), 0, FOUR, f32(be, 8), 0,
                        new long[]{0, 0, 4, 1}, new long[]{1, 1, 2, 4}, false)),
                // GEMM
                new Case("gemm: op(a) 4x5 from a [4, 5], op(b) 6x3 from b [6, 3] and c [4, 3] do not fit "
                        + "(c must be 4x3)", be -> be.gemm(false, false, 1f, f32(be, 4, 5), f32(be, 6, 3), 0f,
                        f32(be, 4, 3))),
                new Case("gemm: op(a) 5x4 from a [4, 5]ᵀ, op(b) 4x3 from b [3, 4]ᵀ and c [4, 3] do not fit "
                        + "(c must be 5x3)", be -> be.gemm(true, true, 1f, f32(be, 4, 5), f32(be, 3, 4), 0f,
                        f32(be, 4, 3))),
                new Case("gemm: b must be F32, BF16 or F16, got [3, 5] I32",
                        be -> be.gemm(false, true, 1f, f32(be, 4, 5), of(be, DType.I32, 3, 5), 0f, f32(be, 4, 3))),
                new Case("gemm: c must be F32, got [4, 3] BF16",
                        be -> be.gemm(false, true, 1f, f32(be, 4, 5), f32(be, 3, 5), 0f, of(be, DType.BF16, 4, 3))),
                new Case("gemm: a must be F32 or BF16, got [4, 5] F16",
                        be -> be.gemm(false, true, 1f, of(be, DType.F16, 4, 5), f32(be, 3, 5), 0f, f32(be, 4, 3))),
                new Case("linear: x [4, 5] F32, w [3, 6] BF16 and y [4, 3] F32 do not fit (w must be [out, x's columns],"
                        + " y [x's rows, out])", be -> be.linear(f32(be, 4, 5), of(be, DType.BF16, 3, 6), null,
                        f32(be, 4, 3), null)),
                new Case("linear: y must be F32 or BF16, got [4, 3] F16", be -> be.linear(f32(be, 4, 5),
                        f32(be, 3, 5), null, of(be, DType.F16, 4, 3), null)),
                new Case("linear: bias must have 3 elements, got [4] F32", be -> be.linear(f32(be, 4, 5),
                        f32(be, 3, 5), f32(be, 4), f32(be, 4, 3), null)),
                new Case("linear: y [4, 3] BF16 and preGelu [4, 2] BF16 differ in element count",
                        be -> be.linear(of(be, DType.BF16, 4, 5), f32(be, 3, 5), null, of(be, DType.BF16, 4, 3),
                                of(be, DType.BF16, 4, 2))),
                new Case("addBias: bias must have 8 elements, got [7] BF16",
                        be -> be.addBias(f32(be, 2, 8), of(be, DType.BF16, 7))),
                new Case("sumRows: db must have 8 elements, got [2, 8] F32", be -> be.sumRows(f32(be, 2, 8),
                        f32(be, 2, 8))),
                // elementwise and reductions
                new Case("axpy: x [2, 8] F32 and y [15] F32 differ in element count",
                        be -> be.axpy(1f, f32(be, 2, 8), f32(be, 15))),
                new Case("mul: a [4] F32 and out [5] F32 differ in element count",
                        be -> be.mul(f32(be, 4), f32(be, 4), f32(be, 5))),
                new Case("scale: x is null", be -> be.scale(null, 2f)),
                new Case("sum: x must be F32, got [4] F16", be -> be.sum(of(be, DType.F16, 4))),
                new Case("dot: a [4] F32 and b [2, 3] F32 differ in element count",
                        be -> be.dot(f32(be, 4), f32(be, 2, 3))),
                // activations
                new Case("silu: x must be F32, got [2, 8] BF16", be -> be.silu(of(be, DType.BF16, 2, 8), f32(be, 2, 8))),
                new Case("siluBackward: dy [16] F32 and dx [15] F32 differ in element count",
                        be -> be.siluBackward(f32(be, 16), f32(be, 16), f32(be, 15))),
                new Case("geluTanh: y is null", be -> be.geluTanh(f32(be, 4), null)),
                new Case("geluTanhBackward: dy [4] F32 and x [5] F32 differ in element count",
                        be -> be.geluTanhBackward(f32(be, 4), f32(be, 5), f32(be, 4))),
                new Case("geluTanhBackward: x must be F32 or BF16, got [4] F16",
                        be -> be.geluTanhBackward(f32(be, 4), of(be, DType.F16, 4), f32(be, 4))),
                new Case("geluTanhBackward: dx must be F32, got [4] BF16",
                        be -> be.geluTanhBackward(f32(be, 4), of(be, DType.BF16, 4), of(be, DType.BF16, 4))),
                new Case("softmax: x [2, 4] F32 and y [2, 5] F32 differ in element count",
                        be -> be.softmax(f32(be, 2, 4), f32(be, 2, 5))),
                new Case("softmaxBackward: y must be F32, got [2, 4] BF16",
                        be -> be.softmaxBackward(f32(be, 2, 4), of(be, DType.BF16, 2, 4), f32(be, 2, 4))),
                // norms
                new Case("layerNorm: rstd must have 3 elements, got [4] F32",
                        be -> be.layerNorm(f32(be, 3, 8), f32(be, 3, 8), f32(be, 3), f32(be, 4), 1e-6f)),
                new Case("layerNormBackward: mean is null",
                        be -> be.layerNormBackward(f32(be, 3, 8), f32(be, 3, 8), null, f32(be, 3), f32(be, 3, 8))),
                new Case("rmsNorm: weight must have 8 elements, got [4] BF16",
                        be -> be.rmsNorm(f32(be, 3, 8), of(be, DType.BF16, 4), f32(be, 3, 8), null, 1e-6f)),
                new Case("rmsNorm: weight must be F32, BF16 or F16, got [8] I32",
                        be -> be.rmsNorm(f32(be, 3, 8), of(be, DType.I32, 8), f32(be, 3, 8), null, 1e-6f)),
                new Case("rmsNormBackward: rrms is null", be -> be.rmsNormBackward(f32(be, 3, 8), f32(be, 3, 8),
                        f32(be, 8), null, f32(be, 3, 8), null)),
                new Case("rmsNormBackward: dWeight must have 8 elements, got [3] F32",
                        be -> be.rmsNormBackward(f32(be, 3, 8), f32(be, 3, 8), f32(be, 8), f32(be, 3), f32(be, 3, 8),
                                f32(be, 3))),
                // adaLN modulation
                new Case("modulate: chunk 2 outside the 2 chunks of mod [1, 16] F32",
                        be -> be.modulate(f32(be, 1, 2, 8), f32(be, 1, 16), 0, 2, f32(be, 1, 2, 8))),
                new Case("modulate: x [1, 3, 8] F32 is not [B, T, C] with B = 2 rows of mod [2, 16] F32 and k·C columns",
                        be -> be.modulate(f32(be, 1, 3, 8), f32(be, 2, 16), 0, 1, f32(be, 1, 3, 8))),
                new Case("modulateBackward: dmod [1, 16] F32 and its forward operand [1, 24] F32 differ in element count",
                        be -> be.modulateBackward(f32(be, 1, 2, 8), f32(be, 1, 2, 8), f32(be, 1, 24), 0, 1,
                                f32(be, 1, 2, 8), f32(be, 1, 16))),
                new Case("gateAdd: x [1, 2, 8] F32 is not [B, T, C] with B = 1 rows of mod [1, 20] F32 and k·C columns",
                        be -> be.gateAdd(f32(be, 1, 2, 8), f32(be, 1, 2, 8), f32(be, 1, 20), 0)),
                new Case("gateAddBackward: df [1, 2, 7] F32 and its forward operand [1, 2, 8] F32 differ in element "
                        + "count", be -> be.gateAddBackward(f32(be, 1, 2, 8), f32(be, 1, 2, 8), f32(be, 1, 16), 1,
                        f32(be, 1, 2, 7), null)),
                // rotary embedding
                new Case("rope: x [2, 8] F32 is not [B, H, L, D] for cos [L, D/2] [2, 3] F32",
                        be -> be.rope(f32(be, 2, 8), f32(be, 2, 3), f32(be, 2, 3), f32(be, 2, 8))),
                new Case("ropeBackward: sin [2, 2] F32 differs from cos [2, 4] F32",
                        be -> be.ropeBackward(f32(be, 2, 8), f32(be, 2, 4), f32(be, 2, 2), f32(be, 2, 8))),
                // attention
                new Case("attention: q [1, 2, 4, 8] F32, k [1, 3, 4, 8] F32, v [1, 3, 4, 8] F32 differ in their "
                        + "leading dimensions", be -> be.attention(f32(be, 1, 2, 4, 8), f32(be, 1, 3, 4, 8),
                        f32(be, 1, 3, 4, 8), f32(be, 1, 2, 4, 8), null, null, 1f)),
                new Case("attention: k [1, 2, 4, 8] F32 and v [1, 2, 4, 6] F32 must be [B, H, Lk, 8]",
                        be -> be.attention(f32(be, 1, 2, 4, 8), f32(be, 1, 2, 4, 8), f32(be, 1, 2, 4, 6),
                                f32(be, 1, 2, 4, 8), null, null, 1f)),
                new Case("attention: probs must have 32 elements, got [1, 2, 4, 3] F32",
                        be -> be.attention(f32(be, 1, 2, 4, 8), f32(be, 1, 2, 4, 8), f32(be, 1, 2, 4, 8),
                                f32(be, 1, 2, 4, 8), f32(be, 1, 2, 4), f32(be, 1, 2, 4, 3), 1f)),
                new Case("attentionBackward: lse is null",
                        be -> be.attentionBackward(f32(be, 1, 2, 4, 8), f32(be, 1, 2, 4, 8), f32(be, 1, 2, 4, 8),
                                f32(be, 1, 2, 4, 8), f32(be, 1, 2, 4, 8), null, f32(be, 1, 2, 4, 8),
                                f32(be, 1, 2, 4, 8), f32(be, 1, 2, 4, 8), 1f)),
                new Case("attentionBackward: k [1, 2, 4, 8] F32 and dk [1, 2, 5, 8] F32 differ in element count",
                        be -> be.attentionBackward(f32(be, 1, 2, 4, 8), f32(be, 1, 2, 4, 8), f32(be, 1, 2, 4, 8),
                                f32(be, 1, 2, 4, 8), f32(be, 1, 2, 4, 8), f32(be, 1, 2, 4), f32(be, 1, 2, 4, 8),
                                f32(be, 1, 2, 5, 8), f32(be, 1, 2, 4, 8), 1f)),
                // convolution and group norm
                new Case("conv2d: x must be [B, H, W, Cin], got [4, 4, 3] F32", be -> be.conv2d(f32(be, 4, 4, 3),
                        f32(be, 4, 3, 3, 3), null, f32(be, 1, 4, 4, 4), ConvGeometry.SAME, false)),
                new Case("conv2d: w must be F32, BF16 or F16, got [4, 3, 3, 3] I32", be -> be.conv2d(
                        f32(be, 1, 4, 4, 3), of(be, DType.I32, 4, 3, 3, 3), null, f32(be, 1, 4, 4, 4),
                        ConvGeometry.SAME, false)),
                new Case("conv2d: w [4, 3, 3, 2] F32 must be [Cout, kh, kw, 3] with kh, kw ≥ 1 for x [1, 4, 4, 3] F32",
                        be -> be.conv2d(f32(be, 1, 4, 4, 3), f32(be, 4, 3, 3, 2), null, f32(be, 1, 4, 4, 4),
                                ConvGeometry.SAME, false)),
                new Case("conv2d: bias must have 4 elements, got [5] BF16", be -> be.conv2d(f32(be, 1, 4, 4, 3),
                        of(be, DType.BF16, 4, 3, 3, 3), of(be, DType.BF16, 5), f32(be, 1, 4, 4, 4),
                        ConvGeometry.SAME, true)),
                new Case("conv2d: a 3x3 kernel does not fit x [1, 1, 1, 3] F32 at stride 1, padding 0/0, upsample 1",
                        be -> be.conv2d(f32(be, 1, 1, 1, 3), f32(be, 4, 3, 3, 3), null, f32(be, 1, 1, 1, 4),
                                ConvGeometry.POINTWISE, false)),
                new Case("conv2d: y must be [1, 2, 2, 4] for x [1, 5, 5, 3] F32, w [4, 3, 3, 3] F32 at stride 2, "
                        + "padding 0/1, upsample 1, got [1, 3, 3, 4] F32", be -> be.conv2d(f32(be, 1, 5, 5, 3),
                        f32(be, 4, 3, 3, 3), f32(be, 4), f32(be, 1, 3, 3, 4), ConvGeometry.DOWN, false)),
                new Case("conv2d: y must be [2, 4, 6, 5] for x [2, 2, 3, 2] F32, w [5, 3, 3, 2] F16 at stride 1, "
                        + "padding 1/1, upsample 2, got [2, 4, 4, 5] F32", be -> be.conv2d(f32(be, 2, 2, 3, 2),
                        of(be, DType.F16, 5, 3, 3, 2), null, f32(be, 2, 4, 4, 5), ConvGeometry.UP, false)),
                new Case("conv2d: geometry is null", be -> be.conv2d(f32(be, 1, 4, 4, 3), f32(be, 4, 1, 1, 3), null,
                        f32(be, 1, 4, 4, 4), null, false)),
                new Case("groupNorm: x must be [B, P, C], got [4, 48] F32", be -> be.groupNorm(f32(be, 4, 48),
                        f32(be, 48), f32(be, 48), f32(be, 4, 48), 4, 1e-6f, true)),
                new Case("groupNorm: x [1, 4, 8] F32 and y [1, 4, 6] F32 differ in element count",
                        be -> be.groupNorm(f32(be, 1, 4, 8), f32(be, 8), f32(be, 8), f32(be, 1, 4, 6), 4, 1e-6f,
                                false)),
                new Case("groupNorm: beta must have 8 elements, got [6] F16", be -> be.groupNorm(f32(be, 1, 4, 8),
                        of(be, DType.BF16, 8), of(be, DType.F16, 6), f32(be, 1, 4, 8), 4, 1e-6f, false)),
                new Case("groupNorm: 32 groups do not divide the 48 channels of x [1, 4, 48] F32",
                        be -> be.groupNorm(f32(be, 1, 4, 48), f32(be, 48), f32(be, 48), f32(be, 1, 4, 48), 32, 1e-6f,
                                true)),
                new Case("groupNorm: 0 groups do not divide the 8 channels of x [1, 4, 8] F32",
                        be -> be.groupNorm(f32(be, 1, 4, 8), f32(be, 8), f32(be, 8), f32(be, 1, 4, 8), 0, 1e-6f,
                                true)),
                // optimizer
                new Case("adamw: step counts from 1, got 0", be -> be.adamw(f32(be, 4), f32(be, 4), f32(be, 4),
                        f32(be, 4), 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 0)),
                new Case("adamwBf16: param [4] F32 and v [3] F32 differ in element count",
                        be -> be.adamwBf16(f32(be, 4), f32(be, 4), f32(be, 4), f32(be, 3), 1f, 0.1f, 0.999f, 0.001f,
                                1f, 1e-8f, -1e-3f)),
                new Case("adamwAll: 2 params but 1 grads, 2 m and 2 v", be -> be.adamwAll(
                        List.of(f32(be, 4), f32(be, 2)), List.of(f32(be, 4)), List.of(f32(be, 4), f32(be, 2)),
                        List.of(f32(be, 4), f32(be, 2)), 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1)),
                new Case("adamwAll: params[1] [2] F32 and ms[1] [3] F32 differ in element count", be -> be.adamwAll(
                        List.of(f32(be, 4), f32(be, 2)), List.of(f32(be, 4), f32(be, 2)),
                        List.of(f32(be, 4), f32(be, 3)), List.of(f32(be, 4), f32(be, 2)), 1e-3f, 0.9f, 0.999f, 1e-8f,
                        0f, 1)));
    }
}
