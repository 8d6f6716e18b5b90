package dev.fluxerase.lora;

import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * A set of LoRAs on Linears of the FLUX transformer, keyed by diffusers module path: read from a diffusers/peft or
 * kohya/ComfyUI file ({@link #load}), created for training ({@link #create}), and written in the diffusers/peft format
 * that both diffusers and ComfyUI load ({@link #save}, FLUX.md §6.6). See docs/lora-formats.md.
 */
public final class LoraSet {
    /** EraseAnything's targets: the text-stream q and k projections of every double block. */
    public static final List<String> DEFAULT_TARGETS = List.of("attn.add_q_proj", "attn.add_k_proj");

    /** Naming of the file a set was read from. */
    public enum Format { DIFFUSERS, KOHYA, IN_MEMORY }

    /** How {@link #create} draws A (B is always zero, so a new adapter leaves the model unchanged). */
    public enum Init {
        /** A ~ N(0, (1/r)²): peft's {@code init_lora_weights="gaussian"}, used by the diffusers FLUX LoRA trainer. */
        GAUSSIAN,
        /** A ~ U(−1/√in, 1/√in): peft's default {@code kaiming_uniform_(a=√5)}, also kohya's. */
        KAIMING
    }

    /** Module paths compared segment by segment, numeric segments as numbers ({@code blocks.2} before {@code blocks.10}). */
    static final Comparator<String> MODULE_ORDER = (x, y) -> {
        String[] a = x.split("\\.");
        String[] b = y.split("\\.");
        for (int i = 0; i < Math.min(a.length, b.length); i++) {
            int c = isNumber(a[i]) && isNumber(b[i]) ? Long.compare(Long.parseLong(a[i]), Long.parseLong(b[i])) : 0;
            if (c == 0) {
                c = a[i].compareTo(b[i]);
            }
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(a.length, b.length);
    };

    private final String source;
    private final Format format;
    private final Map<String, LoraModule> modules;
    private final List<String> warnings;

    LoraSet(String source, Format format, Collection<LoraModule> modules, List<String> warnings) {
        this.source = source;
        this.format = format;
        Map<String, LoraModule> sorted = new TreeMap<>(MODULE_ORDER);
        for (LoraModule m : modules) {
            LoraModule previous = sorted.put(m.module(), m);
            if (previous != null) {
                throw new LoraException(source + ": two LoRAs for module " + m.module() + " ('" + previous.keyA()
                        + "' and '" + m.keyA() + "')");
            }
        }
        this.modules = Collections.unmodifiableMap(new LinkedHashMap<>(sorted));
        this.warnings = List.copyOf(warnings);
    }

    /** A set over modules built in memory (for example by a trainer). */
    public static LoraSet of(Collection<LoraModule> modules) {
        return new LoraSet("(in memory)", Format.IN_MEMORY, modules, List.of());
    }

    /** Reads a diffusers/peft, kohya or ComfyUI FLUX LoRA safetensors file; any float dtype becomes F32. */
    public static LoraSet load(Path file) {
        return LoraReader.read(file);
    }

    /** {@link #load} then {@link #validate} against the model's config. */
    public static LoraSet load(Path file, FluxConfig cfg) {
        LoraSet set = load(file);
        set.validate(cfg);
        return set;
    }

    /** Modules in block order (numbers compared as numbers). */
    public Collection<LoraModule> modules() {
        return modules.values();
    }

    /** The LoRA on a diffusers module, or null when that module has none. */
    public LoraModule get(String module) {
        return modules.get(module);
    }

    public int size() {
        return modules.size();
    }

    /** Things a caller may want to show: ignored text-encoder tensors, alpha conventions where loaders disagree. */
    public List<String> warnings() {
        return warnings;
    }

    /** The file this set was read from, for messages. */
    public String source() {
        return source;
    }

    public Format format() {
        return format;
    }

    /**
     * Checks that every module is a Linear of this config and that A is [r, in] and B is [out, r] for its shape.
     *
     * @throws LoraException one line naming the file, the tensor, the expected and the actual shape
     */
    public void validate(FluxConfig cfg) {
        Map<String, LoraTarget> targets = LoraTargets.byModule(cfg);
        for (LoraModule m : modules.values()) {
            LoraTarget t = targets.get(m.module());
            String keyA = m.keyA() == null ? m.module() + ".lora_A.weight" : m.keyA();
            String keyB = m.keyB() == null ? m.module() + ".lora_B.weight" : m.keyB();
            if (t == null) {
                throw new LoraException(source + ": tensor '" + keyA + "': module " + m.module()
                        + " is not a Linear of " + describe(cfg));
            }
            long[] expectA = {m.rank(), t.in()};
            long[] expectB = {t.out(), m.rank()};
            // A kohya LoRA on a fused weight is named after the fused weight; say which split failed.
            String what = keyA.contains(m.module()) ? "" : " (its part " + m.module() + ")";
            if (!Arrays.equals(expectA, m.a().shape())) {
                throw new LoraException(source + ": tensor '" + keyA + "'" + what + ": expected shape "
                        + Arrays.toString(expectA) + " for the " + Arrays.toString(new long[]{t.out(), t.in()})
                        + " Linear of " + describe(cfg) + ", got " + Arrays.toString(m.a().shape()));
            }
            if (!Arrays.equals(expectB, m.b().shape())) {
                throw new LoraException(source + ": tensor '" + keyB + "'" + what + ": expected shape "
                        + Arrays.toString(expectB) + " for the " + Arrays.toString(new long[]{t.out(), t.in()})
                        + " Linear of " + describe(cfg) + ", got " + Arrays.toString(m.b().shape()));
            }
        }
    }

    private static String describe(FluxConfig cfg) {
        return "the model (hidden " + cfg.hiddenSize() + ", " + cfg.depth() + " double + " + cfg.depthSingleBlocks()
                + " single blocks)";
    }

    /** {@link #save(Path, DType)} with F32 factors. */
    public void save(Path file) {
        save(file, DType.F32);
    }

    /**
     * Writes {@code transformer.<module>.lora_A.weight} [r, in], {@code .lora_B.weight} [out, r] in the given dtype (F32
     * or BF16) and {@code transformer.<module>.alpha} as a 0-dim F32, with {@code __metadata__} {"format": "pt"} and no
     * peft config: diffusers turns the alpha tensors into its {@code lora_alpha}/{@code alpha_pattern}, ComfyUI applies
     * alpha / rank directly (FLUX.md §6.6). Keys are in module order, alpha, A, B per module; the file is written to a temp file and
     * renamed.
     */
    public void save(Path file, DType dtype) {
        if (dtype != DType.F32 && dtype != DType.BF16) {
            throw new IllegalArgumentException("LoRA files are written as F32 or BF16, not " + dtype);
        }
        if (modules.isEmpty()) {
            throw new LoraException(file + ": refusing to write a LoRA file without modules");
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (LoraModule m : modules.values()) {
            String p = LoraReader.TRANSFORMER + m.module();
            tensors.put(p + ".alpha", Tensor.of(new float[]{m.alpha()}));
            tensors.put(p + ".lora_A.weight", convert(m.a(), dtype));
            tensors.put(p + ".lora_B.weight", convert(m.b(), dtype));
        }
        SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));
    }

    private static Tensor convert(Tensor t, DType dtype) {
        return dtype == DType.F32 ? t : Floats.toBf16(t);
    }

    /**
     * New adapters for training: one per Linear that matches a pattern (peft's suffix rule, {@link LoraTargets#matches};
     * e.g. {@link #DEFAULT_TARGETS}), A drawn by {@code init}, B = 0. Each module draws from its own generator seeded by
     * the seed and the module path, so a module's A does not depend on which other modules are targeted.
     */
    public static LoraSet create(FluxConfig cfg, List<String> modulePatterns, int rank, float alpha, long seed,
                                 Init init) {
        if (rank <= 0) {
            throw new IllegalArgumentException("LoRA rank must be positive, got " + rank);
        }
        if (!Float.isFinite(alpha) || alpha <= 0) {
            throw new IllegalArgumentException("LoRA alpha must be a positive number, got " + alpha);
        }
        List<LoraModule> out = new ArrayList<>();
        for (LoraTarget t : LoraTargets.matching(cfg, modulePatterns)) {
            SplittableRandom rng = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (t.module().hashCode() + 1L)));
            float[] a = new float[Math.toIntExact(rank * t.in())];
            if (init == Init.GAUSSIAN) {
                double std = 1.0 / rank;
                for (int i = 0; i < a.length; i++) {
                    a[i] = (float) (rng.nextGaussian() * std);
                }
            } else {
                // kaiming_uniform_(a=√5) on [r, in]: gain √(2/(1+5)), bound gain·√(3/fan_in) = 1/√in.
                double bound = 1.0 / Math.sqrt(t.in());
                for (int i = 0; i < a.length; i++) {
                    a[i] = (float) rng.nextDouble(-bound, bound);
                }
            }
            out.add(new LoraModule(t.module(), Tensor.of(a, rank, t.in()), Tensor.zeros(t.out(), rank), alpha, null,
                    null));
        }
        return new LoraSet("(new " + init.name().toLowerCase(Locale.ROOT) + " LoRA)", Format.IN_MEMORY, out,
                List.of());
    }

    private static boolean isNumber(String s) {
        return !s.isEmpty() && s.length() < 18 && s.chars().allMatch(ch -> ch >= '0' && ch <= '9');
    }
}
