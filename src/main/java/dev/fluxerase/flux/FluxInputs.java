package dev.fluxerase.flux;

import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * One forward's inputs (FLUX.md §2.3), as BFL's {@code Flux.forward} takes them: img [B, L_img, in_channels],
 * txt [B, L_txt, context_in_dim] and y [B, vec_in_dim] as F32 tensors on the model's backend; position ids
 * (per batch element, or one entry shared by all, each [L·axes] row-major), timesteps σ [B] and guidance [B] (null
 * without a guidance embedder) on the host.
 */
public record FluxInputs(Tensor img, Tensor txt, Tensor y, double[][] imgIds, double[][] txtIds, double[] timesteps,
                         double[] guidance) {

    public long batch() {
        return img.dim(0);
    }

    public long imgTokens() {
        return img.dim(1);
    }

    public long txtTokens() {
        return txt.dim(1);
    }

    /** Throws IllegalArgumentException naming the first input whose shape does not fit the config. */
    void check(FluxConfig c) {
        long b = batch();
        expect("img", img, b, imgTokens(), c.inChannels());
        expect("txt", txt, b, txtTokens(), c.contextInDim());
        expect("y", y, b, c.vecInDim());
        int axes = c.axesDim().length;
        checkIds("img_ids", imgIds, b, imgTokens() * axes);
        checkIds("txt_ids", txtIds, b, txtTokens() * axes);
        if (timesteps.length != b) {
            throw new IllegalArgumentException("tensor timesteps: expected [" + b + "], got [" + timesteps.length + "]");
        }
        if (c.guidanceEmbed() && (guidance == null || guidance.length != b)) {
            throw new IllegalArgumentException("tensor guidance: expected [" + b + "] (the model has a guidance"
                    + " embedding), got " + (guidance == null ? "none" : "[" + guidance.length + "]"));
        }
    }

    private static void expect(String name, Tensor t, long... shape) {
        if (!Arrays.equals(t.shape(), shape) || t.dtype() != DType.F32) {
            throw new IllegalArgumentException("tensor " + name + ": expected " + Arrays.toString(shape) + " F32, got "
                    + Arrays.toString(t.shape()) + " " + t.dtype());
        }
    }

    private static void checkIds(String name, double[][] ids, long b, long len) {
        if ((ids.length != 1 && ids.length != b) || Arrays.stream(ids).anyMatch(r -> r.length != len)) {
            throw new IllegalArgumentException("tensor " + name + ": expected " + len + " values per batch element for "
                    + (ids.length == 1 ? 1 : b) + " element(s), got " + ids.length + " rows of "
                    + (ids.length == 0 ? 0 : ids[0].length));
        }
    }

    /** The joint sequence's ids, text first, per batch element (one shared entry when both are shared). */
    double[][] jointIds() {
        int n = Math.max(imgIds.length, txtIds.length);
        double[][] out = new double[n][];
        for (int b = 0; b < n; b++) {
            double[] t = txtIds[Math.min(b, txtIds.length - 1)];
            double[] i = imgIds[Math.min(b, imgIds.length - 1)];
            out[b] = new double[t.length + i.length];
            System.arraycopy(t, 0, out[b], 0, t.length);
            System.arraycopy(i, 0, out[b], t.length, i.length);
        }
        return out;
    }

    /**
     * From host tensors of any float dtype (as read from a safetensors file), checked against the config: img, txt, y
     * are uploaded as F32; ids may be [L, axes] or [B, L, axes] ([1, L, axes] is shared); guidance is ignored when the
     * config has no guidance embedding. Messages name the tensor and the expected and actual shapes.
     */
    public static FluxInputs fromHost(Backend be, FluxConfig c, Tensor img, Tensor imgIds, Tensor txt, Tensor txtIds,
                                      Tensor timesteps, Tensor y, Tensor guidance) {
        requireRank("img", img, 3, "[B, L_img, " + c.inChannels() + "]");
        long b = img.dim(0);
        requireShape("img", img, b, img.dim(1), c.inChannels());
        requireRank("txt", txt, 3, "[" + b + ", L_txt, " + c.contextInDim() + "]");
        requireShape("txt", txt, b, txt.dim(1), c.contextInDim());
        requireShape("y", y, b, c.vecInDim());
        requireShape("timesteps", timesteps, b);
        double[] g = null;
        if (c.guidanceEmbed()) {
            if (guidance == null) {
                throw new IllegalArgumentException("tensor guidance: missing (the model has a guidance embedding;"
                        + " expected [" + b + "])");
            }
            requireShape("guidance", guidance, b);
            g = doubles(guidance);
        }
        int axes = c.axesDim().length;
        return new FluxInputs(upload(be, img), upload(be, txt), upload(be, y),
                ids("img_ids", imgIds, b, img.dim(1), axes), ids("txt_ids", txtIds, b, txt.dim(1), axes),
                doubles(timesteps), g);
    }

    private static Tensor upload(Backend be, Tensor host) {
        return be.upload(Floats.toF32(host), host.shape());
    }

    private static double[][] ids(String name, Tensor t, long b, long tokens, int axes) {
        boolean flat = t.rank() == 2 && t.dim(0) == tokens && t.dim(1) == axes;
        boolean batched = t.rank() == 3 && (t.dim(0) == b || t.dim(0) == 1) && t.dim(1) == tokens && t.dim(2) == axes;
        if (!flat && !batched) {
            throw new IllegalArgumentException("tensor " + name + ": expected [" + tokens + ", " + axes + "] or [" + b
                    + ", " + tokens + ", " + axes + "], got " + Arrays.toString(t.shape()) + " " + t.dtype());
        }
        requireFloat(name, t);
        double[] all = doubles(t);
        int n = flat ? 1 : (int) t.dim(0);
        int len = (int) (tokens * axes);
        double[][] out = new double[n][];
        for (int i = 0; i < n; i++) {
            out[i] = Arrays.copyOfRange(all, i * len, (i + 1) * len);
        }
        return out;
    }

    private static void requireRank(String name, Tensor t, int rank, String expected) {
        if (t.rank() != rank) {
            throw new IllegalArgumentException("tensor " + name + ": expected " + expected + ", got "
                    + Arrays.toString(t.shape()) + " " + t.dtype());
        }
    }

    private static void requireShape(String name, Tensor t, long... shape) {
        if (!Arrays.equals(t.shape(), shape)) {
            throw new IllegalArgumentException("tensor " + name + ": expected " + Arrays.toString(shape) + ", got "
                    + Arrays.toString(t.shape()) + " " + t.dtype());
        }
        requireFloat(name, t);
    }

    private static void requireFloat(String name, Tensor t) {
        if (t.dtype() != DType.F32 && t.dtype() != DType.F64 && t.dtype() != DType.BF16 && t.dtype() != DType.F16) {
            throw new IllegalArgumentException("tensor " + name + ": expected a float dtype (F32, F64, BF16, F16), got "
                    + t.dtype());
        }
    }

    /** A host float tensor's values in double; F64 keeps its full precision. */
    static double[] doubles(Tensor t) {
        double[] out = new double[Math.toIntExact(t.numel())];
        for (int i = 0; i < out.length; i++) {
            out[i] = t.dtype() == DType.F64 ? t.data().getAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i)
                    : Floats.read(t.data(), t.dtype(), i);
        }
        return out;
    }
}
