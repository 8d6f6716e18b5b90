package dev.fluxerase.vae;

import dev.fluxerase.cpu.CpuGemm;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A conv with bias over channels-last maps: 1×1, or 3×3 in one of the VAE's three geometries ({@link Mode}). A 3×3 conv
 * is im2col + GEMM, tile by tile so the column buffer stays bounded (16 MB) at any resolution: for a tile of output
 * pixels, row p of the column matrix holds the 9 input pixels' channel vectors in (ky, kx, cin) order, and the tile's
 * output rows are col · Wᵀ with W reordered at load to [cout][ky][kx][cin]. The output is prefilled with the bias (plus a
 * residual when given) and the GEMM accumulates into it (beta 1), which fuses ResNet skip connections. Inference only.
 */
final class Conv2d {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int COL_FLOATS = 1 << 22;

    /** Geometry of a 3×3 conv. */
    enum Mode {
        /** stride 1, zero padding 1 on every side: same size. */
        SAME,
        /** diffusers Downsample2D / BFL Downsample: zero-pad right and bottom by 1, stride 2, no other padding. */
        DOWN,
        /** diffusers Upsample2D / BFL Upsample: nearest-neighbour ×2, then SAME; the upsampled map is never built. */
        UP
    }

    final int cin;
    final int cout;
    final int k;
    private final float[] bias;
    private final Tensor weight;

    Conv2d(int cin, int cout, int k, float[] weight, float[] bias) {
        if ((k != 1 && k != 3) || weight.length != cout * k * k * cin || bias.length != cout) {
            throw new IllegalArgumentException("conv " + cin + "→" + cout + " k" + k + " with " + weight.length
                    + " weights and " + bias.length + " biases");
        }
        this.cin = cin;
        this.cout = cout;
        this.k = k;
        this.bias = bias;
        this.weight = Tensor.of(weight, cout, (long) k * k * cin);
    }

    static Conv2d load(VaeWeights w, String prefix, int cin, int cout, int k) {
        return new Conv2d(cin, cout, k, w.conv(prefix + ".weight", cout, cin, k), w.vector(prefix + ".bias", cout));
    }

    /** conv(x) + bias (+ residual, which must have the output's shape); mode is ignored for a 1×1 conv. */
    FeatureMap forward(FeatureMap x, Mode mode, FeatureMap residual) {
        return forward(x, mode, residual, COL_FLOATS);
    }

    /** {@link #forward(FeatureMap, Mode, FeatureMap)} with a column buffer of at most {@code colFloats} (tests tiling). */
    FeatureMap forward(FeatureMap x, Mode mode, FeatureMap residual, int colFloats) {
        if (x.c != cin) {
            throw new IllegalArgumentException("conv over " + cin + " channels got " + x.c);
        }
        int oh;
        int ow;
        if (k == 1 || mode == Mode.SAME) {
            oh = x.h;
            ow = x.w;
        } else if (mode == Mode.UP) {
            oh = 2 * x.h;
            ow = 2 * x.w;
        } else {
            if (x.h < 2 || x.w < 2) {
                throw new IllegalArgumentException("stride-2 conv needs at least 2×2 input, got " + x.h + "×" + x.w);
            }
            oh = (x.h - 2) / 2 + 1;
            ow = (x.w - 2) / 2 + 1;
        }
        FeatureMap y = new FeatureMap(oh, ow, cout);
        if (residual != null && (residual.h != oh || residual.w != ow || residual.c != cout)) {
            throw new IllegalArgumentException("residual " + residual.h + "×" + residual.w + "×" + residual.c
                    + " for a conv output " + oh + "×" + ow + "×" + cout);
        }
        prefill(y, residual);
        int pixels = oh * ow;
        if (k == 1) {
            CpuGemm.gemm(false, true, 1f, matrix(x.data, 0, pixels, cin), weight, 1f, matrix(y.data, 0, pixels, cout));
            return y;
        }
        int kdim = 9 * cin;
        int tile = Math.max(1, Math.min(pixels, colFloats / kdim));
        float[] col = new float[tile * kdim];
        for (int p0 = 0; p0 < pixels; p0 += tile) {
            int n = Math.min(tile, pixels - p0);
            int start = p0;
            Par.range(n, kdim, (lo, hi) -> im2col(x, mode, ow, col, start, lo, hi));
            CpuGemm.gemm(false, true, 1f, matrix(col, 0, n, kdim), weight, 1f, matrix(y.data, (long) p0 * cout, n, cout));
        }
        return y;
    }

    private void prefill(FeatureMap y, FeatureMap residual) {
        int bound = F.loopBound(cout);
        Par.range(y.pixels(), cout, (lo, hi) -> {
            for (int p = lo; p < hi; p++) {
                int base = p * cout;
                if (residual == null) {
                    System.arraycopy(bias, 0, y.data, base, cout);
                    continue;
                }
                int o = 0;
                for (; o < bound; o += F.length()) {
                    FloatVector.fromArray(F, bias, o).add(FloatVector.fromArray(F, residual.data, base + o))
                            .intoArray(y.data, base + o);
                }
                for (; o < cout; o++) {
                    y.data[base + o] = bias[o] + residual.data[base + o];
                }
            }
        });
    }

    /** Column rows [lo, hi) of the tile that starts at output pixel {@code start}; out-of-image taps are zeros. */
    private void im2col(FeatureMap x, Mode mode, int ow, float[] col, int start, int lo, int hi) {
        int kdim = 9 * cin;
        boolean up = mode == Mode.UP;
        boolean down = mode == Mode.DOWN;
        int vh = up ? 2 * x.h : x.h;
        int vw = up ? 2 * x.w : x.w;
        for (int r = lo; r < hi; r++) {
            int p = start + r;
            int oy = p / ow;
            int ox = p % ow;
            int dst = r * kdim;
            for (int ky = 0; ky < 3; ky++) {
                int vy = down ? 2 * oy + ky : oy + ky - 1;
                for (int kx = 0; kx < 3; kx++, dst += cin) {
                    int vx = down ? 2 * ox + kx : ox + kx - 1;
                    if (vy < 0 || vy >= vh || vx < 0 || vx >= vw) {
                        Arrays.fill(col, dst, dst + cin, 0f);
                    } else {
                        int src = up ? ((vy >> 1) * x.w + (vx >> 1)) * cin : (vy * x.w + vx) * cin;
                        System.arraycopy(x.data, src, col, dst, cin);
                    }
                }
            }
        }
    }

    /** A row-major [rows, cols] matrix starting at float {@code firstFloat} of {@code data}, as a tensor over that memory. */
    static Tensor matrix(float[] data, long firstFloat, int rows, int cols) {
        MemorySegment seg = MemorySegment.ofArray(data).asSlice(firstFloat * Float.BYTES, (long) rows * cols * Float.BYTES);
        return Tensor.wrap(DType.F32, seg, rows, cols);
    }
}
