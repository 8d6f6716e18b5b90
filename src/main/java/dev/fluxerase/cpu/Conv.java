package dev.fluxerase.cpu;

import dev.fluxerase.tensor.BackendContract;
import dev.fluxerase.tensor.ConvGeometry;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * The VAE's conv as GEMMs: y [B·OH·OW, Cout] = col · Wᵀ, with W viewed in place as [Cout, kh·kw·Cin] and row p of col the
 * taps of output pixel p in (ky, kx, ci) order, which is W's own order, so the weight is never reordered. col is built
 * (im2col) for a tile of output pixels at a time, at most {@link #COL_FLOATS} floats, so memory stays bounded at any
 * resolution (a 1024² map with 512 channels would need 19 GB of columns at once). Bias (and, when accumulating, y's
 * old contents) are in y before the GEMMs, which add into it with beta 1. A 1×1 conv that reads every pixel once is a
 * GEMM straight on x, and so is one over no input channels (k = 0), which leaves beta·y.
 */
final class Conv {
    /** 16 MB of columns: large enough that a tile's GEMM keeps all cores busy, small enough to stay cache-friendly. */
    private static final int COL_FLOATS = 1 << 22;
    /** Frozen weight → its frozen GEMM view, weakly keyed (the view holds the memory, not the weight object). */
    private static final Map<Tensor, Tensor> FROZEN_VIEWS = new WeakHashMap<>();

    private Conv() {
    }

    /** {@code packed}: the backend's cache of frozen weights' panels, or null to pack the weight per GEMM. */
    static void conv2d(Tensor x, Tensor w, Tensor bias, Tensor y, ConvGeometry g, boolean accumulate,
                       BackendContract.Conv c, PackedWeights packed) {
        conv2d(x, w, bias, y, g, accumulate, c, packed, COL_FLOATS);
    }

    /** The same with at most {@code colFloats} floats of columns per tile (tests cut tiles anywhere). */
    static void conv2d(Tensor x, Tensor w, Tensor bias, Tensor y, ConvGeometry g, boolean accumulate,
                       BackendContract.Conv c, PackedWeights packed, int colFloats) {
        long m = c.outPixels();
        long k = c.taps();
        if (m == 0 || c.cout() == 0) {
            return;
        }
        if (bias != null) {
            prefill(y, Arr.weight(bias), accumulate, m, c.cout());
        }
        float beta = accumulate || bias != null ? 1f : 0f;
        Tensor ym = y.view(m, c.cout());
        Tensor wm = matrix(w, c.cout(), k);
        if (k == 0 || c.kh() == 1 && c.kw() == 1 && g.equals(ConvGeometry.POINTWISE)) {
            CpuGemm.gemm(false, true, 1f, x.view(m, k), wm, beta, ym, packed);
            return;
        }
        Arr xa = Arr.in(x);
        int tile = (int) Math.max(1, Math.min(m, colFloats / k));
        float[] col = new float[Math.toIntExact(tile * k)];
        MemorySegment colSegment = MemorySegment.ofArray(col);
        for (long p0 = 0; p0 < m; p0 += tile) {
            int n = (int) Math.min(tile, m - p0);
            long start = p0;
            Parallel.forRange(n, k, (chunk, lo, hi) -> im2col(xa, g, c, col, start, lo, hi));
            Tensor cols = Tensor.wrap(DType.F32, colSegment.asSlice(0, n * k * Float.BYTES), n, k);
            CpuGemm.gemm(false, true, 1f, cols, wm, beta, ym.sliceRows(p0, n), packed);
        }
    }

    /**
     * w viewed as the GEMM's [Cout, taps]. A frozen weight's view is made once and kept, itself frozen, for as long as
     * the weight lives: the GEMM caches packed panels by the weight object, and a new view per call (per tile, even)
     * would repack the weight every time, a fifth of a VAE decode's time.
     */
    private static Tensor matrix(Tensor w, long cout, long taps) {
        if (!w.isFrozen()) {
            return w.view(cout, taps);
        }
        synchronized (FROZEN_VIEWS) {
            return FROZEN_VIEWS.computeIfAbsent(w, f -> f.view(cout, taps).frozen());
        }
    }

    /** y = bias on every row, or y += bias when accumulating. */
    private static void prefill(Tensor y, Arr bias, boolean accumulate, long rows, int cout) {
        Arr ya = accumulate ? Arr.inOut(y) : Arr.out(y);
        Parallel.forRange((int) rows, cout, (chunk, from, to) -> {
            for (int r = from; r < to; r++) {
                int o = ya.off + r * cout;
                if (accumulate) {
                    Vec.add(bias.a, bias.off, ya.a, o, cout);
                } else {
                    System.arraycopy(bias.a, bias.off, ya.a, o, cout);
                }
            }
        });
        ya.commit();
    }

    /** Column rows [lo, hi) of the tile that starts at output pixel {@code start}; taps outside the map are zeros. */
    private static void im2col(Arr x, ConvGeometry g, BackendContract.Conv c, float[] col, long start, int lo, int hi) {
        int cin = c.cin();
        int up = g.upsample();
        int vh = up * c.h();
        int vw = up * c.w();
        int perImage = c.oh() * c.ow();
        for (int r = lo; r < hi; r++) {
            long p = start + r;
            int b = (int) (p / perImage);
            int rem = (int) (p % perImage);
            int oy = rem / c.ow();
            int ox = rem % c.ow();
            int dst = Math.toIntExact((long) r * c.taps());
            for (int ky = 0; ky < c.kh(); ky++) {
                int vy = oy * g.stride() + ky - g.padBefore();
                for (int kx = 0; kx < c.kw(); kx++, dst += cin) {
                    int vx = ox * g.stride() + kx - g.padBefore();
                    if (vy < 0 || vy >= vh || vx < 0 || vx >= vw) {
                        Arrays.fill(col, dst, dst + cin, 0f);
                    } else {
                        long src = (((long) b * c.h() + vy / up) * c.w() + vx / up) * cin;
                        System.arraycopy(x.a, x.off + (int) src, col, dst, cin);
                    }
                }
            }
        }
    }
}
