package dev.fluxerase.vae;

import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.TensorInfo;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A VAE checkpoint under either naming, read by diffusers names. The model code asks for every parameter by its diffusers
 * name ({@code decoder.up_blocks.0.resnets.1.conv1.weight}); for a BFL checkpoint the name is translated
 * ({@code decoder.up.3.block.1.conv1.weight}). Each parameter's shape is checked against the config and it is converted to
 * an f32 array once, conv kernels reordered to [cout, k, k, cin], the channels-last layout that
 * {@link dev.fluxerase.tensor.Backend#conv2d} takes.
 */
public final class VaeWeights implements AutoCloseable {

    /** How the checkpoint names its tensors. */
    public enum Naming {
        /** diffusers {@code AutoencoderKL}: down_blocks / up_blocks / mid_block, attention to_q … [C, C]. */
        DIFFUSERS,
        /** BFL {@code flux.modules.autoencoder}: down / up (reversed) / mid, attention q … proj_out [C, C, 1, 1]. */
        BFL
    }

    private final TensorSource source;
    private final boolean ownsSource;
    private final AutoencoderConfig config;
    private final Naming naming;
    private final Set<String> used = new HashSet<>();

    private VaeWeights(TensorSource source, boolean ownsSource, AutoencoderConfig config) {
        this.source = source;
        this.ownsSource = ownsSource;
        this.config = config;
        this.naming = detect(source);
    }

    /** Reads parameters from {@code source} (which the caller keeps and closes) under {@code config}. */
    public static VaeWeights of(TensorSource source, AutoencoderConfig config) {
        return new VaeWeights(source, false, config);
    }

    /**
     * Opens a diffusers VAE folder (config.json and one safetensors file), a diffusers pipeline folder (its vae/), or a
     * single safetensors file, which gets the {@link AutoencoderConfig#FLUX} config (BFL's {@code ae.safetensors} has
     * none).
     */
    public static VaeWeights open(Path path) {
        Path folder = path;
        if (Files.isDirectory(path) && Files.isRegularFile(path.resolve("model_index.json"))) {
            folder = path.resolve("vae");
        }
        if (Files.isDirectory(folder)) {
            Path configFile = folder.resolve("config.json");
            if (!Files.isRegularFile(configFile)) {
                throw new VaeException(folder + ": no config.json (a diffusers VAE folder has config.json and"
                        + " diffusion_pytorch_model.safetensors)");
            }
            return open(folder, AutoencoderConfig.read(configFile));
        }
        return open(path, AutoencoderConfig.FLUX);
    }

    /** Opens a safetensors file or folder (see {@link Safetensors#open}) with an explicit config. */
    public static VaeWeights open(Path weights, AutoencoderConfig config) {
        TensorSource source = Safetensors.open(weights);
        try {
            return new VaeWeights(source, true, config);
        } catch (RuntimeException e) {
            source.close();
            throw e;
        }
    }

    public AutoencoderConfig config() {
        return config;
    }

    public Naming naming() {
        return naming;
    }

    public String describe() {
        return source.describe();
    }

    private static Naming detect(TensorSource source) {
        boolean diffusers = false;
        boolean bfl = false;
        for (String n : source.names()) {
            if (n.equals("quant_conv.weight") || n.equals("post_quant_conv.weight") || n.startsWith("encoder.quant_conv.")
                    || n.startsWith("decoder.post_quant_conv.")) {
                throw new VaeException(source.describe() + ": has tensor " + n + ": not FLUX's VAE layout (FLUX has no"
                        + " quant convs)");
            }
            diffusers |= n.startsWith("encoder.down_blocks.") || n.startsWith("decoder.up_blocks.")
                    || n.startsWith("encoder.mid_block.") || n.startsWith("decoder.mid_block.");
            bfl |= n.startsWith("encoder.down.") || n.startsWith("decoder.up.") || n.startsWith("encoder.mid.")
                    || n.startsWith("decoder.mid.");
        }
        if (diffusers && bfl) {
            throw new VaeException(source.describe() + ": mixes diffusers (down_blocks/up_blocks/mid_block) and BFL"
                    + " (down/up/mid) VAE tensor names");
        }
        if (!diffusers && !bfl) {
            String first = source.names().stream().findFirst().orElse("(none)");
            throw new VaeException(source.describe() + ": not a VAE checkpoint: no encoder.down_blocks.*/decoder.up_blocks.*"
                    + " (diffusers) or encoder.down.*/decoder.up.* (BFL) tensors; first tensor is " + first);
        }
        return diffusers ? Naming.DIFFUSERS : Naming.BFL;
    }

    private static final Pattern DOWN_RESNET = Pattern.compile("^encoder\\.down_blocks\\.(\\d+)\\.resnets\\.(\\d+)\\.");
    private static final Pattern DOWN_SAMPLE = Pattern.compile("^encoder\\.down_blocks\\.(\\d+)\\.downsamplers\\.0\\.");
    private static final Pattern UP_RESNET = Pattern.compile("^decoder\\.up_blocks\\.(\\d+)\\.resnets\\.(\\d+)\\.");
    private static final Pattern UP_SAMPLE = Pattern.compile("^decoder\\.up_blocks\\.(\\d+)\\.upsamplers\\.0\\.");
    private static final Pattern MID_RESNET = Pattern.compile("^(encoder|decoder)\\.mid_block\\.resnets\\.([01])\\.");
    private static final Pattern MID_ATTN = Pattern.compile(
            "^(encoder|decoder)\\.mid_block\\.attentions\\.0\\.(group_norm|to_q|to_k|to_v|to_out\\.0)\\.");

    /**
     * The BFL name of a diffusers VAE parameter (FLUX.md §5.4): down_blocks.i.resnets.j → down.i.block.j,
     * downsamplers.0 → downsample, up_blocks.k → up.(levels−1−k), upsamplers.0 → upsample, mid_block.resnets.0/1 →
     * mid.block_1/2, mid_block.attentions.0.{group_norm,to_q,to_k,to_v,to_out.0} → mid.attn_1.{norm,q,k,v,proj_out},
     * conv_shortcut → nin_shortcut, conv_norm_out → norm_out.
     */
    public static String bflName(String diffusers, int levels) {
        String s = diffusers.replace(".conv_shortcut.", ".nin_shortcut.").replace(".conv_norm_out.", ".norm_out.");
        Matcher m;
        if ((m = DOWN_RESNET.matcher(s)).find()) {
            return "encoder.down." + m.group(1) + ".block." + m.group(2) + "." + s.substring(m.end());
        }
        if ((m = DOWN_SAMPLE.matcher(s)).find()) {
            return "encoder.down." + m.group(1) + ".downsample." + s.substring(m.end());
        }
        if ((m = UP_RESNET.matcher(s)).find()) {
            return "decoder.up." + (levels - 1 - Integer.parseInt(m.group(1))) + ".block." + m.group(2) + "."
                    + s.substring(m.end());
        }
        if ((m = UP_SAMPLE.matcher(s)).find()) {
            return "decoder.up." + (levels - 1 - Integer.parseInt(m.group(1))) + ".upsample." + s.substring(m.end());
        }
        if ((m = MID_RESNET.matcher(s)).find()) {
            return m.group(1) + ".mid.block_" + (Integer.parseInt(m.group(2)) + 1) + "." + s.substring(m.end());
        }
        if ((m = MID_ATTN.matcher(s)).find()) {
            String part = switch (m.group(2)) {
                case "group_norm" -> "norm";
                case "to_q" -> "q";
                case "to_k" -> "k";
                case "to_v" -> "v";
                default -> "proj_out";
            };
            return m.group(1) + ".mid.attn_1." + part + "." + s.substring(m.end());
        }
        return s;
    }

    /** The name of a parameter in this checkpoint. */
    String fileName(String diffusers) {
        return naming == Naming.DIFFUSERS ? diffusers : bflName(diffusers, config.levels());
    }

    /** A [n] parameter (norm scale or shift, bias). */
    float[] vector(String name, int n) {
        return read(name, new long[]{n});
    }

    /** A conv kernel [cout, cin, k, k], returned reordered as [cout][ky][kx][cin]. */
    float[] conv(String name, int cout, int cin, int k) {
        float[] w = read(name, new long[]{cout, cin, k, k});
        if (k == 1) {
            return w;
        }
        float[] r = new float[w.length];
        int kk = k * k;
        for (int o = 0; o < cout; o++) {
            for (int i = 0; i < cin; i++) {
                for (int t = 0; t < kk; t++) {
                    r[(o * kk + t) * cin + i] = w[(o * cin + i) * kk + t];
                }
            }
        }
        return r;
    }

    /** A linear weight [cout, cin]; BFL stores the attention projections as 1×1 convs [cout, cin, 1, 1] (same bytes). */
    float[] linear(String name, int cout, int cin) {
        return read(name, naming == Naming.DIFFUSERS ? new long[]{cout, cin} : new long[]{cout, cin, 1, 1});
    }

    private float[] read(String diffusers, long[] shape) {
        String name = fileName(diffusers);
        if (!source.contains(name)) {
            throw new VaeException(source.describe() + ": missing tensor " + name + " (" + naming + " naming; config "
                    + config + ")");
        }
        TensorInfo info = source.info(name);
        if (!Arrays.equals(info.shape(), shape)) {
            throw new VaeException(source.describe() + ": tensor " + name + ": expected shape " + Arrays.toString(shape)
                    + ", found " + Arrays.toString(info.shape()));
        }
        if (!info.dtype().isFloat()) {
            throw new VaeException(source.describe() + ": tensor " + name + ": expected a float dtype (F32, BF16, F16),"
                    + " found " + info.dtype());
        }
        used.add(name);
        Tensor t = source.tensor(name);
        String problem = Floats.nonFinite(t);
        if (problem != null) {
            throw new VaeException(source.describe() + ": tensor " + name + ": " + problem
                    + "; the file is damaged (a bad download or conversion)");
        }
        return Floats.toF32(t);
    }

    /**
     * Fails on a tensor under {@code prefix} ("encoder." or "decoder.") that the model did not read: a checkpoint with
     * more blocks than the config describes, or a different layout.
     */
    void requireAllUsed(String prefix) {
        for (String n : source.names()) {
            if (n.startsWith(prefix) && !used.contains(n)) {
                throw new VaeException(source.describe() + ": unexpected tensor " + n + ": the config (" + config
                        + ") has no such parameter");
            }
        }
    }

    @Override
    public void close() {
        if (ownsSource) {
            source.close();
        }
    }
}
