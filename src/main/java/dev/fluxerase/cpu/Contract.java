package dev.fluxerase.cpu;

import dev.fluxerase.tensor.Tensor;

/** Argument validation of each Backend op, shared by both CPU backends so that they accept and reject the same calls. */
final class Contract {
    private Contract() {
    }

    /** gemm: returns {m, n, k}. */
    static long[] gemm(boolean transA, boolean transB, Tensor a, Tensor b, Tensor c) {
        Checks.f32("gemm", "a", a);
        Checks.weight("gemm", "b", b);
        Checks.f32("gemm", "c", c);
        long m = transA ? a.cols() : a.rows();
        long k = transA ? a.rows() : a.cols();
        long kb = transB ? b.cols() : b.rows();
        long n = transB ? b.rows() : b.cols();
        Checks.require(k == kb && c.rows() == m && c.cols() == n, "gemm: op(a) " + m + "x" + k + ", op(b) " + kb + "x" + n
                + " and c " + c.rows() + "x" + c.cols() + " do not fit");
        return new long[]{m, n, k};
    }

    static void addBias(Tensor y, Tensor bias) {
        Checks.f32("addBias", "y", y);
        Checks.weight("addBias", "bias", bias);
        Checks.numel("addBias", "bias", bias, y.cols());
    }

    static void sumRows(Tensor dy, Tensor db) {
        Checks.f32("sumRows", "dy", dy);
        Checks.f32("sumRows", "db", db);
        Checks.numel("sumRows", "db", db, dy.cols());
    }

    /** Two or three F32 tensors of one element count (elementwise ops and their backwards). */
    static void same(String op, String n1, Tensor t1, String n2, Tensor t2) {
        Checks.f32(op, n1, t1);
        Checks.f32(op, n2, t2);
        Checks.sameNumel(op, n1, t1, n2, t2);
    }

    static void same(String op, String n1, Tensor t1, String n2, Tensor t2, String n3, Tensor t3) {
        same(op, n1, t1, n2, t2);
        Checks.f32(op, n3, t3);
        Checks.sameNumel(op, n1, t1, n3, t3);
    }

    /** An optional F32 per-row output or input (saved statistics). */
    static void perRow(String op, String what, Tensor t, long rows) {
        if (t != null) {
            Checks.f32(op, what, t);
            Checks.numel(op, what, t, rows);
        }
    }

    static void layerNormBackward(Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor dx) {
        same("layerNormBackward", "dy", dy, "x", x, "dx", dx);
        Checks.f32("layerNormBackward", "mean", mean);
        Checks.f32("layerNormBackward", "rstd", rstd);
        perRow("layerNormBackward", "mean", mean, x.rows());
        perRow("layerNormBackward", "rstd", rstd, x.rows());
    }

    static void rmsNorm(Tensor x, Tensor weight, Tensor y, Tensor rrms) {
        same("rmsNorm", "x", x, "y", y);
        Checks.weight("rmsNorm", "weight", weight);
        Checks.numel("rmsNorm", "weight", weight, x.cols());
        perRow("rmsNorm", "rrms", rrms, x.rows());
    }

    static void rmsNormBackward(Tensor dy, Tensor x, Tensor weight, Tensor rrms, Tensor dx, Tensor dWeight) {
        String op = "rmsNormBackward";
        same(op, "dy", dy, "x", x, "dx", dx);
        Checks.weight(op, "weight", weight);
        Checks.numel(op, "weight", weight, x.cols());
        Checks.f32(op, "rrms", rrms);
        perRow(op, "rrms", rrms, x.rows());
        perRow(op, "dWeight", dWeight, x.cols());
    }

    static Shapes.Mod modulate(Tensor x, Tensor mod, int shiftChunk, int scaleChunk, Tensor y) {
        same("modulate", "x", x, "y", y);
        Checks.f32("modulate", "mod", mod);
        return Shapes.mod("modulate", x, mod, shiftChunk, scaleChunk);
    }

    static Shapes.Mod modulateBackward(Tensor dy, Tensor x, Tensor mod, int shiftChunk, int scaleChunk, Tensor dx,
                                      Tensor dmod) {
        String op = "modulateBackward";
        same(op, "dy", dy, "x", x);
        Checks.f32(op, "mod", mod);
        Shapes.Mod s = Shapes.mod(op, x, mod, shiftChunk, scaleChunk);
        optionalLike(op, "dx", dx, x);
        optionalLike(op, "dmod", dmod, mod);
        return s;
    }

    static Shapes.Mod gateAdd(Tensor x, Tensor f, Tensor mod, int gateChunk) {
        same("gateAdd", "x", x, "f", f);
        Checks.f32("gateAdd", "mod", mod);
        return Shapes.mod("gateAdd", x, mod, gateChunk);
    }

    static Shapes.Mod gateAddBackward(Tensor dy, Tensor f, Tensor mod, int gateChunk, Tensor df, Tensor dmod) {
        String op = "gateAddBackward";
        same(op, "dy", dy, "f", f);
        Checks.f32(op, "mod", mod);
        Shapes.Mod s = Shapes.mod(op, f, mod, gateChunk);
        optionalLike(op, "df", df, f);
        optionalLike(op, "dmod", dmod, mod);
        return s;
    }

    private static void optionalLike(String op, String what, Tensor t, Tensor like) {
        if (t != null) {
            Checks.f32(op, what, t);
            Checks.sameNumel(op, what, t, "its forward operand", like);
        }
    }

    static Shapes.Rope rope(String op, Tensor x, Tensor cos, Tensor sin, Tensor y) {
        same(op, "x", x, "y", y);
        Checks.f32(op, "cos", cos);
        Checks.f32(op, "sin", sin);
        return Shapes.rope(op, x, cos, sin);
    }

    static Shapes.Attn attention(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor probs) {
        String op = "attention";
        Checks.f32(op, "q", q);
        Checks.f32(op, "k", k);
        Checks.f32(op, "v", v);
        Shapes.Attn s = Shapes.attention(op, q, k, v);
        same(op, "q", q, "out", out);
        perRow(op, "lse", lse, (long) s.heads() * s.lq());
        perRow(op, "probs", probs, (long) s.heads() * s.lq() * s.lk());
        return s;
    }

    static Shapes.Attn attentionBackward(Tensor dOut, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dq,
                                         Tensor dk, Tensor dv) {
        String op = "attentionBackward";
        Checks.f32(op, "k", k);
        Checks.f32(op, "v", v);
        same(op, "q", q, "dOut", dOut, "out", out);
        Shapes.Attn s = Shapes.attention(op, q, k, v);
        same(op, "q", q, "dq", dq);
        same(op, "k", k, "dk", dk);
        same(op, "v", v, "dv", dv);
        Checks.f32(op, "lse", lse);
        perRow(op, "lse", lse, (long) s.heads() * s.lq());
        return s;
    }

    static void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, long step) {
        operands("adamw", param, grad, m, v);
        Checks.require(step >= 1, "adamw: step counts from 1, got " + step);
    }

    static void adamwBf16(Tensor param, Tensor grad, Tensor m, Tensor v) {
        operands("adamwBf16", param, grad, m, v);
    }

    private static void operands(String op, Tensor param, Tensor grad, Tensor m, Tensor v) {
        same(op, "param", param, "grad", grad, "m", m);
        same(op, "param", param, "v", v);
    }
}
