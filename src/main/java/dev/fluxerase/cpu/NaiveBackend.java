package dev.fluxerase.cpu;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.BackendContract;
import dev.fluxerase.tensor.ConvGeometry;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The reference backend: one thread, plain loops over flat indices, every sum and every transcendental in double, results
 * rounded to f32 once. It is meant to be obviously correct, not fast; the CPU and CUDA backends are tested against it.
 *
 * <p>Readings of the contract shared with {@link CpuBackend}:
 * <ul>
 *   <li>The saved-for-backward outputs (layerNorm mean/rstd, rmsNorm rrms, attention lse) may be null when no backward
 *       follows.</li>
 *   <li>gateAddBackward, like modulateBackward, takes a null df or dmod for a gradient nobody needs.</li>
 *   <li>Elementwise ops (silu, gelu, modulate, rope, mul, axpy) are safe with the output aliasing an input element for
 *       element; softmax and the norms are safe with y = x.</li>
 *   <li>attention allows Lk ≠ Lq (q [.., Lq, D], k and v [.., Lk, D], probs [.., Lq, Lk]).</li>
 *   <li>adamw follows torch.optim.AdamW (foreach=False): p ·= 1 − lr·wd, m = β1·m + (1−β1)·g, v = β2·v + (1−β2)·g²,
 *       p −= lr/(1−β1^t) · m / (√v/√(1−β2^t) + eps).</li>
 * </ul>
 */
public final class NaiveBackend implements Backend {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final double GELU_K = Math.sqrt(2 / Math.PI);
    private static final double GELU_C = 0.044715;
    private static final BackendContract CHECK = BackendContract.on(Device.CPU);

    public NaiveBackend() {
    }

    @Override
    public String name() {
        return "naive";
    }

    @Override
    public Device device() {
        return Device.CPU;
    }

    private static float get(Tensor t, long i) {
        return t.data().getAtIndex(F32, i);
    }

    private static void set(Tensor t, long i, double v) {
        t.data().setAtIndex(F32, i, (float) v);
    }

    private static void add(Tensor t, long i, double v) {
        MemorySegment s = t.data();
        s.setAtIndex(F32, i, (float) (s.getAtIndex(F32, i) + v));
    }

    /** Element i of a weight (F32, BF16 or F16) or of an activation that may be BF16, as f32. */
    private static float read(Tensor t, long i) {
        return Floats.read(t.data(), t.dtype(), i);
    }

    // ---- memory -----------------------------------------------------------------------------------------------------------

    @Override
    public Tensor allocate(DType dtype, long... shape) {
        return HostMemory.allocate(dtype, shape);
    }

    @Override
    public Tensor upload(float[] values, long... shape) {
        CHECK.upload(values, shape);
        return HostMemory.upload(values, shape);
    }

    @Override
    public float[] download(Tensor t) {
        CHECK.download(t);
        return HostMemory.download(t);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        CHECK.copy(src, dst);
        HostMemory.copy(src, dst);
    }

    @Override
    public void fill(Tensor t, float value) {
        CHECK.fill(t);
        HostMemory.fill(t, value);
    }

    @Override
    public void copyStrided(Tensor src, long srcOffset, long[] srcStrides, Tensor dst, long dstOffset, long[] dstStrides,
                            long[] sizes, boolean accumulate) {
        if (!CHECK.copyStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, sizes, accumulate)) {
            return;
        }
        for (long i0 = 0; i0 < sizes[0]; i0++) {
            for (long i1 = 0; i1 < sizes[1]; i1++) {
                for (long i2 = 0; i2 < sizes[2]; i2++) {
                    for (long i3 = 0; i3 < sizes[3]; i3++) {
                        long s = srcOffset + i0 * srcStrides[0] + i1 * srcStrides[1] + i2 * srcStrides[2]
                                + i3 * srcStrides[3];
                        long d = dstOffset + i0 * dstStrides[0] + i1 * dstStrides[1] + i2 * dstStrides[2]
                                + i3 * dstStrides[3];
                        float v = read(src, s);
                        HostMemory.store(dst.data(), dst.dtype(), d, accumulate ? get(dst, d) + v : v);
                    }
                }
            }
        }
    }

    // ---- GEMM -------------------------------------------------------------------------------------------------------------

    @Override
    public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        BackendContract.Gemm g = CHECK.gemm(transA, transB, a, b, c);
        long m = g.m();
        long n = g.n();
        long k = g.k();
        for (long i = 0; i < m; i++) {
            for (long j = 0; j < n; j++) {
                double s = 0;
                for (long p = 0; p < k; p++) {
                    double av = transA ? read(a, p * m + i) : read(a, i * k + p);
                    double bv = transB ? read(b, j * k + p) : read(b, p * n + j);
                    s += av * bv;
                }
                long ci = i * n + j;
                set(c, ci, beta == 0 ? alpha * s : alpha * s + (double) beta * get(c, ci));
            }
        }
    }

    /** Each output's f64 sum plus bias; y gets it (through gelu_tanh in f64 when preGelu takes it) rounded once. */
    @Override
    public void linear(Tensor x, Tensor w, Tensor bias, Tensor y, Tensor preGelu) {
        BackendContract.Gemm g = CHECK.linear(x, w, bias, y, preGelu);
        long k = g.k();
        for (long i = 0; i < g.m(); i++) {
            for (long j = 0; j < g.n(); j++) {
                double s = bias == null ? 0 : read(bias, j);
                for (long p = 0; p < k; p++) {
                    s += (double) read(x, i * k + p) * read(w, j * k + p);
                }
                long yi = i * g.n() + j;
                if (preGelu != null) {
                    HostMemory.store(preGelu.data(), preGelu.dtype(), yi, (float) s);
                    s = gelu(s);
                }
                HostMemory.store(y.data(), y.dtype(), yi, (float) s);
            }
        }
    }

    @Override
    public void addBias(Tensor y, Tensor bias) {
        CHECK.addBias(y, bias);
        long cols = y.cols();
        for (long r = 0; r < y.rows(); r++) {
            for (long j = 0; j < cols; j++) {
                add(y, r * cols + j, read(bias, j));
            }
        }
    }

    @Override
    public void sumRows(Tensor dy, Tensor db) {
        CHECK.sumRows(dy, db);
        long cols = dy.cols();
        for (long j = 0; j < cols; j++) {
            double s = 0;
            for (long r = 0; r < dy.rows(); r++) {
                s += get(dy, r * cols + j);
            }
            add(db, j, s);
        }
    }

    // ---- elementwise and reductions -----------------------------------------------------------------------------------------

    @Override
    public void axpy(float alpha, Tensor x, Tensor y) {
        CHECK.axpy(x, y);
        for (long i = 0; i < x.numel(); i++) {
            set(y, i, (double) get(y, i) + (double) alpha * get(x, i));
        }
    }

    @Override
    public void mul(Tensor a, Tensor b, Tensor out) {
        CHECK.mul(a, b, out);
        for (long i = 0; i < a.numel(); i++) {
            set(out, i, (double) get(a, i) * get(b, i));
        }
    }

    @Override
    public void scale(Tensor x, float alpha) {
        CHECK.scale(x);
        for (long i = 0; i < x.numel(); i++) {
            set(x, i, (double) get(x, i) * alpha);
        }
    }

    @Override
    public double sum(Tensor x) {
        CHECK.sum(x);
        double s = 0;
        for (long i = 0; i < x.numel(); i++) {
            s += get(x, i);
        }
        return s;
    }

    @Override
    public double dot(Tensor a, Tensor b) {
        CHECK.dot(a, b);
        double s = 0;
        for (long i = 0; i < a.numel(); i++) {
            s += (double) get(a, i) * get(b, i);
        }
        return s;
    }

    // ---- activations ------------------------------------------------------------------------------------------------------

    private static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    @Override
    public void silu(Tensor x, Tensor y) {
        CHECK.unary("silu", x, y);
        for (long i = 0; i < x.numel(); i++) {
            double v = get(x, i);
            set(y, i, v * sigmoid(v));
        }
    }

    @Override
    public void siluBackward(Tensor dy, Tensor x, Tensor dx) {
        CHECK.unaryBackward("siluBackward", dy, x, dx);
        for (long i = 0; i < x.numel(); i++) {
            double v = get(x, i);
            double s = sigmoid(v);
            add(dx, i, get(dy, i) * s * (1 + v * (1 - s)));
        }
    }

    @Override
    public void geluTanh(Tensor x, Tensor y) {
        CHECK.unary("geluTanh", x, y);
        for (long i = 0; i < x.numel(); i++) {
            set(y, i, gelu(get(x, i)));
        }
    }

    private static double gelu(double v) {
        return 0.5 * v * (1 + Math.tanh(GELU_K * (v + GELU_C * v * v * v)));
    }

    @Override
    public void geluTanhBackward(Tensor dy, Tensor x, Tensor dx) {
        CHECK.geluTanhBackward(dy, x, dx);
        for (long i = 0; i < x.numel(); i++) {
            double v = read(x, i);
            double t = Math.tanh(GELU_K * (v + GELU_C * v * v * v));
            double d = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GELU_K * (1 + 3 * GELU_C * v * v);
            add(dx, i, get(dy, i) * d);
        }
    }

    @Override
    public void softmax(Tensor x, Tensor y) {
        CHECK.unary("softmax", x, y);
        long cols = x.cols();
        double[] e = new double[intSize("softmax", cols)];
        for (long r = 0; r < x.rows(); r++) {
            long base = r * cols;
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < cols; j++) {
                max = Math.max(max, get(x, base + j));
            }
            double s = 0;
            for (int j = 0; j < cols; j++) {
                e[j] = Math.exp(get(x, base + j) - max);
                s += e[j];
            }
            for (int j = 0; j < cols; j++) {
                set(y, base + j, e[j] / s);
            }
        }
    }

    @Override
    public void softmaxBackward(Tensor dy, Tensor y, Tensor dx) {
        CHECK.softmaxBackward(dy, y, dx);
        long cols = y.cols();
        for (long r = 0; r < y.rows(); r++) {
            long base = r * cols;
            double s = 0;
            for (long j = 0; j < cols; j++) {
                s += (double) get(dy, base + j) * get(y, base + j);
            }
            for (long j = 0; j < cols; j++) {
                add(dx, base + j, get(y, base + j) * (get(dy, base + j) - s));
            }
        }
    }

    // ---- norms ------------------------------------------------------------------------------------------------------------

    @Override
    public void layerNorm(Tensor x, Tensor y, Tensor mean, Tensor rstd, float eps) {
        CHECK.layerNorm(x, y, mean, rstd);
        long rows = x.rows();
        long cols = x.cols();
        for (long r = 0; r < rows; r++) {
            long base = r * cols;
            double mu = 0;
            for (long j = 0; j < cols; j++) {
                mu += get(x, base + j);
            }
            mu /= cols;
            double var = 0;
            for (long j = 0; j < cols; j++) {
                double d = get(x, base + j) - mu;
                var += d * d;
            }
            var /= cols;
            double rs = 1 / Math.sqrt(var + eps);
            for (long j = 0; j < cols; j++) {
                set(y, base + j, (get(x, base + j) - mu) * rs);
            }
            if (mean != null) {
                set(mean, r, mu);
            }
            if (rstd != null) {
                set(rstd, r, rs);
            }
        }
    }

    @Override
    public void layerNormBackward(Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor dx) {
        CHECK.layerNormBackward(dy, x, mean, rstd, dx);
        long rows = x.rows();
        long cols = x.cols();
        for (long r = 0; r < rows; r++) {
            long base = r * cols;
            double mu = get(mean, r);
            double rs = get(rstd, r);
            double mdy = 0;
            double mdyx = 0;
            for (long j = 0; j < cols; j++) {
                double g = get(dy, base + j);
                mdy += g;
                mdyx += g * (get(x, base + j) - mu) * rs;
            }
            mdy /= cols;
            mdyx /= cols;
            for (long j = 0; j < cols; j++) {
                double xh = (get(x, base + j) - mu) * rs;
                add(dx, base + j, (get(dy, base + j) - mdy - xh * mdyx) * rs);
            }
        }
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, Tensor y, Tensor rrms, float eps) {
        CHECK.rmsNorm(x, weight, y, rrms);
        long rows = x.rows();
        long cols = x.cols();
        for (long r = 0; r < rows; r++) {
            long base = r * cols;
            double ss = 0;
            for (long j = 0; j < cols; j++) {
                double v = get(x, base + j);
                ss += v * v;
            }
            double rr = 1 / Math.sqrt(ss / cols + eps);
            for (long j = 0; j < cols; j++) {
                set(y, base + j, get(x, base + j) * rr * read(weight, j));
            }
            if (rrms != null) {
                set(rrms, r, rr);
            }
        }
    }

    @Override
    public void rmsNormBackward(Tensor dy, Tensor x, Tensor weight, Tensor rrms, Tensor dx, Tensor dWeight) {
        CHECK.rmsNormBackward(dy, x, weight, rrms, dx, dWeight);
        long rows = x.rows();
        long cols = x.cols();
        double[] dw = new double[intSize("rmsNormBackward", cols)];
        for (long r = 0; r < rows; r++) {
            long base = r * cols;
            double rr = get(rrms, r);
            double mux = 0;
            for (long j = 0; j < cols; j++) {
                double g = get(dy, base + j);
                double v = get(x, base + j);
                mux += g * read(weight, j) * v;
                dw[(int) j] += g * v * rr;
            }
            mux /= cols;
            for (long j = 0; j < cols; j++) {
                double u = get(dy, base + j) * (double) read(weight, j);
                add(dx, base + j, rr * (u - get(x, base + j) * rr * rr * mux));
            }
        }
        if (dWeight != null) {
            for (int j = 0; j < cols; j++) {
                add(dWeight, j, dw[j]);
            }
        }
    }

    // ---- adaLN modulation -------------------------------------------------------------------------------------------------

    @Override
    public void modulate(Tensor x, Tensor mod, int shiftChunk, int scaleChunk, Tensor y) {
        BackendContract.Mod s = CHECK.modulate(x, mod, shiftChunk, scaleChunk, y);
        int c = s.channels();
        for (long b = 0; b < s.batch(); b++) {
            long mrow = b * s.modRow();
            for (long t = 0; t < s.tokens(); t++) {
                long base = (b * s.tokens() + t) * c;
                for (long j = 0; j < c; j++) {
                    double sc = get(mod, mrow + (long) scaleChunk * c + j);
                    double sh = get(mod, mrow + (long) shiftChunk * c + j);
                    set(y, base + j, (1 + sc) * get(x, base + j) + sh);
                }
            }
        }
    }

    @Override
    public void modulateBackward(Tensor dy, Tensor x, Tensor mod, int shiftChunk, int scaleChunk, Tensor dx, Tensor dmod) {
        BackendContract.Mod s = CHECK.modulateBackward(dy, x, mod, shiftChunk, scaleChunk, dx, dmod);
        int c = s.channels();
        for (long b = 0; b < s.batch(); b++) {
            long mrow = b * s.modRow();
            for (long j = 0; j < c; j++) {
                double sc = get(mod, mrow + (long) scaleChunk * c + j);
                double dsc = 0;
                double dsh = 0;
                for (long t = 0; t < s.tokens(); t++) {
                    long i = (b * s.tokens() + t) * c + j;
                    double g = get(dy, i);
                    dsc += g * get(x, i);
                    dsh += g;
                    if (dx != null) {
                        add(dx, i, g * (1 + sc));
                    }
                }
                if (dmod != null) {
                    add(dmod, mrow + (long) scaleChunk * c + j, dsc);
                    add(dmod, mrow + (long) shiftChunk * c + j, dsh);
                }
            }
        }
    }

    @Override
    public void gateAdd(Tensor x, Tensor f, Tensor mod, int gateChunk) {
        BackendContract.Mod s = CHECK.gateAdd(x, f, mod, gateChunk);
        int c = s.channels();
        for (long b = 0; b < s.batch(); b++) {
            long grow = b * s.modRow() + (long) gateChunk * c;
            for (long t = 0; t < s.tokens(); t++) {
                long base = (b * s.tokens() + t) * c;
                for (long j = 0; j < c; j++) {
                    set(x, base + j, get(x, base + j) + (double) get(mod, grow + j) * get(f, base + j));
                }
            }
        }
    }

    @Override
    public void gateAddBackward(Tensor dy, Tensor f, Tensor mod, int gateChunk, Tensor df, Tensor dmod) {
        BackendContract.Mod s = CHECK.gateAddBackward(dy, f, mod, gateChunk, df, dmod);
        int c = s.channels();
        for (long b = 0; b < s.batch(); b++) {
            long grow = b * s.modRow() + (long) gateChunk * c;
            for (long j = 0; j < c; j++) {
                double gate = get(mod, grow + j);
                double dg = 0;
                for (long t = 0; t < s.tokens(); t++) {
                    long i = (b * s.tokens() + t) * c + j;
                    double g = get(dy, i);
                    dg += g * get(f, i);
                    if (df != null) {
                        add(df, i, g * gate);
                    }
                }
                if (dmod != null) {
                    add(dmod, grow + j, dg);
                }
            }
        }
    }

    // ---- rotary embedding -------------------------------------------------------------------------------------------------

    @Override
    public void rope(Tensor x, Tensor cos, Tensor sin, Tensor y) {
        rotate(x, cos, sin, y, CHECK.rope(x, cos, sin, y), 1, false);
    }

    @Override
    public void ropeBackward(Tensor dy, Tensor cos, Tensor sin, Tensor dx) {
        rotate(dy, cos, sin, dx, CHECK.ropeBackward(dy, cos, sin, dx), -1, true);
    }

    /** y (+)= rotation of each adjacent pair of x by sign·θ. */
    private static void rotate(Tensor x, Tensor cos, Tensor sin, Tensor y, BackendContract.Rope s, int sign,
                               boolean accumulate) {
        int half = s.dim() / 2;
        for (long h = 0; h < s.slices(); h++) {
            for (long l = 0; l < s.length(); l++) {
                long base = (h * s.length() + l) * s.dim();
                for (long m = 0; m < half; m++) {
                    double c = get(cos, l * half + m);
                    double sn = sign * (double) get(sin, l * half + m);
                    double x0 = get(x, base + 2 * m);
                    double x1 = get(x, base + 2 * m + 1);
                    double y0 = c * x0 - sn * x1;
                    double y1 = sn * x0 + c * x1;
                    if (accumulate) {
                        add(y, base + 2 * m, y0);
                        add(y, base + 2 * m + 1, y1);
                    } else {
                        set(y, base + 2 * m, y0);
                        set(y, base + 2 * m + 1, y1);
                    }
                }
            }
        }
    }

    // ---- attention --------------------------------------------------------------------------------------------------------

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor probs, float scale) {
        BackendContract.Attn s = CHECK.attention(q, k, v, out, lse, probs);
        int lq = s.lq();
        int lk = s.lk();
        int d = s.dim();
        double[] sc = new double[lk];
        for (long h = 0; h < s.heads(); h++) {
            long qb = h * lq * d;
            long kb = h * lk * d;
            for (long i = 0; i < lq; i++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < lk; j++) {
                    double dotp = 0;
                    for (long e = 0; e < d; e++) {
                        dotp += (double) get(q, qb + i * d + e) * get(k, kb + (long) j * d + e);
                    }
                    sc[j] = dotp * scale;
                    max = Math.max(max, sc[j]);
                }
                double sum = 0;
                for (int j = 0; j < lk; j++) {
                    sum += Math.exp(sc[j] - max);
                }
                double l = max + Math.log(sum);
                for (long e = 0; e < d; e++) {
                    double o = 0;
                    for (int j = 0; j < lk; j++) {
                        o += Math.exp(sc[j] - l) * get(v, kb + (long) j * d + e);
                    }
                    set(out, qb + i * d + e, o);
                }
                if (lse != null) {
                    set(lse, h * lq + i, l);
                }
                if (probs != null) {
                    for (int j = 0; j < lk; j++) {
                        set(probs, (h * lq + i) * lk + j, Math.exp(sc[j] - l));
                    }
                }
            }
        }
    }

    @Override
    public void attentionBackward(Tensor dOut, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dq, Tensor dk,
                                  Tensor dv, float scale) {
        BackendContract.Attn s = CHECK.attentionBackward(dOut, q, k, v, out, lse, dq, dk, dv);
        int lq = s.lq();
        int lk = s.lk();
        int d = s.dim();
        double[][] p = new double[lq][lk];
        double[][] ds = new double[lq][lk];
        for (long h = 0; h < s.heads(); h++) {
            long qb = h * lq * d;
            long kb = h * lk * d;
            for (int i = 0; i < lq; i++) {
                double l = get(lse, h * lq + i);
                double rowDot = 0;
                for (long e = 0; e < d; e++) {
                    rowDot += (double) get(dOut, qb + i * d + e) * get(out, qb + i * d + e);
                }
                for (int j = 0; j < lk; j++) {
                    double sqk = 0;
                    double dp = 0;
                    for (long e = 0; e < d; e++) {
                        sqk += (double) get(q, qb + (long) i * d + e) * get(k, kb + (long) j * d + e);
                        dp += (double) get(dOut, qb + (long) i * d + e) * get(v, kb + (long) j * d + e);
                    }
                    p[i][j] = Math.exp(sqk * scale - l);
                    ds[i][j] = p[i][j] * (dp - rowDot);
                }
            }
            for (int i = 0; i < lq; i++) {
                for (long e = 0; e < d; e++) {
                    double g = 0;
                    for (int j = 0; j < lk; j++) {
                        g += ds[i][j] * get(k, kb + (long) j * d + e);
                    }
                    add(dq, qb + (long) i * d + e, g * scale);
                }
            }
            for (int j = 0; j < lk; j++) {
                for (long e = 0; e < d; e++) {
                    double gk = 0;
                    double gv = 0;
                    for (int i = 0; i < lq; i++) {
                        gk += ds[i][j] * get(q, qb + (long) i * d + e);
                        gv += p[i][j] * get(dOut, qb + (long) i * d + e);
                    }
                    add(dk, kb + (long) j * d + e, gk * scale);
                    add(dv, kb + (long) j * d + e, gv);
                }
            }
        }
    }

    // ---- convolution and group norm (the VAE) -------------------------------------------------------------------------------

    @Override
    public void conv2d(Tensor x, Tensor w, Tensor bias, Tensor y, ConvGeometry g, boolean accumulate) {
        BackendContract.Conv c = CHECK.conv2d(x, w, bias, y, g);
        long vh = (long) g.upsample() * c.h();
        long vw = (long) g.upsample() * c.w();
        long o = 0;
        for (long b = 0; b < c.batch(); b++) {
            for (long oy = 0; oy < c.oh(); oy++) {
                for (long ox = 0; ox < c.ow(); ox++) {
                    for (long co = 0; co < c.cout(); co++, o++) {
                        double s = bias == null ? 0 : read(bias, co);
                        for (long ky = 0; ky < c.kh(); ky++) {
                            long vy = oy * g.stride() + ky - g.padBefore();
                            for (long kx = 0; kx < c.kw(); kx++) {
                                long vx = ox * g.stride() + kx - g.padBefore();
                                if (vy < 0 || vy >= vh || vx < 0 || vx >= vw) {
                                    continue;
                                }
                                long xi = ((b * c.h() + vy / g.upsample()) * c.w() + vx / g.upsample()) * c.cin();
                                long wi = ((co * c.kh() + ky) * c.kw() + kx) * c.cin();
                                for (long ci = 0; ci < c.cin(); ci++) {
                                    s += (double) read(w, wi + ci) * get(x, xi + ci);
                                }
                            }
                        }
                        set(y, o, accumulate ? get(y, o) + s : s);
                    }
                }
            }
        }
    }

    @Override
    public void groupNorm(Tensor x, Tensor gamma, Tensor beta, Tensor y, int groups, float eps, boolean swish) {
        BackendContract.Groups s = CHECK.groupNorm(x, gamma, beta, y, groups);
        long c = s.channels();
        long cg = s.groupSize();
        double count = (double) s.pixels() * cg;
        for (long b = 0; b < s.batch(); b++) {
            long base = b * s.pixels() * c;
            for (long grp = 0; grp < groups; grp++) {
                double mu = 0;
                for (long p = 0; p < s.pixels(); p++) {
                    for (long j = grp * cg; j < (grp + 1) * cg; j++) {
                        mu += get(x, base + p * c + j);
                    }
                }
                mu /= count;
                double var = 0;
                for (long p = 0; p < s.pixels(); p++) {
                    for (long j = grp * cg; j < (grp + 1) * cg; j++) {
                        double d = get(x, base + p * c + j) - mu;
                        var += d * d;
                    }
                }
                double rs = 1 / Math.sqrt(var / count + eps);
                for (long p = 0; p < s.pixels(); p++) {
                    for (long j = grp * cg; j < (grp + 1) * cg; j++) {
                        long i = base + p * c + j;
                        double v = (get(x, i) - mu) * rs * read(gamma, j) + read(beta, j);
                        set(y, i, swish ? v * sigmoid(v) : v);
                    }
                }
            }
        }
    }

    // ---- optimizer --------------------------------------------------------------------------------------------------------

    @Override
    public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                      float weightDecay, long step) {
        CHECK.adamw(param, grad, m, v, step);
        double bc1 = 1 - Math.pow(beta1, step);
        double bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
        double decay = 1 - (double) lr * weightDecay;
        for (long i = 0; i < param.numel(); i++) {
            double g = get(grad, i);
            double mi = beta1 * (double) get(m, i) + (1 - (double) beta1) * g;
            double vi = beta2 * (double) get(v, i) + (1 - (double) beta2) * g * g;
            double p = get(param, i) * decay;
            p -= lr / bc1 * mi / (Math.sqrt(vi) / bc2Sqrt + eps);
            set(m, i, mi);
            set(v, i, vi);
            set(param, i, p);
        }
    }

    @Override
    public void adamwBf16(Tensor param, Tensor grad, Tensor m, Tensor v, float decay, float w1, float beta2, float w2,
                          float bc2Sqrt, float eps, float stepSize) {
        CHECK.adamwBf16(param, grad, m, v);
        for (long i = 0; i < param.numel(); i++) {
            float g = bf16(get(grad, i));
            float p = bf16(get(param, i) * decay);
            float mi = get(m, i);
            mi = bf16(w1 < 0.5f ? Math.fma(w1, g - mi, mi) : Math.fma(mi - g, 1f - w1, g));
            float vi = bf16(Math.fma(w2, g * g, bf16(get(v, i) * beta2)));
            float d = bf16(bf16(bf16((float) Math.sqrt(vi)) / bc2Sqrt) + eps);
            set(param, i, bf16(Math.fma(stepSize, mi / d, p)));
            set(m, i, mi);
            set(v, i, vi);
        }
    }

    private static float bf16(float x) {
        return Floats.roundToBf16(x);
    }

    /** The reference's scratch rows are Java arrays. */
    private static int intSize(String op, long n) {
        BackendContract.require(n <= Integer.MAX_VALUE - 8, op + ": " + n + " elements do not fit in one array");
        return (int) n;
    }
}
