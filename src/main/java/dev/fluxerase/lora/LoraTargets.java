package dev.fluxerase.lora;

import dev.fluxerase.flux.FluxConfig;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every Linear of the diffusers FLUX transformer with its shape and BFL location (FLUX.md §3), and the name rules that
 * map BFL and kohya LoRA names onto those modules. The BFL → diffusers split is written once, in {@link #splitBfl}, from
 * the fused weight's shape alone, so that kohya files can be split without a config and {@link #of} agrees with it.
 */
public final class LoraTargets {
    /** Width of the sinusoidal timestep/guidance embedding, the input of their MLPs (FLUX.md §2.4). */
    public static final int TIME_EMBED_DIM = 256;

    private static final String DOUBLE = "double_blocks.";
    private static final String SINGLE = "single_blocks.";
    private static final String FINAL_MOD = "final_layer.adaLN_modulation.1";
    // A block index without leading zeros, so that "01" cannot alias block 1.
    private static final Pattern BLOCK = Pattern.compile("(double_blocks|single_blocks)\\.(0|[1-9][0-9]*)\\.(.+)");
    private static final Pattern DIFFUSERS_BLOCK =
            Pattern.compile("(transformer_blocks|single_transformer_blocks)\\.(0|[1-9][0-9]*)\\.(.+)");
    private static final Pattern KOHYA_BLOCK = Pattern.compile("(double_blocks|single_blocks)_(0|[1-9][0-9]*)_(.+)");

    /** BFL top-level Linear → diffusers module, in the order {@link #of} lists them (FLUX.md §3.1). */
    private static final Map<String, String> TOP = ordered(
            Map.entry("img_in", "x_embedder"),
            Map.entry("txt_in", "context_embedder"),
            Map.entry("time_in.in_layer", "time_text_embed.timestep_embedder.linear_1"),
            Map.entry("time_in.out_layer", "time_text_embed.timestep_embedder.linear_2"),
            Map.entry("guidance_in.in_layer", "time_text_embed.guidance_embedder.linear_1"),
            Map.entry("guidance_in.out_layer", "time_text_embed.guidance_embedder.linear_2"),
            Map.entry("vector_in.in_layer", "time_text_embed.text_embedder.linear_1"),
            Map.entry("vector_in.out_layer", "time_text_embed.text_embedder.linear_2"),
            Map.entry(FINAL_MOD, "norm_out.linear"),
            Map.entry("final_layer.linear", "proj_out"));

    /** Double block Linear (after {@code double_blocks.N.}) → diffusers modules in row order (FLUX.md §3.2). */
    private static final Map<String, List<String>> DOUBLE_PARTS = ordered(
            Map.entry("img_mod.lin", List.of("norm1.linear")),
            Map.entry("img_attn.qkv", List.of("attn.to_q", "attn.to_k", "attn.to_v")),
            Map.entry("img_attn.proj", List.of("attn.to_out.0")),
            Map.entry("img_mlp.0", List.of("ff.net.0.proj")),
            Map.entry("img_mlp.2", List.of("ff.net.2")),
            Map.entry("txt_mod.lin", List.of("norm1_context.linear")),
            Map.entry("txt_attn.qkv", List.of("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj")),
            Map.entry("txt_attn.proj", List.of("attn.to_add_out")),
            Map.entry("txt_mlp.0", List.of("ff_context.net.0.proj")),
            Map.entry("txt_mlp.2", List.of("ff_context.net.2")));

    /** Single block Linear (after {@code single_blocks.N.}) → diffusers modules in row order (FLUX.md §3.3). */
    private static final Map<String, List<String>> SINGLE_PARTS = ordered(
            Map.entry("modulation.lin", List.of("norm.linear")),
            Map.entry("linear1", List.of("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp")),
            Map.entry("linear2", List.of("proj_out")));

    private LoraTargets() {
    }

    /**
     * Every Linear of the transformer for this config, in a fixed order: input embedders, double blocks, single blocks,
     * final layer (modules of one fused BFL weight are adjacent, in row order).
     */
    public static List<LoraTarget> of(FluxConfig cfg) {
        long h = cfg.hiddenSize();
        long mlp = cfg.mlpHidden();
        List<LoraTarget> out = new ArrayList<>();
        out.addAll(splitBfl("img_in", h, cfg.inChannels()));
        out.addAll(splitBfl("txt_in", h, cfg.contextInDim()));
        out.addAll(splitBfl("time_in.in_layer", h, TIME_EMBED_DIM));
        out.addAll(splitBfl("time_in.out_layer", h, h));
        if (cfg.guidanceEmbed()) {
            out.addAll(splitBfl("guidance_in.in_layer", h, TIME_EMBED_DIM));
            out.addAll(splitBfl("guidance_in.out_layer", h, h));
        }
        out.addAll(splitBfl("vector_in.in_layer", h, cfg.vecInDim()));
        out.addAll(splitBfl("vector_in.out_layer", h, h));
        for (int i = 0; i < cfg.depth(); i++) {
            String p = DOUBLE + i + ".";
            for (String stream : List.of("img", "txt")) {
                out.addAll(splitBfl(p + stream + "_mod.lin", 6 * h, h));
                out.addAll(splitBfl(p + stream + "_attn.qkv", 3 * h, h));
                out.addAll(splitBfl(p + stream + "_attn.proj", h, h));
                out.addAll(splitBfl(p + stream + "_mlp.0", mlp, h));
                out.addAll(splitBfl(p + stream + "_mlp.2", h, mlp));
            }
        }
        for (int i = 0; i < cfg.depthSingleBlocks(); i++) {
            String p = SINGLE + i + ".";
            out.addAll(splitBfl(p + "modulation.lin", 3 * h, h));
            out.addAll(splitBfl(p + "linear1", 3 * h + mlp, h));
            out.addAll(splitBfl(p + "linear2", h, h + mlp));
        }
        out.addAll(splitBfl(FINAL_MOD, 2 * h, h));
        out.addAll(splitBfl("final_layer.linear", cfg.outChannels(), h));
        return Collections.unmodifiableList(out);
    }

    /** {@link #of} keyed by diffusers module path. */
    public static Map<String, LoraTarget> byModule(FluxConfig cfg) {
        Map<String, LoraTarget> m = new LinkedHashMap<>();
        for (LoraTarget t : of(cfg)) {
            m.put(t.module(), t);
        }
        return Collections.unmodifiableMap(m);
    }

    /**
     * peft's {@code target_modules} rule: a module is targeted when its path equals a pattern or ends with "." + pattern.
     * So {@code attn.to_q} hits double and single blocks alike, {@code attn.add_q_proj} only exists in double blocks.
     */
    public static boolean matches(String module, String pattern) {
        return module.equals(pattern) || module.endsWith("." + pattern);
    }

    /** The targets that match any of the patterns ({@link #matches}); every pattern must match at least one module. */
    public static List<LoraTarget> matching(FluxConfig cfg, List<String> patterns) {
        if (patterns.isEmpty()) {
            throw new IllegalArgumentException("no LoRA target modules given");
        }
        List<LoraTarget> all = of(cfg);
        for (String p : patterns) {
            if (all.stream().noneMatch(t -> matches(t.module(), p))) {
                throw new IllegalArgumentException("LoRA target '" + p + "' matches no Linear of the FLUX transformer "
                        + "(examples: attn.add_q_proj, attn.to_q, ff.net.0.proj, transformer_blocks.0.attn.to_k)");
            }
        }
        return all.stream().filter(t -> patterns.stream().anyMatch(p -> matches(t.module(), p))).toList();
    }

    /**
     * The diffusers modules that a BFL Linear of shape [out, in] is made of, in row order. qkv is split in thirds (and
     * must be [3·in, in]); {@code linear1} is split [in, in, in, out − 3·in] since its input width is the hidden size;
     * {@code final_layer.adaLN_modulation.1} maps whole to {@code norm_out.linear} with the halves swapped.
     *
     * @throws IllegalArgumentException when the name is not a FLUX Linear or the shape cannot be split
     */
    public static List<LoraTarget> splitBfl(String bflModule, long out, long in) {
        String weight = bflModule + ".weight";
        Matcher m = BLOCK.matcher(bflModule);
        List<String> parts;
        String prefix;
        if (m.matches()) {
            boolean dbl = m.group(1).equals("double_blocks");
            parts = (dbl ? DOUBLE_PARTS : SINGLE_PARTS).get(m.group(3));
            prefix = (dbl ? "transformer_blocks." : "single_transformer_blocks.") + m.group(2) + ".";
        } else {
            String top = TOP.get(bflModule);
            parts = top == null ? null : List.of(top);
            prefix = "";
        }
        if (parts == null) {
            throw new IllegalArgumentException("'" + bflModule + "' is not a Linear of the BFL FLUX transformer");
        }
        if (out <= 0 || in <= 0) {
            throw new IllegalArgumentException(bflModule + ": shape [" + out + ", " + in + "] is not a Linear weight");
        }
        if (parts.size() == 1) {
            boolean swap = bflModule.equals(FINAL_MOD);
            if (swap && out % 2 != 0) {
                throw new IllegalArgumentException(bflModule + ": expected an even number of rows (shift, scale), got "
                        + out);
            }
            return List.of(new LoraTarget(prefix + parts.get(0), out, in, weight, 0, out, swap));
        }
        long[] rows = new long[parts.size()];
        if (parts.size() == 3) {
            if (out != 3 * in) {
                throw new IllegalArgumentException(bflModule + ": expected [3·hidden, hidden] = [" + 3 * in + ", " + in
                        + "], got [" + out + ", " + in + "]");
            }
            Arrays.fill(rows, in);
        } else {
            if (out <= 3 * in) {
                throw new IllegalArgumentException(bflModule + ": expected [3·hidden + mlp, hidden] with hidden " + in
                        + ", got [" + out + ", " + in + "]");
            }
            rows[0] = rows[1] = rows[2] = in;
            rows[3] = out - 3 * in;
        }
        List<LoraTarget> res = new ArrayList<>(parts.size());
        long off = 0;
        for (int i = 0; i < parts.size(); i++) {
            res.add(new LoraTarget(prefix + parts.get(i), rows[i], in, weight, off, out, false));
            off += rows[i];
        }
        return res;
    }

    /**
     * True when the path names a Linear of the diffusers FLUX transformer for some block count (the config decides the
     * count and the shapes; see {@link #byModule}).
     */
    public static boolean isFluxLinear(String module) {
        Matcher m = DIFFUSERS_BLOCK.matcher(module);
        if (m.matches()) {
            Map<String, List<String>> parts = m.group(1).equals("transformer_blocks") ? DOUBLE_PARTS : SINGLE_PARTS;
            return parts.values().stream().anyMatch(l -> l.contains(m.group(3)));
        }
        return TOP.containsValue(module);
    }

    /**
     * The BFL module path of a kohya LoRA name without its {@code lora_unet_} prefix (dots became underscores), e.g.
     * {@code double_blocks_0_img_attn_qkv} → {@code double_blocks.0.img_attn.qkv}; null when it names no FLUX Linear.
     */
    public static String bflModuleOfKohya(String underscored) {
        Matcher m = KOHYA_BLOCK.matcher(underscored);
        if (m.matches()) {
            Map<String, List<String>> parts = m.group(1).equals("double_blocks") ? DOUBLE_PARTS : SINGLE_PARTS;
            for (String suffix : parts.keySet()) {
                if (suffix.replace('.', '_').equals(m.group(3))) {
                    return m.group(1) + "." + m.group(2) + "." + suffix;
                }
            }
            return null;
        }
        for (String top : TOP.keySet()) {
            if (top.replace('.', '_').equals(underscored)) {
                return top;
            }
        }
        return null;
    }

    @SafeVarargs
    private static <V> Map<String, V> ordered(Map.Entry<String, V>... entries) {
        Map<String, V> m = new LinkedHashMap<>();
        for (Map.Entry<String, V> e : entries) {
            m.put(e.getKey(), e.getValue());
        }
        return Collections.unmodifiableMap(m);
    }
}
