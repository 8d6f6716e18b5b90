package dev.fluxerase.testing;

import dev.fluxerase.cpu.NaiveBackend;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.ConvGeometry;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.util.Arrays;
import java.util.Random;
import java.util.function.BiConsumer;
import java.util.function.DoubleSupplier;
import java.util.function.IntFunction;
import java.util.function.Supplier;

import static dev.fluxerase.testing.ErrorBounds.U_F32;
import static dev.fluxerase.testing.ErrorBounds.U_TENSOR_CORE;
import static dev.fluxerase.testing.ErrorBounds.U_F64;
import static dev.fluxerase.testing.ErrorBounds.againstF64Reference;
import static dev.fluxerase.testing.ErrorBounds.max;
import static dev.fluxerase.testing.ErrorBounds.sumGamma;
import static dev.fluxerase.testing.RandomData.gaussian;
import static dev.fluxerase.testing.RunningError.constant;
import static dev.fluxerase.testing.RunningError.exact;

/**
 * Backend ops against NaiveBackend on random data, each result held to the error bound of the CUDA kernel that computes
 * it, derived on the test's own data beside each check (RunningError mirrors the kernel's expression; sums use
 * ErrorBounds.sumGamma). CudaBackendParityTest runs it on the GPU; CpuErrorBoundsTest runs it on the CPU backend, whose
 * f32 code evaluates the same expressions (reordered, with exp and tanh within 1.25 ulp where CUDA documents 2), so that
 * every bound is computed and tried in every build, not only on the rare GPU run.
 *
 * <p>Each op starts from the same inputs on both sides: where an op consumes another's output (a backward its forward's
 * statistics, the next AdamW step the last one's state), both get the reference's, so that each check is one op's error.
 * Backward ops add into random gradients on both sides, which checks that they add.
 */
public final class BoundedOps {
    /**
     * How a test runs the checks: each name gets a prefix, each bound a factor, and gate runs the named check or skips it
     * (the CUDA stand-in's kernels compute nothing). The bound is computed only when the check runs.
     */
    public record Checker(String prefix, double safety, BiConsumer<String, Runnable> gate) {
        public void check(String what, float[] expected, float[] actual, DoubleSupplier bound) {
            gate.accept(what, () -> ErrorBounds.check(prefix + what, expected, actual, safety * bound.getAsDouble()));
        }

        public void check(String what, double expected, double actual, DoubleSupplier bound) {
            gate.accept(what, () -> ErrorBounds.check(prefix + what, expected, actual, safety * bound.getAsDouble()));
        }
    }

    /** The kernels' f32 constants for √(2/π) and 0.044715. */
    private static final RunningError GELU_K = constant(0.7978845608028654f, Math.sqrt(2 / Math.PI));
    private static final RunningError GELU_C = constant(0.044715f, 0.044715);

    private final Backend be;
    private final Checker kernels;
    private final Checker gemms;
    private final Random rnd;
    private final NaiveBackend ref = new NaiveBackend();

    /** kernels checks what the backend's own code computes, gemms what its GEMM library does (the CUDA stand-in computes GEMMs). */
    public BoundedOps(Backend be, Checker kernels, Checker gemms, Random rnd) {
        this.be = be;
        this.kernels = kernels;
        this.gemms = gemms;
        this.rnd = rnd;
    }

    private float[] g(long n) {
        return gaussian(rnd, n, 1.0);
    }

    private Tensor dev(float[] v, long... shape) {
        return be.upload(v, shape);
    }

    private static Tensor host(float[] v, long... shape) {
        return Tensor.of(v.clone(), shape);
    }

    private static float[] f32(Tensor t) {
        return Floats.toF32(t);
    }

    public static float[] roundBf16(float[] a) {
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = Floats.roundToBf16(a[i]);
        }
        return r;
    }

    /** A check whose bound is {@link RunningError#againstF64Reference} of every element. */
    private void check(String what, Tensor expected, float[] actual, IntFunction<RunningError> element) {
        float[] e = f32(expected);
        kernels.check(what, e, actual, () -> max(RunningError.againstF64Reference(e.length, element)));
    }

    /** t = tanhf(k·(x + c·x³)) as the GELU kernels compute it; 1 + t cancels for x ≪ 0. */
    private static RunningError geluTanh(RunningError v) {
        return GELU_K.times(v.plus(GELU_C.times(v).times(v).times(v))).monotone(Math::tanh, 2);
    }

    /** 0.5·x·(1 + t). */
    private static RunningError gelu(RunningError v) {
        return exact(0.5).times(v).times(exact(1).plus(geluTanh(v)));
    }

    /** dx + dy·(0.5·(1 + t) + 0.5·x·(1 − t²)·k·(1 + 3c·x²)): 1 − t² cancels for |x| large. */
    private static RunningError geluBackward(float x, float dy, float dx) {
        RunningError v = exact(x);
        RunningError t = geluTanh(v);
        RunningError d = exact(0.5).times(exact(1).plus(t)).plus(exact(0.5).times(v).times(exact(1).minus(t.times(t)))
                .times(GELU_K).times(exact(1).plus(exact(3).times(GELU_C).times(v).times(v))));
        return exact(dx).plus(exact(dy).times(d));
    }

    private static RunningError[] terms(int n, IntFunction<RunningError> term) {
        RunningError[] t = new RunningError[n];
        for (int i = 0; i < n; i++) {
            t[i] = term.apply(i);
        }
        return t;
    }

    /** s's value, computed on the first call only (bounds that cost O(L²·d) and may not be needed). */
    public static <T> Supplier<T> once(Supplier<T> s) {
        Object[] memo = new Object[1];
        return () -> {
            if (memo[0] == null) {
                memo[0] = s.get();
            }
            @SuppressWarnings("unchecked") T t = (T) memo[0];
            return t;
        };
    }

    /** alpha·op(A)·op(B) + beta·C with k = 130 for every transpose, against the f32 bound of a k-term sum. */
    public void gemmEveryTranspose() {
        long m = 67, n = 45, k = 130;
        for (boolean ta : new boolean[]{false, true}) {
            for (boolean tb : new boolean[]{false, true}) {
                float[] a = g(m * k), b = g(k * n), c = g(m * n);
                long[] as = ta ? new long[]{k, m} : new long[]{m, k};
                long[] bs = tb ? new long[]{n, k} : new long[]{k, n};
                Tensor hc = host(c, m, n), dc = dev(c, m, n);
                ref.gemm(ta, tb, 0.75f, host(a, as), host(b, bs), 0.5f, hc);
                be.gemm(ta, tb, 0.75f, dev(a, as), dev(b, bs), 0.5f, dc);
                gemms.check("gemm f32 ta=" + ta + " tb=" + tb, f32(hc), be.download(dc), () -> ErrorBounds.gemm(U_F32, k,
                        ErrorBounds.gemmMagnitude(ta, tb, 0.75f, host(a, as), host(b, bs), 0.5f, c, m, n)));
            }
        }
    }

    /**
     * linear for every mix of F32 and BF16 x, y and preGelu, with and without bias and GELU, on a bf16 weight and bf16
     * values of x (so that a backend that multiplies in bf16 gets the reference's inputs exactly). The pre-activation is
     * a GEMM whose k-term sums have unit {@code bf16GemmUnit} (the backend's bf16 GEMM: f32 on the CPU, tensor cores on
     * the GPU) with the bias as its beta·c term: E = ErrorBounds.gemm. The GELU moves an error E by at most
     * max|gelu_tanh'| · E < 1.13·E and adds its own f32 error (the kernel's expression, as the gelu check bounds it). A
     * BF16 output is each side's value rounded to nearest even, |bf16(v) − v| ≤ 2⁻⁸·|v| (U_BF16: 8 significant bits),
     * so two results within D of each other round to values within D + 2⁻⁸·(2·max|v| + D).
     */
    public void linear(double bf16GemmUnit) {
        int m = 37, k = 300, n = 72;
        float[] x = roundBf16(g((long) m * k)), w = roundBf16(gaussian(rnd, (long) n * k, 0.1)), bias = roundBf16(g(n));
        Tensor hw = Floats.toBf16(host(w, n, k)), hb = Floats.toBf16(host(bias, n));
        // BF16 operands reach the device as bytes (toDevice), not through a cast kernel
        Tensor dw = be.toDevice(hw), db = be.toDevice(hb);
        for (DType xd : new DType[]{DType.F32, DType.BF16}) {
            for (DType yd : new DType[]{DType.F32, DType.BF16}) {
                for (boolean withBias : new boolean[]{false, true}) {
                    for (boolean withGelu : new boolean[]{false, true}) {
                        String what = "linear x " + xd + " y " + yd + (withBias ? " bias" : "") + (withGelu ? " gelu" : "");
                        float[] c = new float[m * n];
                        for (int i = 0; withBias && i < c.length; i++) {
                            c[i] = bias[i % n];
                        }
                        double e = ErrorBounds.gemm(bf16GemmUnit, k, ErrorBounds.gemmMagnitude(false, true, 1f,
                                host(x, m, k), hw, 1f, c, m, n));
                        Tensor hy = hostAs(yd, m, n), hp = withGelu ? hostAs(yd, m, n) : null;
                        Tensor dy = be.allocate(yd, m, n), dp = withGelu ? be.allocate(yd, m, n) : null;
                        ref.linear(hostAs(xd, x, m, k), hw, withBias ? hb : null, hy, hp);
                        be.linear(devAs(xd, x, m, k), dw, withBias ? db : null, dy, dp);
                        // CudaBackend runs a bf16 x with no bias, or one of y's dtype, and a GELU into a bf16 y as
                        // a single cuBLASLt call with its epilogue, which the stand-in computes; the other cases
                        // cast, add or apply the GELU in kernels
                        boolean oneCall = xd == DType.BF16 && (!withBias || yd == DType.BF16)
                                && (!withGelu || yd == DType.BF16);
                        Checker checker = oneCall ? gemms : kernels;
                        if (!withGelu) {
                            float[] ey = f32(hy);
                            checker.check(what, ey, be.download(dy), () -> rounded(yd, e, ey));
                            continue;
                        }
                        float[] ep = f32(hp), ey = f32(hy);
                        checker.check(what + " preGelu", ep, be.download(dp), () -> rounded(yd, e, ep));
                        Tensor exactPre = Tensor.of(new float[m * n], m, n);
                        ref.linear(host(x, m, k), hw, withBias ? hb : null, exactPre, null);
                        float[] pre = f32(exactPre);
                        checker.check(what + " y", ey, be.download(dy), () -> rounded(yd, 1.13 * e
                                + max(RunningError.againstF64Reference(pre.length, i -> gelu(exact(pre[i])))), ey));
                    }
                }
            }
        }
    }

    /**
     * The other ops a BF16 MLP activation passes through. GEMMs with a BF16 a (the second MLP Linear's x·Wᵀ) and a BF16
     * b (its dW += dyᵀ·x, dy of bf16 values so that a backend multiplying in bf16 gets the reference's inputs): the GEMM
     * bound at {@code bf16GemmUnit}. copyStrided into, out of and between BF16 tensors: each side rounds the same f32
     * values to nearest even, so they agree exactly (bound 0).
     */
    public void bf16Activations(double bf16GemmUnit) {
        int m = 29, k = 96, n = 40;
        float[] x = roundBf16(g((long) m * k)), w = roundBf16(gaussian(rnd, (long) n * k, 0.1));
        float[] dy = roundBf16(g((long) m * n)), c = g((long) m * n), dw = g((long) n * k);
        Tensor hx = hostAs(DType.BF16, x, m, k), hw = hostAs(DType.BF16, w, n, k);
        Tensor hc = host(c, m, n), dc = dev(c, m, n);
        ref.gemm(false, true, 1f, hx, hw, 0.5f, hc);
        be.gemm(false, true, 1f, devAs(DType.BF16, x, m, k), devAs(DType.BF16, w, n, k), 0.5f, dc);
        // bf16 × bf16 runs on tensor cores with no cast: the stand-in computes it
        gemms.check("gemm bf16 a", f32(hc), be.download(dc), () -> ErrorBounds.gemm(bf16GemmUnit, k,
                ErrorBounds.gemmMagnitude(false, true, 1f, hx, hw, 0.5f, c, m, n)));
        Tensor hdw = host(dw, n, k), ddw = dev(dw, n, k);
        ref.gemm(true, false, 1f, host(dy, m, n), hx, 1f, hdw);
        be.gemm(true, false, 1f, dev(dy, m, n), devAs(DType.BF16, x, m, k), 1f, ddw);
        kernels.check("gemm bf16 b", f32(hdw), be.download(ddw), () -> ErrorBounds.gemm(bf16GemmUnit, m,
                ErrorBounds.gemmMagnitude(true, false, 1f, host(dy, m, n), hx, 1f, dw, n, k)));

        // split heads of an F32 [L=6, 2·4] into a BF16 [2, 6, 4], copy those back into a BF16 [6, 8], and add them
        // into an F32 [6, 8]
        float[] src = g(48), acc = g(48);
        long[] tok = {4, 8, 1, 0};
        long[] heads = {24, 4, 1, 0};
        long[] sizes = {2, 6, 4, 1};
        Tensor hh = hostAs(DType.BF16, 2, 6, 4), dh = be.toDevice(hostAs(DType.BF16, 2, 6, 4));
        ref.copyStrided(host(src, 6, 8), 0, tok, hh, 0, heads, sizes, false);
        be.copyStrided(dev(src, 6, 8), 0, tok, dh, 0, heads, sizes, false);
        float[] split = f32(hh);
        kernels.check("copyStrided f32 to bf16", split, be.download(dh), () -> 0);
        Tensor hb = hostAs(DType.BF16, 6, 8), db = be.toDevice(hostAs(DType.BF16, 6, 8));
        ref.copyStrided(hh, 0, heads, hb, 0, tok, sizes, false);
        be.copyStrided(devAs(DType.BF16, split, 2, 6, 4), 0, heads, db, 0, tok, sizes, false);
        kernels.check("copyStrided bf16 to bf16", f32(hb), be.download(db), () -> 0);
        Tensor ha = host(acc, 6, 8), da = dev(acc, 6, 8);
        ref.copyStrided(hh, 0, heads, ha, 0, tok, sizes, true);
        be.copyStrided(devAs(DType.BF16, split, 2, 6, 4), 0, heads, da, 0, tok, sizes, true);
        kernels.check("copyStrided bf16 added into f32", f32(ha), be.download(da), () -> 0);
    }

    /** A bound D on two f32 results, widened by their roundings to nearest when the output is BF16. */
    private static double rounded(DType dtype, double d, float[] expected) {
        return dtype == DType.F32 ? d : d + ErrorBounds.U_BF16 * (2 * Compare.maxAbs(expected) + d);
    }

    private static Tensor hostAs(DType dtype, long... shape) {
        return dtype == DType.F32 ? Tensor.of(new float[(int) Tensor.numel(shape)], shape)
                : Floats.toBf16(Tensor.of(new float[(int) Tensor.numel(shape)], shape));
    }

    private static Tensor hostAs(DType dtype, float[] v, long... shape) {
        return dtype == DType.F32 ? host(v, shape) : Floats.toBf16(host(v, shape));
    }

    private Tensor devAs(DType dtype, float[] v, long... shape) {
        return be.toDevice(hostAs(dtype, v, shape));
    }

    /** Bias, column sums, axpy, mul, scale: one rounding each (the sums: γ of their length); sum and dot in double. */
    public void biasAndElementwise() {
        int r = 33, c = 70, n = r * c;
        float[] y = g(n), bias = g(c), x = g(n), db = g(c);
        Tensor hy = host(y, r, c), dy = dev(y, r, c);
        ref.addBias(hy, host(bias, c));
        be.addBias(dy, dev(bias, c));
        check("addBias", hy, be.download(dy), i -> exact(y[i]).plus(exact(bias[i % c])));
        float[] rb = roundBf16(bias);
        Tensor bb = be.allocate(DType.BF16, c);
        be.copy(dev(bias, c), bb);
        Tensor hy2 = host(y, r, c), dy2 = dev(y, r, c);
        ref.addBias(hy2, host(rb, c));
        be.addBias(dy2, bb);
        check("addBias bf16", hy2, be.download(dy2), i -> exact(y[i]).plus(exact(rb[i % c])));

        // db + Σ_rows x: rows + 1 terms, in row chunks that meet in atomic adds on the GPU
        double rowsGamma = sumGamma(r + 1, U_F32, c);
        Tensor hdb = host(db, c), ddb = dev(db, c);
        ref.sumRows(host(x, r, c), hdb);
        be.sumRows(dev(x, r, c), ddb);
        check("sumRows", hdb, be.download(ddb),
                j -> RunningError.sum(terms(r + 1, i -> exact(i == 0 ? db[j] : x[(i - 1) * c + j])), rowsGamma));

        Tensor ha = host(y, r, c), da = dev(y, r, c);
        ref.axpy(-0.3f, host(x, r, c), ha);
        be.axpy(-0.3f, dev(x, r, c), da);
        check("axpy", ha, be.download(da), i -> exact(y[i]).plus(exact(-0.3f).times(exact(x[i]))));
        Tensor hm = host(new float[n], r, c), dm = dev(new float[n], r, c);
        ref.mul(host(x, r, c), host(y, r, c), hm);
        be.mul(dev(x, r, c), dev(y, r, c), dm);
        check("mul", hm, be.download(dm), i -> exact(x[i]).times(exact(y[i])));
        Tensor hs = host(y, r, c), ds = dev(y, r, c);
        ref.scale(hs, 1.7f);
        be.scale(ds, 1.7f);
        check("scale", hs, be.download(ds), i -> exact(y[i]).times(exact(1.7f)));

        // Both sides add 3,000,001 values in double, each in an order of its own: 2·γ(n, 2⁻⁵³)·Σ|terms|, the products
        // of two floats being exact in double.
        float[] big = g(3_000_001);
        Tensor hbig = host(big, big.length), dbig = dev(big, big.length);
        double absSum = 0;
        double squares = 0;
        for (float v : big) {
            absSum += Math.abs(v);
            squares += (double) v * v;
        }
        double doubleGamma = 2 * sumGamma(big.length, U_F64, 1);
        double absSumF = absSum;
        double squaresF = squares;
        kernels.check("sum", ref.sum(hbig), be.sum(dbig), () -> doubleGamma * absSumF);
        kernels.check("dot", ref.dot(hbig, hbig), be.dot(dbig, dbig), () -> doubleGamma * squaresF);
    }

    /**
     * SiLU and tanh-GELU with their backwards, and the row softmax, as kernels/activations.cu and softmax.cu write them;
     * expf and tanhf are within 2 ulp (CUDA Programming Guide, single-precision mathematical functions).
     */
    public void activationsAndSoftmax() {
        int r = 17, c = 301, n = r * c;
        float[] x = gaussian(rnd, n, 3), dy = g(n), dx = g(n);
        Tensor hy = host(new float[n], r, c), dyv = dev(new float[n], r, c);
        ref.silu(host(x, r, c), hy);
        be.silu(dev(x, r, c), dyv);
        check("silu", hy, be.download(dyv), i -> exact(x[i]).dividedBy(exact(1).plus(exact(-x[i]).monotone(Math::exp, 2))));
        Tensor hdx = host(dx, r, c), ddx = dev(dx, r, c);
        ref.siluBackward(host(dy, r, c), host(x, r, c), hdx);
        be.siluBackward(dev(dy, r, c), dev(x, r, c), ddx);
        // dx + dy·s·(1 + x·(1 − s)), s = 1/(1 + expf(−x)): 1 − s cancels for large x
        check("silu backward", hdx, be.download(ddx), i -> {
            RunningError s = exact(1).dividedBy(exact(1).plus(exact(-x[i]).monotone(Math::exp, 2)));
            return exact(dx[i]).plus(exact(dy[i]).times(s).times(exact(1).plus(exact(x[i]).times(exact(1).minus(s)))));
        });

        Tensor hg = host(new float[n], r, c), dg = dev(new float[n], r, c);
        ref.geluTanh(host(x, r, c), hg);
        be.geluTanh(dev(x, r, c), dg);
        check("gelu", hg, be.download(dg), i -> gelu(exact(x[i])));
        Tensor hgx = host(dx, r, c), dgx = dev(dx, r, c);
        ref.geluTanhBackward(host(dy, r, c), host(x, r, c), hgx);
        be.geluTanhBackward(dev(dy, r, c), dev(x, r, c), dgx);
        // dx + dy·(0.5·(1 + t) + 0.5·x·(1 − t²)·k·(1 + 3c·x²)): 1 − t² cancels for |x| large
        check("gelu backward", hgx, be.download(dgx), i -> geluBackward(x[i], dy[i], dx[i]));
        // x as a BF16 activation (an MLP pre-activation saved in BF16), on its bf16 values
        float[] xb = roundBf16(x);
        Tensor hgb = host(dx, r, c), dgb = dev(dx, r, c);
        ref.geluTanhBackward(host(dy, r, c), hostAs(DType.BF16, xb, r, c), hgb);
        be.geluTanhBackward(dev(dy, r, c), devAs(DType.BF16, xb, r, c), dgb);
        check("gelu backward bf16 x", hgb, be.download(dgb), i -> geluBackward(xb[i], dy[i], dx[i]));

        // y = expf(x − max)·(1/Σ): the sum of c positive terms; an error Δ in the exponents moves y by |Δy/y| ≤ 2·max|Δ|
        Tensor hs = host(x, r, c), ds = dev(x, r, c);
        ref.softmax(hs, hs);
        be.softmax(ds, ds);
        double colsGamma = sumGamma(c, U_F32, r);
        RunningError[] inv = new RunningError[r];
        double[] rowMax = new double[r];
        for (int row = 0; row < r; row++) {
            double m = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < c; j++) {
                m = Math.max(m, x[row * c + j]);
            }
            double mm = m;
            rowMax[row] = m;
            int base = row * c;
            inv[row] = exact(1).dividedBy(RunningError.sum(
                    terms(c, j -> exact(x[base + j]).minus(exact(mm)).monotone(Math::exp, 2)), colsGamma));
        }
        check("softmax in place", hs, be.download(ds),
                i -> exact(x[i]).minus(exact(rowMax[i / c])).monotone(Math::exp, 2).times(inv[i / c]));
        // dx + y·(dy − Σ dy·y), on the reference's y
        float[] y = f32(hs);
        RunningError[] dots = new RunningError[r];
        for (int row = 0; row < r; row++) {
            int base = row * c;
            dots[row] = RunningError.sum(terms(c, j -> exact(dy[base + j]).times(exact(y[base + j]))), colsGamma);
        }
        Tensor hsx = host(dx, r, c), dsx = dev(dx, r, c);
        ref.softmaxBackward(host(dy, r, c), host(y, r, c), hsx);
        be.softmaxBackward(dev(dy, r, c), dev(y, r, c), dsx);
        check("softmax backward", hsx, be.download(dsx),
                i -> exact(dx[i]).plus(exact(y[i]).times(exact(dy[i]).minus(dots[i / c]))));
    }

    /** LayerNorm (two-pass variance) and RMSNorm as kernels/norms.cu writes them; rsqrtf within 2 ulp. */
    public void norms() {
        int r = 40, c = 3072, n = r * c;
        float eps = 1e-6f;
        float[] x = gaussian(rnd, n, 2), dy = g(n), dx = g(n);
        Tensor hy = host(new float[n], r, c), dyv = dev(new float[n], r, c);
        Tensor hmean = host(new float[r], r), hrstd = host(new float[r], r);
        Tensor dmean = dev(new float[r], r), drstd = dev(new float[r], r);
        ref.layerNorm(host(x, r, c), hy, hmean, hrstd, eps);
        be.layerNorm(dev(x, r, c), dyv, dmean, drstd, eps);
        double colsGamma = sumGamma(c, U_F32, r);
        RunningError[] mean = new RunningError[r];
        RunningError[] rstd = new RunningError[r];
        for (int row = 0; row < r; row++) {
            int base = row * c;
            RunningError mu = RunningError.sum(terms(c, j -> exact(x[base + j])), colsGamma).dividedBy(exact(c));
            RunningError var = RunningError.sum(terms(c, j -> {
                RunningError d = exact(x[base + j]).minus(mu);
                return d.times(d);
            }), colsGamma).dividedBy(exact(c));
            mean[row] = mu;
            rstd[row] = var.plus(exact(eps)).monotone(t -> 1 / Math.sqrt(t), 2);
        }
        IntFunction<RunningError> normalized = i -> exact(x[i]).minus(mean[i / c]).times(rstd[i / c]);
        check("layerNorm", hy, be.download(dyv), normalized);
        check("layerNorm mean", hmean, be.download(dmean), row -> mean[row]);
        check("layerNorm rstd", hrstd, be.download(drstd), row -> rstd[row]);
        be.layerNorm(dev(x, r, c), dyv, null, null, eps);
        check("layerNorm without stats", hy, be.download(dyv), normalized);

        // dx + (dy − mean(dy) − x̂·mean(dy·x̂))·rstd with x̂ = (x − mean)·rstd, on the reference's mean and rstd
        float[] mu = f32(hmean), rs = f32(hrstd);
        IntFunction<RunningError> xhat = i -> exact(x[i]).minus(exact(mu[i / c])).times(exact(rs[i / c]));
        RunningError[] mdy = new RunningError[r];
        RunningError[] mdyx = new RunningError[r];
        for (int row = 0; row < r; row++) {
            int base = row * c;
            mdy[row] = RunningError.sum(terms(c, j -> exact(dy[base + j])), colsGamma).dividedBy(exact(c));
            mdyx[row] = RunningError.sum(terms(c, j -> exact(dy[base + j]).times(xhat.apply(base + j))), colsGamma)
                    .dividedBy(exact(c));
        }
        Tensor hdx = host(dx, r, c), ddx = dev(dx, r, c);
        ref.layerNormBackward(host(dy, r, c), host(x, r, c), hmean, hrstd, hdx);
        be.layerNormBackward(dev(dy, r, c), dev(x, r, c), dev(mu, r), dev(rs, r), ddx);
        check("layerNorm backward", hdx, be.download(ddx), i -> exact(dx[i]).plus(exact(dy[i]).minus(mdy[i / c])
                .minus(xhat.apply(i).times(mdyx[i / c])).times(exact(rs[i / c]))));

        int rows = 24 * 37, d = 128, nq = rows * d;
        float[] q = gaussian(rnd, nq, 3), w = roundBf16(gaussian(rnd, d, 1)), gq = g(nq), dq0 = g(nq), dw0 = g(d);
        Tensor wb = be.allocate(DType.BF16, d);
        be.copy(dev(w, d), wb);
        Tensor hq = host(new float[nq], rows, d), dqv = dev(new float[nq], rows, d);
        Tensor hr = host(new float[rows], rows), dr = dev(new float[rows], rows);
        ref.rmsNorm(host(q, rows, d), host(w, d), hq, hr, eps);
        be.rmsNorm(dev(q, rows, d), wb, dqv, dr, eps);
        double dimGamma = sumGamma(d, U_F32, rows);
        RunningError[] rrms = new RunningError[rows];
        for (int row = 0; row < rows; row++) {
            int base = row * d;
            rrms[row] = RunningError.sum(terms(d, j -> exact(q[base + j]).times(exact(q[base + j]))), dimGamma)
                    .dividedBy(exact(d)).plus(exact(eps)).monotone(t -> 1 / Math.sqrt(t), 2);
        }
        check("rmsNorm bf16 weight", hq, be.download(dqv), i -> exact(q[i]).times(rrms[i / d]).times(exact(w[i % d])));

        // with the reference's rrms r: dx + r·(dy·w − x·r·r·mean(dy·w·x)); dw + Σ_rows dy·x·r (rows + 1 terms)
        float[] rr = f32(hr);
        RunningError[] m = new RunningError[rows];
        for (int row = 0; row < rows; row++) {
            int base = row * d;
            m[row] = RunningError.sum(terms(d, j -> exact(gq[base + j]).times(exact(w[j])).times(exact(q[base + j]))),
                    dimGamma).dividedBy(exact(d));
        }
        Tensor hdq = host(dq0, rows, d), ddq = dev(dq0, rows, d), hdw = host(dw0, d), ddw = dev(dw0, d);
        ref.rmsNormBackward(host(gq, rows, d), host(q, rows, d), host(w, d), hr, hdq, hdw);
        be.rmsNormBackward(dev(gq, rows, d), dev(q, rows, d), wb, dev(rr, rows), ddq, ddw);
        check("rmsNorm backward dx", hdq, be.download(ddq), i -> {
            RunningError rv = exact(rr[i / d]);
            return exact(dq0[i]).plus(rv.times(exact(gq[i]).times(exact(w[i % d]))
                    .minus(exact(q[i]).times(rv).times(rv).times(m[i / d]))));
        });
        double overRows = sumGamma(rows + 1, U_F32, d);
        check("rmsNorm backward dw", hdw, be.download(ddw), j -> RunningError.sum(terms(rows + 1, i -> i == 0
                ? exact(dw0[j]) : exact(gq[(i - 1) * d + j]).times(exact(q[(i - 1) * d + j])).times(exact(rr[i - 1]))),
                overRows));
        be.rmsNormBackward(dev(gq, rows, d), dev(q, rows, d), wb, dev(rr, rows), ddq, null);
    }

    /** adaLN modulation (shift chunk 3, scale 4) and the gated residual (gate 5) with their backwards. */
    public void modulationAndGate() {
        int b = 2, t = 150, c = 96, k = 6, n = b * t * c, nm = b * k * c;
        float[] x = g(n), mod = gaussian(rnd, nm, 0.5), dy = g(n), dx = g(n), dmod = g(nm);
        Tensor hy = host(new float[n], b, t, c), dyv = dev(new float[n], b, t, c);
        ref.modulate(host(x, b, t, c), host(mod, b, k * c), 3, 4, hy);
        be.modulate(dev(x, b, t, c), dev(mod, b, k * c), 3, 4, dyv);
        check("modulate", hy, be.download(dyv), i -> exact(1).plus(exact(mod[modIndex(i, t, c, k, 4)])).times(exact(x[i]))
                .plus(exact(mod[modIndex(i, t, c, k, 3)])));
        Tensor hdx = host(dx, b, t, c), ddx = dev(dx, b, t, c), hdm = host(dmod, b, k * c), ddm = dev(dmod, b, k * c);
        ref.modulateBackward(host(dy, b, t, c), host(x, b, t, c), host(mod, b, k * c), 3, 4, hdx, hdm);
        be.modulateBackward(dev(dy, b, t, c), dev(x, b, t, c), dev(mod, b, k * c), 3, 4, ddx, ddm);
        check("modulate backward dx", hdx, be.download(ddx),
                i -> exact(dx[i]).plus(exact(dy[i]).times(exact(1).plus(exact(mod[modIndex(i, t, c, k, 4)])))));
        // dmod's scale chunk gains Σ_tokens dy·x, its shift chunk Σ_tokens dy (t + 1 terms with the base)
        double overTokens = sumGamma(t + 1, U_F32, nm);
        check("modulate backward dmod", hdm, be.download(ddm), i -> {
            int batch = i / (k * c), ch = (i / c) % k, j = i % c;
            if (ch != 3 && ch != 4) {
                return exact(dmod[i]);
            }
            return RunningError.sum(terms(t + 1, s -> {
                if (s == 0) {
                    return exact(dmod[i]);
                }
                int e = (batch * t + s - 1) * c + j;
                return ch == 4 ? exact(dy[e]).times(exact(x[e])) : exact(dy[e]);
            }), overTokens);
        });
        be.modulateBackward(dev(dy, b, t, c), dev(x, b, t, c), dev(mod, b, k * c), 3, 4, null, null);

        Tensor hx = host(x, b, t, c), dxv = dev(x, b, t, c);
        ref.gateAdd(hx, host(dy, b, t, c), host(mod, b, k * c), 5);
        be.gateAdd(dxv, dev(dy, b, t, c), dev(mod, b, k * c), 5);
        check("gateAdd", hx, be.download(dxv), i -> exact(x[i]).plus(exact(mod[modIndex(i, t, c, k, 5)]).times(exact(dy[i]))));
        Tensor hdf = host(dx, b, t, c), ddf = dev(dx, b, t, c), hdg = host(dmod, b, k * c), ddg = dev(dmod, b, k * c);
        ref.gateAddBackward(host(x, b, t, c), host(dy, b, t, c), host(mod, b, k * c), 5, hdf, hdg);
        be.gateAddBackward(dev(x, b, t, c), dev(dy, b, t, c), dev(mod, b, k * c), 5, ddf, ddg);
        check("gateAdd backward df", hdf, be.download(ddf),
                i -> exact(dx[i]).plus(exact(x[i]).times(exact(mod[modIndex(i, t, c, k, 5)]))));
        check("gateAdd backward dmod", hdg, be.download(ddg), i -> {
            int batch = i / (k * c), ch = (i / c) % k, j = i % c;
            if (ch != 5) {
                return exact(dmod[i]);
            }
            return RunningError.sum(terms(t + 1, s -> s == 0 ? exact(dmod[i])
                    : exact(x[(batch * t + s - 1) * c + j]).times(exact(dy[(batch * t + s - 1) * c + j]))), overTokens);
        });
    }

    /** Index into mod [B, k·C] of chunk {@code chunk} for element i of x [B, T, C]. */
    private static int modIndex(int i, int t, int c, int k, int chunk) {
        return (i / (t * c)) * k * c + chunk * c + i % c;
    }

    /** RoPE on adjacent pairs: the rotation's two products and their sum or difference (which may cancel). */
    public void rope() {
        int h = 3, l = 50, d = 128, half = d / 2, n = h * l * d;
        float[] x = g(n), cos = new float[l * half], sin = new float[cos.length], dx = g(n);
        for (int i = 0; i < cos.length; i++) {
            double th = rnd.nextDouble() * 6.3;
            cos[i] = (float) Math.cos(th);
            sin[i] = (float) Math.sin(th);
        }
        Tensor hx = host(x, 1, h, l, d), dxv = dev(x, 1, h, l, d);
        ref.rope(hx, host(cos, l, half), host(sin, l, half), hx);
        be.rope(dxv, dev(cos, l, half), dev(sin, l, half), dxv);
        check("rope in place", hx, be.download(dxv), i -> rotate(x, cos, sin, i, l, d, false));
        float[] y = f32(hx);
        Tensor hdx = host(dx, 1, h, l, d), ddx = dev(dx, 1, h, l, d);
        ref.ropeBackward(hx, host(cos, l, half), host(sin, l, half), hdx);
        be.ropeBackward(dev(y, 1, h, l, d), dev(cos, l, half), dev(sin, l, half), ddx);
        check("rope backward", hdx, be.download(ddx), i -> exact(dx[i]).plus(rotate(y, cos, sin, i, l, d, true)));
    }

    /** Element i of the rotation of x's pair by θ (or −θ): c·a ∓ s·b, ±s·a + c·b. */
    private static RunningError rotate(float[] x, float[] cos, float[] sin, int i, int l, int d, boolean inverse) {
        int p = i / 2;
        int pos = (p / (d / 2)) % l * (d / 2) + p % (d / 2);
        RunningError c = exact(cos[pos]), s = exact(inverse ? -sin[pos] : sin[pos]);
        RunningError a = exact(x[2 * p]), b = exact(x[2 * p + 1]);
        return i % 2 == 0 ? c.times(a).minus(s.times(b)) : s.times(a).plus(c.times(b));
    }

    /** How a test runs the backend's conv ({@code Backend.conv2d}, or CUDA's with small column tiles). */
    public interface ConvCall {
        void run(Tensor x, Tensor w, Tensor bias, Tensor y, ConvGeometry g, boolean accumulate);
    }

    public void conv2d() {
        conv2d("", be::conv2d);
    }

    /**
     * The VAE's four geometries with each weight dtype, bias or none, overwriting or accumulating, at channel counts off
     * every vector width. The result is y0 + bias + a sum of k = kh·kw·Cin products, in whatever order the GEMM takes:
     * {@link ErrorBounds#gemm} over k + 2 terms, whose magnitude (Σ|w||x| + |bias| + |y0|) the reference computes on the
     * absolute values. A bf16 weight multiplies bf16-rounded activations on tensor cores (unit 2⁻²³), so its case takes
     * bf16-representable inputs, which the CPU multiplies as they are.
     */
    public void conv2d(String name, ConvCall conv) {
        conv(name, conv, 2, 9, 7, 40, 24, 1, ConvGeometry.POINTWISE, DType.F32, true, false);
        conv(name, conv, 1, 9, 7, 40, 24, 1, ConvGeometry.POINTWISE, DType.BF16, true, true);
        conv(name, conv, 2, 12, 10, 33, 20, 3, ConvGeometry.SAME, DType.F32, true, true);
        conv(name, conv, 1, 12, 10, 64, 32, 3, ConvGeometry.SAME, DType.BF16, false, false);
        conv(name, conv, 2, 11, 8, 24, 16, 3, ConvGeometry.DOWN, DType.F16, true, false);
        conv(name, conv, 1, 9, 6, 32, 24, 3, ConvGeometry.UP, DType.BF16, true, true);
        conv(name, conv, 1, 7, 5, 19, 7, 3, ConvGeometry.UP, DType.F32, false, false);
    }

    private void conv(String name, ConvCall conv, int b, int h, int w, int cin, int cout, int k, ConvGeometry geometry,
                      DType wType, boolean withBias, boolean accumulate) {
        long[] xs = {b, h, w, cin}, ws = {cout, k, k, cin};
        long[] ys = {b, geometry.outSize(h, k), geometry.outSize(w, k), cout};
        boolean bf16 = wType == DType.BF16;
        float[] drawn = g(Tensor.numel(xs)), weights = gaussian(rnd, Tensor.numel(ws), 0.1);
        float[] x = bf16 ? roundBf16(drawn) : drawn;
        float[] wt = bf16 ? roundBf16(weights) : wType == DType.F16 ? roundF16(weights) : weights;
        float[] bias = withBias ? g(cout) : null, y0 = accumulate ? g(Tensor.numel(ys)) : new float[(int) Tensor.numel(ys)];
        Tensor hy = host(y0, ys);
        ref.conv2d(host(x, xs), host(wt, ws), withBias ? host(bias, cout) : null, hy, geometry, accumulate);
        Tensor dw = be.allocate(wType, ws);
        be.copy(dev(wt, ws), dw);
        Tensor dy = dev(y0, ys);
        conv.run(dev(x, xs), dw, withBias ? dev(bias, cout) : null, dy, geometry, accumulate);
        String what = name + "conv2d " + wType + " " + Arrays.toString(xs) + " at " + geometry
                + (withBias ? " with bias" : "") + (accumulate ? " accumulating" : "");
        kernels.check(what, f32(hy), be.download(dy), () -> {
            Tensor magnitude = host(ErrorBounds.abs(y0), ys);
            ref.conv2d(host(ErrorBounds.abs(x), xs), host(ErrorBounds.abs(wt), ws),
                    withBias ? host(ErrorBounds.abs(bias), cout) : null, magnitude, geometry, true);
            return ErrorBounds.gemm(bf16 ? U_TENSOR_CORE : U_F32, (long) k * k * cin + 2, f32(magnitude));
        });
    }

    private static float[] roundF16(float[] a) {
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = Float.float16ToFloat(Float.floatToFloat16(a[i]));
        }
        return r;
    }

    /**
     * GroupNorm as kernels/norms.cu and cpu/Norms write it: the statistics in double, rounded to f32 (the mean, and
     * rstd or its product with gamma), then (x − mean)·(rstd·gamma) + beta and the swish x/(1 + expf(−x)). Beside f32's
     * roundings the statistics carry their double sums' error, 2·γ(n, 2⁻⁵³) of Σ|x| for the mean and of rstd itself.
     */
    public void groupNorm() {
        groupNorm(2, 300, 96, 32, true, DType.F32, DType.BF16);
        groupNorm(1, 1000, 40, 8, false, DType.BF16, DType.F32);
    }

    private void groupNorm(int b, int pixels, int c, int groups, boolean swish, DType gammaType, DType betaType) {
        int n = b * pixels * c, cg = c / groups;
        float eps = 1e-6f;
        float[] x = gaussian(rnd, n, 2);
        for (int i = 0; i < n; i++) {
            x[i] += 3;
        }
        float[] gamma = roundBf16(gaussian(rnd, c, 1)), beta = roundBf16(g(c));
        Tensor hy = host(new float[n], b, pixels, c);
        ref.groupNorm(host(x, b, pixels, c), host(gamma, c), host(beta, c), hy, groups, eps, swish);
        Tensor dg = be.allocate(gammaType, c), db = be.allocate(betaType, c);
        be.copy(dev(gamma, c), dg);
        be.copy(dev(beta, c), db);
        Tensor dx = dev(x, b, pixels, c);
        be.groupNorm(dx, dg, db, dx, groups, eps, swish);
        double count = (double) pixels * cg;
        double doubleGamma = 2 * ErrorBounds.gamma(count + 3, U_F64);
        RunningError[] mean = new RunningError[b * groups], rstd = new RunningError[b * groups];
        for (int img = 0; img < b; img++) {
            for (int grp = 0; grp < groups; grp++) {
                double s = 0, abs = 0;
                for (int p = 0; p < pixels; p++) {
                    for (int j = grp * cg; j < (grp + 1) * cg; j++) {
                        s += x[(img * pixels + p) * c + j];
                        abs += Math.abs(x[(img * pixels + p) * c + j]);
                    }
                }
                double mu = s / count, v = 0;
                for (int p = 0; p < pixels; p++) {
                    for (int j = grp * cg; j < (grp + 1) * cg; j++) {
                        double d = x[(img * pixels + p) * c + j] - mu;
                        v += d * d;
                    }
                }
                double r = 1 / Math.sqrt(v / count + eps);
                mean[img * groups + grp] = new RunningError(mu, U_F32 * Math.abs(mu) + doubleGamma * abs / count);
                rstd[img * groups + grp] = new RunningError(r, (U_F32 + doubleGamma) * r);
            }
        }
        check("groupNorm in place " + groups + " groups of " + cg + (swish ? ", swish" : ""), hy, be.download(dx), i -> {
            int ch = i % c, stat = i / (pixels * c) * groups + ch / cg;
            RunningError v = exact(x[i]).minus(mean[stat]).times(rstd[stat].times(exact(gamma[ch])))
                    .plus(exact(beta[ch]));
            return swish ? v.dividedBy(exact(1).plus(v.negate().monotone(Math::exp, 2))) : v;
        });
    }

    /** What an attention case leaves for further checks (the CUDA chosen-column probabilities). */
    public record Attended(String what, Tensor q, Tensor k, Tensor lse, float[] probs, AttentionBounds.Forward bounds,
                           int lk, float scale) {
    }

    /**
     * q [2, 3, lq, d], k, v [2, 3, lk, d] against the reference on the inputs as {@code a} multiplies them (rounded to
     * bf16 first when it rounds them; the backend gets the unrounded ones and rounds them itself), within
     * AttentionBounds: out, lse, probabilities, and the gradients' increments.
     */
    public Attended attention(AttentionBounds.Arithmetic a, boolean roundsInputs, int lq, int lk, int d) {
        int bh = 6;
        float scale = (float) (1 / Math.sqrt(d));
        float[] q = gaussian(rnd, (long) bh * lq * d, 1.5), k = gaussian(rnd, (long) bh * lk * d, 1.5);
        float[] v = g((long) bh * lk * d);
        float[] dout = g(q.length), dq0 = g(q.length), dk0 = g(k.length), dv0 = g(v.length);
        float[] rq = roundsInputs ? roundBf16(q) : q, rk = roundsInputs ? roundBf16(k) : k, rv = roundsInputs ? roundBf16(v) : v;
        String what = a.name() + " attention lq=" + lq + " lk=" + lk + " d=" + d;
        long[] qs = {2, 3, lq, d}, ks = {2, 3, lk, d};
        Tensor ho = host(new float[q.length], qs), hl = host(new float[bh * lq], 2, 3, lq);
        Tensor hp = host(new float[bh * lq * lk], 2, 3, lq, lk);
        ref.attention(host(rq, qs), host(rk, ks), host(rv, ks), ho, hl, hp, scale);
        Tensor dqt = dev(q, qs), dkt = dev(k, ks), dvt = dev(v, ks);
        Tensor o = dev(new float[q.length], qs), lse = dev(new float[bh * lq], 2, 3, lq);
        Tensor p = dev(new float[bh * lq * lk], 2, 3, lq, lk);
        be.attention(dqt, dkt, dvt, o, lse, p, scale);
        AttentionBounds.Shape shape = new AttentionBounds.Shape(bh, lq, lk, d);
        float[] out = f32(ho), lseRef = f32(hl), probs = f32(hp);
        AttentionBounds.Forward fwd = AttentionBounds.forward(a, shape, rq, rk, rv, lseRef, scale);
        kernels.check(what + " out", out, be.download(o), () -> max(againstF64Reference(fwd.out(), out)));
        kernels.check(what + " lse", lseRef, be.download(lse), () -> max(againstF64Reference(fwd.lse(), lseRef)));
        kernels.check(what + " probs", probs, be.download(p), () -> max(againstF64Reference(fwd.probs(probs, lk), probs)));

        Tensor hdq = host(dq0, qs), hdk = host(dk0, ks), hdv = host(dv0, ks);
        ref.attentionBackward(host(dout, qs), host(rq, qs), host(rk, ks), host(rv, ks), ho, hl, hdq, hdk, hdv, scale);
        Tensor ddq = dev(dq0, qs), ddk = dev(dk0, ks), ddv = dev(dv0, ks);
        be.attentionBackward(dev(dout, qs), dqt, dkt, dvt, o, lse, ddq, ddk, ddv, scale);
        Supplier<AttentionBounds.Backward> bwd = once(() -> AttentionBounds.backward(a, fwd, shape, rq, rk, rv, dout, dq0,
                dk0, dv0, scale));
        // the accumulated gradients dwarf the increments: compare the increments
        increment(what + " dq", hdq, be.download(ddq), dq0, () -> bwd.get().dq());
        increment(what + " dk", hdk, be.download(ddk), dk0, () -> bwd.get().dk());
        increment(what + " dv", hdv, be.download(ddv), dv0, () -> bwd.get().dv());
        return new Attended(what, dqt, dkt, lse, probs, fwd, lk, scale);
    }

    /**
     * The increment over base of a gradient both sides added to it. Beside the bound on the backend's sum with the
     * base, 3u·(|base| + |increment|): the reference's rounding of its sum with the base, and the f32 subtraction of the
     * base on each side.
     */
    private void increment(String what, Tensor expected, float[] actual, float[] base, Supplier<double[]> bound) {
        float[] e = diff(f32(expected), base);
        kernels.check(what, e, diff(actual, base), () -> {
            double[] b = bound.get();
            double worst = 0;
            for (int i = 0; i < e.length; i++) {
                worst = Math.max(worst, b[i] + 3 * U_F32 * (Math.abs(base[i]) + Math.abs(e[i])));
            }
            return worst;
        });
    }

    private static float[] diff(float[] a, float[] base) {
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = a[i] - base[i];
        }
        return r;
    }

    /** One AdamW step's new param, m and v as adamw.cu computes them, bc1 and bc2 made in double and passed as floats. */
    public record AdamwState(RunningError p, RunningError m, RunningError v) {
        public static AdamwState step(float p, float g, float m, float v, float lr, float beta1, float beta2, float eps,
                                      float wd, long step) {
            double bc1 = 1 - Math.pow(beta1, step), bc2 = 1 - Math.pow(beta2, step);
            RunningError b1 = exact(beta1), b2 = exact(beta2), gi = exact(g), one = exact(1);
            RunningError mi = b1.times(exact(m)).plus(one.minus(b1).times(gi));
            RunningError vi = b2.times(exact(v)).plus(one.minus(b2).times(gi).times(gi));
            RunningError decayed = exact(p).times(one.minus(exact(lr).times(exact(wd))));
            RunningError denom = vi.monotone(Math::sqrt, 0.5)
                    .dividedBy(constant((float) bc2, bc2).monotone(Math::sqrt, 0.5)).plus(exact(eps));
            RunningError update = exact(lr).dividedBy(constant((float) bc1, bc1)).times(mi).dividedBy(denom);
            return new AdamwState(decayed.minus(update), mi, vi);
        }
    }

    /** Three AdamW steps, each from the reference's state on both sides. */
    public void adamw() {
        int n = 5000;
        float[] gr = g(n);
        Tensor hp = host(g(n), n), hm = host(gaussian(rnd, n, 0.1), n), hv = host(ErrorBounds.abs(gaussian(rnd, n, 0.01)), n);
        for (long step = 1; step <= 3; step++) {
            float[] p0 = f32(hp), m0 = f32(hm), v0 = f32(hv);
            ref.adamw(hp, host(gr, n), hm, hv, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
            Tensor dp = dev(p0, n), dm = dev(m0, n), dv = dev(v0, n);
            be.adamw(dp, dev(gr, n), dm, dv, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
            long s = step;
            IntFunction<AdamwState> state = i -> AdamwState.step(p0[i], gr[i], m0[i], v0[i], 1e-3f, 0.9f, 0.999f, 1e-8f,
                    0.01f, s);
            check("adamw param step " + step, hp, be.download(dp), i -> state.apply(i).p());
            check("adamw m step " + step, hm, be.download(dm), i -> state.apply(i).m());
            check("adamw v step " + step, hv, be.download(dv), i -> state.apply(i).v());
        }
    }
}
