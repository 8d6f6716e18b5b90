package dev.fluxerase.tensor;

import java.util.Arrays;
import java.util.List;

/**
 * The argument contract of every {@link Backend} op, checked by each backend (naive, cpu, cuda) at the op's entry, before
 * any work or kernel launch, so that all of them accept the same calls and reject each bad one with the same one line:
 * the op, the argument, what was expected and what came. Tensors are described by shape and dtype only ("[2, 8] F32"),
 * and the device is named only when it is the wrong one, so a bad shape or dtype reads the same whichever backend got
 * it. What a backend cannot run although the contract allows it (a launch grid's limits, the CPU kernels' array size)
 * is that backend's own check, after these.
 *
 * <p>One instance per device ({@link #on}); the per-op methods take the op's tensor arguments in the op's order and
 * return the shapes the op derives (GEMM's m, n, k; modulation's [B, T, C]; RoPE's slices; attention's heads and lengths).
 */
public final class BackendContract {
    private static final BackendContract CPU = new BackendContract(Device.CPU);
    private static final BackendContract CUDA = new BackendContract(Device.CUDA);

    private final Device device;

    private BackendContract(Device device) {
        this.device = device;
    }

    /** The contract of the backends whose tensors live on {@code device}. */
    public static BackendContract on(Device device) {
        return device == Device.CPU ? CPU : CUDA;
    }

    // ---- derived shapes -----------------------------------------------------------------------------------------------

    /** c [m, n] = op(a) [m, k] · op(b) [k, n]. */
    public record Gemm(long m, long n, long k) {
    }

    /** x [B, T, C] against mod [B, k·C]: batch, tokens per batch, channels and the number of chunks k. */
    public record Mod(int batch, long tokens, int channels, int chunks) {
        public long modRow() {
            return (long) chunks * channels;
        }
    }

    /** x [.., L, D] against cos, sin [L, D/2]: the number of [L, D] slices, L and D. */
    public record Rope(long slices, int length, int dim) {
    }

    /**
     * q [.., Lq, D] and k, v [.., Lk, D] with the same leading dimensions: (batch·heads), Lq, Lk, D. Lq may differ from Lk
     * (FLUX's self-attention is the case Lq = Lk).
     */
    public record Attn(int heads, int lq, int lk, int dim) {
    }

    /**
     * x [B, H, W, Cin] through w [Cout, kh, kw, Cin] into y [B, OH, OW, Cout]: every extent, each within int range, so
     * that the kernels index with ints per image.
     */
    public record Conv(int batch, int h, int w, int cin, int cout, int kh, int kw, int oh, int ow) {
        /** The length of one output pixel's tap vector, kh·kw·Cin: the GEMM's k. */
        public long taps() {
            return (long) kh * kw * cin;
        }

        /** The output pixels of all images: the GEMM's m. */
        public long outPixels() {
            return (long) batch * oh * ow;
        }
    }

    /** x [B, P, C] in groups of C/groups channels. */
    public record Groups(int batch, long pixels, int channels, int groups) {
        public int groupSize() {
            return channels / groups;
        }
    }

    // ---- memory -------------------------------------------------------------------------------------------------------

    public void upload(float[] values, long[] shape) {
        require(Tensor.numel(shape) == values.length,
                "upload: " + values.length + " values for shape " + Arrays.toString(shape));
    }

    public void write(Tensor dst, float[] values) {
        floating("write", "dst", dst);
        require(dst.numel() == values.length, "write: " + values.length + " values for dst " + describe(dst));
    }

    /** A host tensor of any dtype, on its way to this device (host backends use it as it is). */
    public void toDevice(Tensor host) {
        present("toDevice", "host", host);
        require(host.device() == Device.CPU, "toDevice: host must be on CPU, got " + describe(host) + " on "
                + host.device());
    }

    public void download(Tensor t) {
        floating("download", "tensor", t);
    }

    public void copy(Tensor src, Tensor dst) {
        floating("copy", "src", src);
        floating("copy", "dst", dst);
        sameNumel("copy", "src", src, "dst", dst);
    }

    public void fill(Tensor t) {
        floating("fill", "tensor", t);
    }

    /**
     * Four sizes and four strides per side, no negative size, and every addressed element inside its tensor. Returns
     * false when there is nothing to copy (a size is 0).
     */
    public boolean copyStrided(Tensor src, long srcOffset, long[] srcStrides, Tensor dst, long dstOffset,
                               long[] dstStrides, long[] sizes, boolean accumulate) {
        String op = "copyStrided";
        activation(op, "src", src);
        activation(op, "dst", dst);
        // adding into a BF16 tensor would round every partial sum: accumulation is for gradients, which are F32
        require(!accumulate || dst.dtype() == DType.F32, op + ": accumulate needs an F32 dst, got " + describe(dst));
        require(sizes.length == 4 && srcStrides.length == 4 && dstStrides.length == 4,
                op + ": sizes and strides must have 4 entries, got sizes " + Arrays.toString(sizes) + ", src strides "
                        + Arrays.toString(srcStrides) + ", dst strides " + Arrays.toString(dstStrides));
        boolean empty = false;
        for (long s : sizes) {
            require(s >= 0, op + ": negative size in " + Arrays.toString(sizes));
            empty |= s == 0;
        }
        if (empty) {
            return false;
        }
        inside(op, "src", src, srcOffset, srcStrides, sizes);
        inside(op, "dst", dst, dstOffset, dstStrides, sizes);
        return true;
    }

    private static void inside(String op, String what, Tensor t, long offset, long[] strides, long[] sizes) {
        long lo = offset;
        long hi = offset;
        for (int i = 0; i < 4; i++) {
            long reach = Math.multiplyExact(strides[i], sizes[i] - 1);
            if (reach < 0) {
                lo += reach;
            } else {
                hi += reach;
            }
        }
        require(lo >= 0 && hi < t.numel(), op + ": " + what + " elements [" + lo + ", " + hi + "] (offset " + offset
                + ", strides " + Arrays.toString(strides) + ", sizes " + Arrays.toString(sizes) + ") outside "
                + describe(t));
    }

    // ---- GEMM ---------------------------------------------------------------------------------------------------------

    public Gemm gemm(boolean transA, boolean transB, Tensor a, Tensor b, Tensor c) {
        activation("gemm", "a", a);
        weight("gemm", "b", b);
        f32("gemm", "c", c);
        long m = transA ? a.cols() : leadingRows(a);
        long k = transA ? leadingRows(a) : a.cols();
        long kb = transB ? b.cols() : leadingRows(b);
        long n = transB ? leadingRows(b) : b.cols();
        require(k == kb && leadingRows(c) == m && c.cols() == n, "gemm: op(a) " + m + "x" + k + " from a " + shape(a, transA)
                + ", op(b) " + kb + "x" + n + " from b " + shape(b, transB) + " and c " + Arrays.toString(c.shape())
                + " do not fit (c must be " + m + "x" + n + ")");
        return new Gemm(m, n, k);
    }

    /** y [rows, out] (and preGelu) = x [rows, in] · w [out, in]ᵀ + bias [out]: m = rows, n = out, k = in. */
    public Gemm linear(Tensor x, Tensor w, Tensor bias, Tensor y, Tensor preGelu) {
        String op = "linear";
        activation(op, "x", x);
        weight(op, "w", w);
        activation(op, "y", y);
        require(w.rank() == 2 && w.dim(1) == x.cols() && leadingRows(y) == leadingRows(x) && y.cols() == w.dim(0),
                op + ": x " + describe(x) + ", w " + describe(w) + " and y " + describe(y)
                        + " do not fit (w must be [out, x's columns], y [x's rows, out])");
        if (bias != null) {
            weight(op, "bias", bias);
            numel(op, "bias", bias, w.dim(0));
        }
        if (preGelu != null) {
            activation(op, "preGelu", preGelu);
            sameNumel(op, "y", y, "preGelu", preGelu);
        }
        return new Gemm(leadingRows(x), w.dim(0), x.cols());
    }

    /** Rows of the matrix view, also when the last dimension is 0 (a GEMM over k = 0 still scales c by beta). */
    private static long leadingRows(Tensor t) {
        long r = 1;
        for (int i = 0; i < t.rank() - 1; i++) {
            r *= t.dim(i);
        }
        return r;
    }

    private static String shape(Tensor t, boolean transposed) {
        return Arrays.toString(t.shape()) + (transposed ? "ᵀ" : "");
    }

    public void addBias(Tensor y, Tensor bias) {
        f32("addBias", "y", y);
        weight("addBias", "bias", bias);
        numel("addBias", "bias", bias, y.cols());
    }

    public void sumRows(Tensor dy, Tensor db) {
        f32("sumRows", "dy", dy);
        f32("sumRows", "db", db);
        numel("sumRows", "db", db, dy.cols());
    }

    // ---- elementwise and reductions -----------------------------------------------------------------------------------

    public void axpy(Tensor x, Tensor y) {
        same("axpy", "x", x, "y", y);
    }

    public void mul(Tensor a, Tensor b, Tensor out) {
        same("mul", "a", a, "b", b, "out", out);
    }

    public void scale(Tensor x) {
        f32("scale", "x", x);
    }

    public void sum(Tensor x) {
        f32("sum", "x", x);
    }

    public void dot(Tensor a, Tensor b) {
        same("dot", "a", a, "b", b);
    }

    // ---- activations --------------------------------------------------------------------------------------------------

    /** silu, geluTanh and softmax: x and y of one element count. */
    public void unary(String op, Tensor x, Tensor y) {
        same(op, "x", x, "y", y);
    }

    /** siluBackward. */
    public void unaryBackward(String op, Tensor dy, Tensor x, Tensor dx) {
        same(op, "dy", dy, "x", x, "dx", dx);
    }

    /** geluTanhBackward: x, the saved pre-activation, may be BF16 (a BF16 MLP activation). */
    public void geluTanhBackward(Tensor dy, Tensor x, Tensor dx) {
        String op = "geluTanhBackward";
        same(op, "dy", dy, "dx", dx);
        activation(op, "x", x);
        sameNumel(op, "dy", dy, "x", x);
    }

    public void softmaxBackward(Tensor dy, Tensor y, Tensor dx) {
        same("softmaxBackward", "dy", dy, "y", y, "dx", dx);
    }

    // ---- norms --------------------------------------------------------------------------------------------------------

    public void layerNorm(Tensor x, Tensor y, Tensor mean, Tensor rstd) {
        same("layerNorm", "x", x, "y", y);
        perRow("layerNorm", "mean", mean, x.rows());
        perRow("layerNorm", "rstd", rstd, x.rows());
    }

    public void layerNormBackward(Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor dx) {
        String op = "layerNormBackward";
        same(op, "dy", dy, "x", x, "dx", dx);
        f32(op, "mean", mean);
        f32(op, "rstd", rstd);
        perRow(op, "mean", mean, x.rows());
        perRow(op, "rstd", rstd, x.rows());
    }

    public void rmsNorm(Tensor x, Tensor weight, Tensor y, Tensor rrms) {
        same("rmsNorm", "x", x, "y", y);
        weight("rmsNorm", "weight", weight);
        numel("rmsNorm", "weight", weight, x.cols());
        perRow("rmsNorm", "rrms", rrms, x.rows());
    }

    public void rmsNormBackward(Tensor dy, Tensor x, Tensor weight, Tensor rrms, Tensor dx, Tensor dWeight) {
        String op = "rmsNormBackward";
        same(op, "dy", dy, "x", x, "dx", dx);
        weight(op, "weight", weight);
        numel(op, "weight", weight, x.cols());
        f32(op, "rrms", rrms);
        perRow(op, "rrms", rrms, x.rows());
        perRow(op, "dWeight", dWeight, x.cols());
    }

    // ---- adaLN modulation ---------------------------------------------------------------------------------------------

    public Mod modulate(Tensor x, Tensor mod, int shiftChunk, int scaleChunk, Tensor y) {
        same("modulate", "x", x, "y", y);
        f32("modulate", "mod", mod);
        return mod("modulate", x, mod, shiftChunk, scaleChunk);
    }

    public Mod modulateBackward(Tensor dy, Tensor x, Tensor mod, int shiftChunk, int scaleChunk, Tensor dx, Tensor dmod) {
        String op = "modulateBackward";
        same(op, "dy", dy, "x", x);
        f32(op, "mod", mod);
        Mod s = mod(op, x, mod, shiftChunk, scaleChunk);
        optionalLike(op, "dx", dx, x);
        optionalLike(op, "dmod", dmod, mod);
        return s;
    }

    public Mod gateAdd(Tensor x, Tensor f, Tensor mod, int gateChunk) {
        same("gateAdd", "x", x, "f", f);
        f32("gateAdd", "mod", mod);
        return mod("gateAdd", x, mod, gateChunk);
    }

    public Mod gateAddBackward(Tensor dy, Tensor f, Tensor mod, int gateChunk, Tensor df, Tensor dmod) {
        String op = "gateAddBackward";
        same(op, "dy", dy, "f", f);
        f32(op, "mod", mod);
        Mod s = mod(op, f, mod, gateChunk);
        optionalLike(op, "df", df, f);
        optionalLike(op, "dmod", dmod, mod);
        return s;
    }

    private static Mod mod(String op, Tensor x, Tensor mod, int... chunkIndices) {
        long c = x.cols();
        long b = mod.rows();
        require(c > 0 && b > 0 && mod.cols() % c == 0 && x.numel() % (b * c) == 0, op + ": x " + describe(x)
                + " is not [B, T, C] with B = " + b + " rows of mod " + describe(mod) + " and k·C columns");
        long k = mod.cols() / c;
        for (int chunk : chunkIndices) {
            require(chunk >= 0 && chunk < k, op + ": chunk " + chunk + " outside the " + k + " chunks of mod "
                    + describe(mod));
        }
        require(c <= Integer.MAX_VALUE && b <= Integer.MAX_VALUE && k <= Integer.MAX_VALUE,
                op + ": mod " + describe(mod) + " too large");
        return new Mod((int) b, x.numel() / (b * c), (int) c, (int) k);
    }

    // ---- rotary embedding ---------------------------------------------------------------------------------------------

    public Rope rope(Tensor x, Tensor cos, Tensor sin, Tensor y) {
        return rotation("rope", x, cos, sin, y);
    }

    public Rope ropeBackward(Tensor dy, Tensor cos, Tensor sin, Tensor dx) {
        return rotation("ropeBackward", dy, cos, sin, dx);
    }

    private Rope rotation(String op, Tensor x, Tensor cos, Tensor sin, Tensor y) {
        same(op, "x", x, "y", y);
        f32(op, "cos", cos);
        f32(op, "sin", sin);
        long l = cos.rows();
        long half = cos.cols();
        require(sin.rows() == l && sin.cols() == half, op + ": sin " + describe(sin) + " differs from cos "
                + describe(cos));
        require(x.cols() == 2 * half && l > 0 && x.numel() % (l * 2 * half) == 0,
                op + ": x " + describe(x) + " is not [B, H, L, D] for cos [L, D/2] " + describe(cos));
        require(l <= Integer.MAX_VALUE && half < Integer.MAX_VALUE / 2, op + ": cos " + describe(cos) + " too large");
        return new Rope(x.numel() / (l * 2 * half), (int) l, (int) (2 * half));
    }

    // ---- attention ----------------------------------------------------------------------------------------------------

    public Attn attention(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor probs) {
        String op = "attention";
        f32(op, "q", q);
        f32(op, "k", k);
        f32(op, "v", v);
        Attn s = attentionShape(op, q, k, v);
        same(op, "q", q, "out", out);
        perRow(op, "lse", lse, (long) s.heads() * s.lq());
        perRow(op, "probs", probs, (long) s.heads() * s.lq() * s.lk());
        return s;
    }

    public Attn attentionBackward(Tensor dOut, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dq,
                                  Tensor dk, Tensor dv) {
        String op = "attentionBackward";
        f32(op, "k", k);
        f32(op, "v", v);
        same(op, "q", q, "dOut", dOut, "out", out);
        Attn s = attentionShape(op, q, k, v);
        same(op, "q", q, "dq", dq);
        same(op, "k", k, "dk", dk);
        same(op, "v", v, "dv", dv);
        f32(op, "lse", lse);
        perRow(op, "lse", lse, (long) s.heads() * s.lq());
        return s;
    }

    /** The shapes of q, k and v, whose devices and dtypes the caller has checked. */
    public static Attn attentionShape(String op, Tensor q, Tensor k, Tensor v) {
        String qkv = "q " + describe(q) + ", k " + describe(k) + ", v " + describe(v);
        require(q.rank() >= 2 && k.rank() == q.rank() && v.rank() == q.rank(), op + ": " + qkv + " must be [B, H, L, D]");
        long d = q.cols();
        long lq = q.dim(-2);
        long lk = k.dim(-2);
        for (int i = 0; i < q.rank() - 2; i++) {
            require(k.dim(i) == q.dim(i) && v.dim(i) == q.dim(i), op + ": " + qkv + " differ in their leading dimensions");
        }
        require(lk > 0 || lq == 0, op + ": k " + describe(k) + " has no keys for " + lq + " queries");
        require(k.cols() == d && v.cols() == d && v.dim(-2) == lk,
                op + ": k " + describe(k) + " and v " + describe(v) + " must be [B, H, Lk, " + d + "]");
        long bh = lq == 0 || d == 0 ? 0 : q.numel() / (lq * d);
        require(bh <= Integer.MAX_VALUE && lq <= Integer.MAX_VALUE && lk <= Integer.MAX_VALUE && d <= Integer.MAX_VALUE,
                op + ": q " + describe(q) + " too large");
        return new Attn((int) bh, (int) lq, (int) lk, (int) d);
    }

    // ---- convolution and group norm (the VAE) ---------------------------------------------------------------------------

    public Conv conv2d(Tensor x, Tensor w, Tensor bias, Tensor y, ConvGeometry g) {
        String op = "conv2d";
        f32(op, "x", x);
        weight(op, "w", w);
        f32(op, "y", y);
        require(g != null, op + ": geometry is null");
        require(x.rank() == 4, op + ": x must be [B, H, W, Cin], got " + describe(x));
        require(w.rank() == 4 && w.dim(3) == x.dim(3) && w.dim(1) >= 1 && w.dim(2) >= 1, op + ": w " + describe(w)
                + " must be [Cout, kh, kw, " + x.dim(3) + "] with kh, kw ≥ 1 for x " + describe(x));
        long cout = w.dim(0);
        if (bias != null) {
            weight(op, "bias", bias);
            numel(op, "bias", bias, cout);
        }
        int kh = (int) Math.min(w.dim(1), Integer.MAX_VALUE);
        int kw = (int) Math.min(w.dim(2), Integer.MAX_VALUE);
        long oh = g.outSize(x.dim(1), kh);
        long ow = g.outSize(x.dim(2), kw);
        require(oh >= 1 && ow >= 1, op + ": a " + kh + "x" + kw + " kernel does not fit x " + describe(x) + " at " + g);
        long[] expected = {x.dim(0), oh, ow, cout};
        require(Arrays.equals(y.shape(), expected), op + ": y must be " + Arrays.toString(expected) + " for x "
                + describe(x) + ", w " + describe(w) + " at " + g + ", got " + describe(y));
        for (long d : new long[]{x.dim(0), x.dim(1), x.dim(2), x.dim(3), cout, kh, kw, oh, ow}) {
            require(2L * d <= Integer.MAX_VALUE, op + ": x " + describe(x) + " or w " + describe(w) + " too large");
        }
        return new Conv((int) x.dim(0), (int) x.dim(1), (int) x.dim(2), (int) x.dim(3), (int) cout, kh, kw, (int) oh,
                (int) ow);
    }

    public Groups groupNorm(Tensor x, Tensor gamma, Tensor beta, Tensor y, int groups) {
        String op = "groupNorm";
        same(op, "x", x, "y", y);
        require(x.rank() == 3, op + ": x must be [B, P, C], got " + describe(x));
        long c = x.cols();
        weight(op, "gamma", gamma);
        numel(op, "gamma", gamma, c);
        weight(op, "beta", beta);
        numel(op, "beta", beta, c);
        require(groups >= 1 && c % groups == 0, op + ": " + groups + " groups do not divide the " + c
                + " channels of x " + describe(x));
        require(x.dim(0) <= Integer.MAX_VALUE && c <= Integer.MAX_VALUE, op + ": x " + describe(x) + " too large");
        return new Groups((int) x.dim(0), x.dim(1), (int) c, groups);
    }

    // ---- optimizer ----------------------------------------------------------------------------------------------------

    public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, long step) {
        adamOperands("adamw", "param", param, "grad", grad, "m", m, "v", v);
        step("adamw", step);
    }

    public void adamwBf16(Tensor param, Tensor grad, Tensor m, Tensor v) {
        adamOperands("adamwBf16", "param", param, "grad", grad, "m", m, "v", v);
    }

    /** Four lists in one order, each entry as {@link #adamw} takes it. */
    public void adamwAll(List<Tensor> params, List<Tensor> grads, List<Tensor> ms, List<Tensor> vs, long step) {
        int n = params.size();
        require(grads.size() == n && ms.size() == n && vs.size() == n, "adamwAll: " + n + " params but " + grads.size()
                + " grads, " + ms.size() + " m and " + vs.size() + " v");
        step("adamwAll", step);
        for (int i = 0; i < n; i++) {
            adamOperands("adamwAll", "params[" + i + "]", params.get(i), "grads[" + i + "]", grads.get(i),
                    "ms[" + i + "]", ms.get(i), "vs[" + i + "]", vs.get(i));
        }
    }

    private static void step(String op, long step) {
        require(step >= 1, op + ": step counts from 1, got " + step);
    }

    private void adamOperands(String op, String np, Tensor param, String ng, Tensor grad, String nm, Tensor m, String nv,
                              Tensor v) {
        same(op, np, param, ng, grad, nm, m);
        same(op, np, param, nv, v);
    }

    // ---- the checks every op is made of -------------------------------------------------------------------------------

    /** "[2, 8] F32": a tensor in a message, without its device, which only a device mismatch names. */
    public static String describe(Tensor t) {
        return Arrays.toString(t.shape()) + " " + t.dtype();
    }

    public static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    private static void present(String op, String what, Tensor t) {
        require(t != null, op + ": " + what + " is null");
    }

    /** Not null and on this contract's device. */
    public void resident(String op, String what, Tensor t) {
        present(op, what, t);
        require(t.device() == device, op + ": " + what + " must be on " + device + ", got " + describe(t) + " on "
                + t.device());
    }

    /** An F32 tensor of this device (activations, gradients, optimizer state). */
    public void f32(String op, String what, Tensor t) {
        resident(op, what, t);
        require(t.dtype() == DType.F32, op + ": " + what + " must be F32, got " + describe(t));
    }

    /** An F32 or BF16 tensor of this device: an activation, which a model may keep in BF16 to halve its memory. */
    public void activation(String op, String what, Tensor t) {
        resident(op, what, t);
        require(t.dtype() == DType.F32 || t.dtype() == DType.BF16,
                op + ": " + what + " must be F32 or BF16, got " + describe(t));
    }

    /** An F32, BF16 or F16 tensor of this device (weights, read in their own dtype). */
    public void weight(String op, String what, Tensor t) {
        resident(op, what, t);
        DType d = t.dtype();
        require(d == DType.F32 || d == DType.BF16 || d == DType.F16,
                op + ": " + what + " must be F32, BF16 or F16, got " + describe(t));
    }

    /** A tensor of this device in any float dtype (what the memory ops convert between). */
    private void floating(String op, String what, Tensor t) {
        resident(op, what, t);
        require(t.dtype().isFloat(), op + ": " + what + " must be a float tensor, got " + describe(t));
    }

    public static void numel(String op, String what, Tensor t, long expected) {
        require(t.numel() == expected, op + ": " + what + " must have " + expected + " elements, got " + describe(t));
    }

    private static void sameNumel(String op, String whatA, Tensor a, String whatB, Tensor b) {
        require(a.numel() == b.numel(), op + ": " + whatA + " " + describe(a) + " and " + whatB + " " + describe(b)
                + " differ in element count");
    }

    /** F32 tensors of one element count. */
    private void same(String op, String n1, Tensor t1, String n2, Tensor t2) {
        f32(op, n1, t1);
        f32(op, n2, t2);
        sameNumel(op, n1, t1, n2, t2);
    }

    private void same(String op, String n1, Tensor t1, String n2, Tensor t2, String n3, Tensor t3) {
        same(op, n1, t1, n2, t2);
        f32(op, n3, t3);
        sameNumel(op, n1, t1, n3, t3);
    }

    /** An optional F32 per-row output or input (saved statistics); null passes. */
    private void perRow(String op, String what, Tensor t, long rows) {
        if (t != null) {
            f32(op, what, t);
            numel(op, what, t, rows);
        }
    }

    /** An optional gradient of a forward operand; null passes. */
    private void optionalLike(String op, String what, Tensor t, Tensor like) {
        if (t != null) {
            f32(op, what, t);
            sameNumel(op, what, t, "its forward operand", like);
        }
    }
}
