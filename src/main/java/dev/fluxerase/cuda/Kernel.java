package dev.fluxerase.cuda;

import java.util.List;

/**
 * Every kernel entry point of kernels/*.cu: its family (the .cu file and PTX module), its extern "C" name and its
 * parameter kinds, which KernelSourcesTest checks against the {@code .entry} declarations in the PTX.
 * Kinds: P = device pointer, L = long long, I = int, F = float.
 */
public enum Kernel {
    FILL("elementwise", "fill", "L P I F"),
    CAST("elementwise", "cast", "L P I P I"),
    AXPY("elementwise", "axpy_f32", "L F P P"),
    MUL("elementwise", "mul_f32", "L P P P"),
    SCALE("elementwise", "scale_f32", "L P F"),
    ADD_BIAS("elementwise", "add_bias", "L I P P I"),
    SUM_ROWS("elementwise", "sum_rows", "L I I P P"),
    REDUCE_SUM("elementwise", "reduce_sum_f64", "L P P P"),
    SILU_FWD("activations", "silu_fwd", "L P P"),
    SILU_BWD("activations", "silu_bwd", "L P P P"),
    GELU_TANH_FWD("activations", "gelu_tanh_fwd", "L P P"),
    GELU_TANH_BWD("activations", "gelu_tanh_bwd", "L P P I P"),
    SOFTMAX_FWD("softmax", "softmax_fwd", "L I P P"),
    SOFTMAX_BWD("softmax", "softmax_bwd", "L I P P P"),
    LAYERNORM_FWD("norms", "layernorm_fwd", "L I P P P P F"),
    LAYERNORM_BWD("norms", "layernorm_bwd", "L I P P P P P"),
    RMSNORM_FWD("norms", "rmsnorm_fwd", "L I P P I P P F"),
    RMSNORM_BWD_DX("norms", "rmsnorm_bwd_dx", "L I P P P I P P"),
    RMSNORM_BWD_DW("norms", "rmsnorm_bwd_dw", "L I I P P P P"),
    GROUPNORM_STATS("norms", "groupnorm_stats", "L I I P P F"),
    GROUPNORM_APPLY("norms", "groupnorm_apply", "L L I I P P P P I P I I"),
    MODULATE_FWD("modulation", "modulate_fwd", "L L I P P I I I P"),
    MODULATE_BWD("modulation", "modulate_bwd", "L I I P P P I I I P P"),
    GATE_ADD_FWD("modulation", "gate_add_fwd", "L L I P P P I I"),
    GATE_ADD_BWD("modulation", "gate_add_bwd", "L I I P P P I I P P"),
    ROPE_FWD("rope", "rope_fwd", "L I I P P P P"),
    ROPE_BWD("rope", "rope_bwd", "L I I P P P P"),
    COPY_STRIDED("copy", "copy_strided", "L P I L L L L L P I L L L L L L L L I"),
    ADAMW("adamw", "adamw_f32", "L P P P P F F F F F F F"),
    ADAMW_MULTI("adamw", "adamw_multi", "L I P P F F F F F F F"),
    ADAMW_BF16("adamw", "adamw_bf16", "L P P P P F F F F F F F"),
    FLASH_ATTN_FWD("attention", "flash_attn_fwd", "I I P P P P P F"),
    ATTN_BWD_DELTA("attention", "attn_bwd_delta", "L I P P P"),
    FLASH_ATTN_BWD("attention", "flash_attn_bwd", "I I P P P P P P P P P F"),
    ATTN_PROBS("attention", "attn_probs", "L I I I I P P P P P F I"),
    ATTN_REF_FWD("attention", "attn_ref_fwd", "L I I I P P P P P F"),
    ATTN_REF_BWD("attention", "attn_ref_bwd", "L I I I P P P P P P P P P F"),
    CONV_IM2COL("conv", "im2col", "L L I P I I I I I I I I I P I");

    /** Threads per block of groupnorm_stats, its __launch_bounds__. */
    public static final int GROUPNORM_STATS_THREADS = 512;

    /** Dynamic shared memory of flash_attn_bwd, as kernels/attention.cu computes FLASH_BWD_SMEM (checked by a test). */
    public static final int FLASH_BWD_SMEM_BYTES = (2 * 64 * 136 + 2 * 32 * 136 + 32 * 72) * 2 + 2 * 32 * 4;

    private final String family;
    private final String entry;
    private final List<Character> params;

    Kernel(String family, String entry, String params) {
        this.family = family;
        this.entry = entry;
        this.params = params.chars().filter(c -> c != ' ').mapToObj(c -> (char) c).toList();
    }

    public String family() {
        return family;
    }

    public String entry() {
        return entry;
    }

    public List<Character> params() {
        return params;
    }

    /** The families (kernels/<family>.cu, one PTX module each) in first-use order. */
    public static List<String> families() {
        return java.util.Arrays.stream(values()).map(Kernel::family).distinct().toList();
    }
}
