package dev.fluxerase.flux;

import dev.fluxerase.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The model's internal parameter layout and where each internal parameter lives in a BFL or a diffusers file
 * (FLUX.md §3).
 *
 * <p>The internal layout is the split one: every Linear has its own [out, in] weight and [out] bias, named by its
 * diffusers module path. Fused BFL tensors (double-block qkv, single-block linear1) and the final adaLN (whose two
 * halves the two namings store in opposite order) are therefore row ranges of one file tensor. Rows of a row-major
 * tensor are contiguous, so every internal parameter is a contiguous slice of one file tensor in either naming and the
 * weights are used in place. The only internal names that are not diffusers names are the final adaLN halves,
 * {@code norm_out.linear.shift.*} and {@code norm_out.linear.scale.*}: together they are diffusers' {@code norm_out.linear}.
 */
public final class FluxLayout {

    /** The two file namings. */
    public enum Naming {
        BFL("img_in.weight"), DIFFUSERS("x_embedder.weight");

        private final String marker;

        Naming(String marker) {
            this.marker = marker;
        }

        /** A tensor that every file of this naming has; what detection looks for. */
        public String marker() {
            return marker;
        }
    }

    /** Rows [row, row + rows) along dimension 0 of the file tensor {@code tensor}. */
    public record Slot(String tensor, long row, long rows) {
    }

    /** One internal parameter: its name, shape, and where it lives in each naming. */
    public record Param(String name, long[] shape, Slot bfl, Slot diffusers) {
        public Param {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        public Slot slot(Naming naming) {
            return naming == Naming.BFL ? bfl : diffusers;
        }
    }

    private final List<Param> params;
    private final Map<String, Param> byName;
    private final Map<Naming, Map<String, long[]>> fileShapes;

    private FluxLayout(List<Param> params, Map<Naming, Map<String, long[]>> fileShapes) {
        this.params = List.copyOf(params);
        Map<String, Param> m = new LinkedHashMap<>();
        for (Param p : params) {
            m.put(p.name(), p);
        }
        this.byName = Collections.unmodifiableMap(m);
        this.fileShapes = fileShapes;
    }

    /** Internal parameters in model order. */
    public List<Param> params() {
        return params;
    }

    public Param param(String name) {
        return byName.get(name);
    }

    /** Every tensor a file of this naming holds (names without any prefix), in model order, with its full shape. */
    public Map<String, long[]> fileTensors(Naming naming) {
        return fileShapes.get(naming);
    }

    /**
     * Values given per internal parameter, laid out as the tensors of a file of {@code naming}: names with
     * {@code prefix}, F32 host tensors in file order. Fused BFL tensors get the concatenation of their parts and diffusers
     * norm_out.linear the half-swapped final adaLN, exactly as such a file is read.
     */
    public Map<String, Tensor> toFile(Naming naming, String prefix, Function<String, float[]> internalValues) {
        Map<String, float[]> buffers = new LinkedHashMap<>();
        Map<String, long[]> shapes = fileTensors(naming);
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            buffers.put(e.getKey(), new float[Math.toIntExact(Tensor.numel(e.getValue()))]);
        }
        for (Param p : params) {
            Slot slot = p.slot(naming);
            long[] shape = shapes.get(slot.tensor());
            long rowSize = Tensor.numel(shape) / shape[0];
            float[] v = internalValues.apply(p.name());
            System.arraycopy(v, 0, buffers.get(slot.tensor()), Math.toIntExact(slot.row() * rowSize), v.length);
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, float[]> e : buffers.entrySet()) {
            out.put(prefix + e.getKey(), Tensor.of(e.getValue(), shapes.get(e.getKey())));
        }
        return out;
    }

    /** The layout for a config. */
    public static FluxLayout of(FluxConfig c) {
        return new Builder(c).build();
    }

    private static final class Builder {
        private final FluxConfig c;
        private final long h;
        private final List<Param> params = new ArrayList<>();
        private final Map<String, long[]> bflShapes = new LinkedHashMap<>();
        private final Map<String, long[]> diffShapes = new LinkedHashMap<>();

        Builder(FluxConfig c) {
            this.c = c;
            this.h = c.hiddenSize();
        }

        FluxLayout build() {
            long m = c.mlpHidden();
            linear("x_embedder", "img_in", h, c.inChannels(), true);
            linear("context_embedder", "txt_in", h, c.contextInDim(), true);
            mlpEmbedder("time_text_embed.timestep_embedder", "time_in", FluxModel.TIMESTEP_DIM);
            if (c.guidanceEmbed()) {
                mlpEmbedder("time_text_embed.guidance_embedder", "guidance_in", FluxModel.TIMESTEP_DIM);
            }
            mlpEmbedder("time_text_embed.text_embedder", "vector_in", c.vecInDim());
            for (int i = 0; i < c.depth(); i++) {
                String d = "transformer_blocks." + i + ".";
                String b = "double_blocks." + i + ".";
                linear(d + "norm1.linear", b + "img_mod.lin", 6 * h, h, true);
                linear(d + "norm1_context.linear", b + "txt_mod.lin", 6 * h, h, true);
                stream(d, b + "img_", "attn.to_q", "attn.to_k", "attn.to_v", "attn.norm_q", "attn.norm_k",
                        "attn.to_out.0", "ff", m);
                stream(d, b + "txt_", "attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj", "attn.norm_added_q",
                        "attn.norm_added_k", "attn.to_add_out", "ff_context", m);
            }
            for (int i = 0; i < c.depthSingleBlocks(); i++) {
                String d = "single_transformer_blocks." + i + ".";
                String b = "single_blocks." + i + ".";
                linear(d + "norm.linear", b + "modulation.lin", 3 * h, h, true);
                String[] parts = {"attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"};
                long[] rows = {h, h, h, m};
                fused(d, parts, rows, b + "linear1", h, true);
                scale(d + "attn.norm_q.weight", b + "norm.query_norm.scale");
                scale(d + "attn.norm_k.weight", b + "norm.key_norm.scale");
                linear(d + "proj_out", b + "linear2", h, h + m, true);
            }
            // BFL final adaLN rows are (shift, scale); diffusers norm_out.linear rows are (scale, shift).
            for (String suffix : new String[]{"weight", "bias"}) {
                String bfl = "final_layer.adaLN_modulation.1." + suffix;
                String diff = "norm_out.linear." + suffix;
                long[] half = suffix.equals("weight") ? new long[]{h, h} : new long[]{h};
                long[] full = suffix.equals("weight") ? new long[]{2 * h, h} : new long[]{2 * h};
                add(new Param("norm_out.linear.shift." + suffix, half, new Slot(bfl, 0, h), new Slot(diff, h, h)));
                add(new Param("norm_out.linear.scale." + suffix, half, new Slot(bfl, h, h), new Slot(diff, 0, h)));
                bflShapes.put(bfl, full);
                diffShapes.put(diff, full);
            }
            linear("proj_out", "final_layer.linear", c.outChannels(), h, true);
            return new FluxLayout(params, Map.of(Naming.BFL, Collections.unmodifiableMap(bflShapes),
                    Naming.DIFFUSERS, Collections.unmodifiableMap(diffShapes)));
        }

        /** One stream of a double block: fused qkv, QK-norm scales, output projection, MLP. */
        private void stream(String d, String b, String q, String k, String v, String normQ, String normK, String proj,
                            String ff, long m) {
            fused(d, new String[]{q, k, v}, new long[]{h, h, h}, b + "attn.qkv", h, c.qkvBias());
            scale(d + normQ + ".weight", b + "attn.norm.query_norm.scale");
            scale(d + normK + ".weight", b + "attn.norm.key_norm.scale");
            linear(d + proj, b + "attn.proj", h, h, true);
            linear(d + ff + ".net.0.proj", b + "mlp.0", m, h, true);
            linear(d + ff + ".net.2", b + "mlp.2", h, m, true);
        }

        private void mlpEmbedder(String diff, String bfl, long in) {
            linear(diff + ".linear_1", bfl + ".in_layer", h, in, true);
            linear(diff + ".linear_2", bfl + ".out_layer", h, h, true);
        }

        private void linear(String diff, String bfl, long out, long in, boolean bias) {
            one(diff + ".weight", bfl + ".weight", new long[]{out, in});
            if (bias) {
                one(diff + ".bias", bfl + ".bias", new long[]{out});
            }
        }

        /** Diffusers Linears {@code parts} stacked row-wise, in order, in the one BFL Linear {@code bfl}. */
        private void fused(String d, String[] parts, long[] rows, String bfl, long in, boolean bias) {
            long total = 0;
            for (long r : rows) {
                total += r;
            }
            long at = 0;
            for (int p = 0; p < parts.length; p++) {
                String w = d + parts[p] + ".weight";
                add(new Param(w, new long[]{rows[p], in}, new Slot(bfl + ".weight", at, rows[p]), new Slot(w, 0, rows[p])));
                diffShapes.put(w, new long[]{rows[p], in});
                if (bias) {
                    String bb = d + parts[p] + ".bias";
                    add(new Param(bb, new long[]{rows[p]}, new Slot(bfl + ".bias", at, rows[p]), new Slot(bb, 0, rows[p])));
                    diffShapes.put(bb, new long[]{rows[p]});
                }
                at += rows[p];
            }
            bflShapes.put(bfl + ".weight", new long[]{total, in});
            if (bias) {
                bflShapes.put(bfl + ".bias", new long[]{total});
            }
        }

        private void scale(String diff, String bfl) {
            one(diff, bfl, new long[]{c.headDim()});
        }

        private void one(String diff, String bfl, long[] shape) {
            add(new Param(diff, shape, new Slot(bfl, 0, shape[0]), new Slot(diff, 0, shape[0])));
            bflShapes.put(bfl, shape);
            diffShapes.put(diff, shape);
        }

        private void add(Param p) {
            params.add(p);
        }
    }
}
