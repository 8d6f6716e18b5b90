package dev.fluxerase.cpu;

import dev.fluxerase.tensor.BackendContract;
import dev.fluxerase.tensor.ConvGeometry;
import dev.fluxerase.tensor.Tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

import java.util.Map;
import java.util.WeakHashMap;

/**
 * The VAE's conv as one GEMM: y [B·OH·OW, Cout] = col · Wᵀ, with W viewed in place as [Cout, kh·kw·Cin] and row p of col
 * the taps of output pixel p in (ky, kx, ci) order, which is W's own order, so the weight is never reordered. col is
 * never built: the GEMM asks for its rows panel by panel ({@link CpuGemm.PanelSource}) and {@link Im2col} writes them
 * from x straight into the kernel's MR-row slivers, so memory stays bounded at any resolution (a 1024² map with 512
 * channels would need 19 GB of columns at once) and the columns are not written, read back and transposed a second
 * time. Bias (and, when accumulating, y's old contents) are in y before the GEMM, which adds into it with beta 1. A 1×1
 * conv that reads every pixel once is a GEMM straight on x, and so is one over no input channels (k = 0), which leaves
 * beta·y.
 */
final class Conv {
    private static final int MR = GemmKernel.MR;
    /** Frozen weight → its frozen GEMM view, weakly keyed (the view holds the memory, not the weight object). */
    private static final Map<Tensor, Tensor> FROZEN_VIEWS = new WeakHashMap<>();

    private Conv() {
    }

    /** {@code packed}: the backend's cache of frozen weights' panels, or null to pack the weight per GEMM. */
    static void conv2d(Tensor x, Tensor w, Tensor bias, Tensor y, ConvGeometry g, boolean accumulate,
                       BackendContract.Conv c, PackedWeights packed) {
        conv2d(x, w, bias, y, g, accumulate, c, packed, CpuGemm.DEFAULT);
    }

    /** The same with the GEMM's blocking (tests cut panels and k blocks anywhere in the taps). */
    static void conv2d(Tensor x, Tensor w, Tensor bias, Tensor y, ConvGeometry g, boolean accumulate,
                       BackendContract.Conv c, PackedWeights packed, CpuGemm.Blocking blocking) {
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
            CpuGemm.gemm(false, true, 1f, x.view(m, k), wm, beta, ym, 0, blocking, packed);
            return;
        }
        Arr xa = Arr.in(x);
        CpuGemm.gemm(new Im2col(xa.a, xa.off, g, c), m, k, true, wm, beta, ym, blocking, packed);
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

    /**
     * The columns of a conv as GEMM panels: row p of col is output pixel p's taps, tap t = (ky·kw + kx)·cin + ci, zero
     * where the tap falls outside the (upsampled) map. A sliver is written one k at a time, its MR values adjacent, so
     * the stores are contiguous and each of the MR rows reads its own run of cin contiguous channels of x.
     */
    private record Im2col(float[] x, int xOff, ConvGeometry g, BackendContract.Conv c) implements CpuGemm.PanelSource {
        @Override
        public void pack(long i0, int mc, long p0, int kc, int s0, int s1, float[] dst, int off) {
            int cin = c.cin();
            int up = g.upsample();
            int vh = up * c.h();
            int vw = up * c.w();
            int perImage = c.oh() * c.ow();
            int[] img = new int[MR];
            int[] oy = new int[MR];
            int[] ox = new int[MR];
            int[] src = new int[PackA.ROW.length()];
            boolean[] inside = new boolean[PackA.ROW.length()];
            for (int s = s0; s < s1; s++) {
                int d = off + s * MR * kc;
                int rows = Math.min(MR, mc - s * MR);
                long row0 = i0 + (long) s * MR;
                for (int r = 0; r < rows; r++) {
                    long p = row0 + r;
                    img[r] = (int) (p / perImage);
                    int rem = (int) (p % perImage);
                    oy[r] = rem / c.ow();
                    ox[r] = rem % c.ow();
                }
                long end = p0 + kc;
                for (long t = p0; t < end; ) {
                    int tap = (int) (t / cin);
                    int ci = (int) (t % cin);
                    int ky = tap / c.kw();
                    int kx = tap % c.kw();
                    int run = (int) Math.min(cin - ci, end - t);
                    for (int r = 0; r < rows; r++) {
                        int vy = oy[r] * g.stride() + ky - g.padBefore();
                        int vx = ox[r] * g.stride() + kx - g.padBefore();
                        inside[r] = vy >= 0 && vy < vh && vx >= 0 && vx < vw;
                        src[r] = inside[r] ? xOff + Math.toIntExact((((long) img[r] * c.h() + vy / up) * c.w()
                                + vx / up) * cin + ci) : 0;
                    }
                    for (int r = rows; r < inside.length; r++) {
                        inside[r] = false;
                        src[r] = 0;
                    }
                    // one k of the sliver: a gather of the MR rows' channel, then zeros where a row reads outside the
                    // map (those lanes gathered x[j], a valid index); unmasked, as AVX2 has no masked gather that C2
                    // intrinsifies (a masked one ran its scalar fallback there)
                    VectorMask<Float> outside = VectorMask.fromArray(PackA.ROW, inside, 0).not();
                    boolean anyOutside = outside.anyTrue();
                    int o = d + (int) (t - p0) * MR;
                    for (int j = 0; j < run; j++, o += MR) {
                        FloatVector v = FloatVector.fromArray(PackA.ROW, x, j, src, 0);
                        (anyOutside ? v.blend(0f, outside) : v).intoArray(dst, o, PackA.ROW_MASK);
                    }
                    t += run;
                }
            }
        }
    }
}
