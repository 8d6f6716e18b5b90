package dev.fluxerase.lora;

/**
 * One Linear of the diffusers {@code FluxTransformer2DModel} that a LoRA can adapt, with its weight shape [out, in] and
 * where its rows live in the BFL checkpoint (FLUX.md §3): rows [bflRowOffset, bflRowOffset + out) of {@code bflWeight},
 * which has {@code bflRows} rows in all. When {@code swapHalves} is set (only {@code norm_out.linear}) the module is the
 * whole BFL weight with its two row halves exchanged: BFL orders the final modulation (shift, scale), diffusers
 * (scale, shift).
 */
public record LoraTarget(String module, long out, long in, String bflWeight, long bflRowOffset, long bflRows,
                         boolean swapHalves) {

    public LoraTarget {
        if (out <= 0 || in <= 0 || bflRowOffset < 0 || bflRowOffset + out > bflRows) {
            throw new IllegalArgumentException(module + ": rows [" + bflRowOffset + ", " + (bflRowOffset + out)
                    + ") do not fit the " + bflRows + " rows of " + bflWeight);
        }
        if (swapHalves && (bflRowOffset != 0 || out != bflRows || out % 2 != 0)) {
            throw new IllegalArgumentException(module + ": a half swap needs the whole even-sized " + bflWeight);
        }
    }

    /** The BFL module path, e.g. {@code double_blocks.0.txt_attn.qkv}. */
    public String bflModule() {
        return bflWeight.substring(0, bflWeight.length() - ".weight".length());
    }

    /** True when the BFL weight holds other modules' rows too (qkv, linear1). */
    public boolean fused() {
        return out != bflRows;
    }

    /** The BFL weight row that holds row r of this module's weight (or of a LoRA B on it). */
    public long bflRow(long r) {
        if (r < 0 || r >= out) {
            throw new IndexOutOfBoundsException("row " + r + " of " + module + " [" + out + ", " + in + "]");
        }
        if (swapHalves) {
            long half = out / 2;
            return r < half ? r + half : r - half;
        }
        return bflRowOffset + r;
    }
}
