package dev.fluxerase.flux;

import dev.fluxerase.flux.FluxLayout.Naming;
import dev.fluxerase.flux.FluxLayout.Param;
import dev.fluxerase.flux.FluxLayout.Slot;
import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.TensorInfo;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;

/**
 * Transformer weights from a safetensors file, sharded index or folder, in BFL or diffusers naming (detected, with any
 * key prefix such as {@code model.diffusion_model.}), mapped onto the internal split layout of {@link FluxLayout}.
 * F32, BF16 and F16 tensors are used in place (every internal parameter is a row slice of the mapped file tensor);
 * F64 tensors are converted once to F32. {@link #to} gives a copy on a GPU backend; {@link #of} builds weights from
 * values made in memory (random weights for timings).
 */
public final class FluxWeights implements AutoCloseable {
    /** The mapped file, closed by {@link #close}; null for weights that do not own it (device copies, made in memory). */
    private final TensorSource source;
    private final String description;
    private final FluxConfig config;
    private final FluxLayout layout;
    private final Naming naming;
    private final String prefix;
    private final Map<String, Tensor> params;
    private final List<String> unexpected;

    private FluxWeights(TensorSource source, String description, FluxConfig config, FluxLayout layout, Naming naming,
                        String prefix, Map<String, Tensor> params, List<String> unexpected) {
        this.source = source;
        this.description = description;
        this.config = config;
        this.layout = layout;
        this.naming = naming;
        this.prefix = prefix;
        this.params = params;
        this.unexpected = unexpected;
    }

    /**
     * Opens weights at {@code path}: a .safetensors file, an index, a folder with either, or a diffusers pipeline
     * folder (its transformer/ subfolder is used). With {@code config} null the config is chosen by
     * {@link FluxConfig#select}. Every expected tensor must be present with the expected shape and a float dtype.
     */
    public static FluxWeights open(Path path, FluxConfig config) {
        Path p = transformerPath(path);
        TensorSource src = Safetensors.open(p);
        try {
            Detected detected = detect(src);
            Naming naming = detected.naming;
            String prefix = detected.prefix;
            FluxConfig cfg = checkedConfig(src, p, config, detected);
            FluxLayout layout = FluxLayout.of(cfg);
            Map<String, Tensor> converted = new HashMap<>();
            Map<String, Tensor> params = new LinkedHashMap<>();
            for (Param param : layout.params()) {
                Slot slot = param.slot(naming);
                Tensor file = converted.computeIfAbsent(slot.tensor(), n -> readable(src, prefix + n));
                // a file's weights are never written (mapped read-only, or converted once into memory only we hold)
                params.put(param.name(), file.sliceRows(slot.row(), slot.rows()).view(param.shape()).frozen());
            }
            requireFinite(src, prefix, converted);
            Set<String> expected = layout.fileTensors(naming).keySet();
            List<String> extra = new ArrayList<>();
            for (String n : src.names()) {
                if (!n.startsWith(prefix) || !expected.contains(n.substring(prefix.length()))) {
                    extra.add(n);
                }
            }
            return new FluxWeights(src, src.describe(), cfg, layout, naming, prefix, params, List.copyOf(extra));
        } catch (RuntimeException e) {
            src.close();
            throw e;
        }
    }

    /**
     * The config that {@link #open} would use for {@code path}, from the file's header alone (nothing is read or
     * scanned), so that a caller can size its work before loading.
     */
    public static FluxConfig config(Path path, FluxConfig config) {
        Path p = transformerPath(path);
        try (TensorSource src = Safetensors.open(p)) {
            return checkedConfig(src, p, config, detect(src));
        }
    }

    /** A diffusers pipeline folder's transformer/ subfolder; any other path itself. */
    private static Path transformerPath(Path path) {
        return Files.isDirectory(path) && Files.isRegularFile(path.resolve("model_index.json"))
                && Files.isDirectory(path.resolve("transformer")) ? path.resolve("transformer") : path;
    }

    private static FluxConfig checkedConfig(TensorSource src, Path p, FluxConfig config, Detected d) {
        FluxConfig cfg = config != null ? config : FluxConfig.select(p, c -> check(src, c, d.naming, d.prefix));
        String problem = check(src, cfg, d.naming, d.prefix);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        return cfg;
    }

    /**
     * Weights made in memory: {@code values} gives each internal parameter (any float dtype, any one device), which
     * must have the parameter's shape. Laid out as BFL names for {@link #toFileLayout}; description is for messages.
     */
    public static FluxWeights of(FluxConfig config, String description, Function<Param, Tensor> values) {
        FluxLayout layout = FluxLayout.of(config);
        Map<String, Tensor> params = new LinkedHashMap<>();
        Device device = null;
        for (Param p : layout.params()) {
            Tensor t = values.apply(p);
            if (!Arrays.equals(t.shape(), p.shape()) || !t.dtype().isFloat()) {
                throw new IllegalArgumentException(description + ": parameter " + p.name() + ": expected "
                        + Arrays.toString(p.shape()) + " float, got " + Arrays.toString(t.shape()) + " " + t.dtype());
            }
            if (device != null && t.device() != device) {
                throw new IllegalArgumentException(description + ": parameter " + p.name() + " is on " + t.device()
                        + ", the others on " + device);
            }
            device = t.device();
            params.put(p.name(), t);
        }
        return new FluxWeights(null, description, config, layout, Naming.BFL, "", params, List.of());
    }

    /**
     * These weights on {@code backend}'s device: this object itself when they are there already (the CPU backends
     * read the mapped file in place), else a copy of every parameter in its own dtype ({@link Backend#toDevice}), so
     * BF16 weights stay BF16 on the GPU. The copy lives as long as the backend's memory; closing it closes nothing,
     * and this object (which owns the file) may be closed once the copy is made.
     */
    public FluxWeights to(Backend backend) {
        if (params.values().stream().allMatch(t -> t.device() == backend.device())) {
            return this;
        }
        Map<String, Tensor> copies = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            copies.put(e.getKey(), backend.toDevice(e.getValue()));
        }
        return new FluxWeights(null, description + " on " + backend.name(), config, layout, naming, prefix, copies,
                unexpected);
    }

    private record Detected(Naming naming, String prefix) {
    }

    /** BFL or diffusers, and the key prefix, from the marker tensor that each naming always has. */
    private static Detected detect(TensorSource src) {
        Detected found = null;
        for (String n : src.names()) {
            for (Naming naming : Naming.values()) {
                String marker = naming.marker();
                if (n.endsWith(marker) && (n.length() == marker.length()
                        || n.charAt(n.length() - marker.length() - 1) == '.')) {
                    Detected d = new Detected(naming, n.substring(0, n.length() - marker.length()));
                    if (found != null && !found.equals(d)) {
                        throw new IllegalArgumentException(src.describe() + ": holds more than one FLUX transformer ("
                                + found.prefix + found.naming.marker() + ", " + n + ")");
                    }
                    found = d;
                }
            }
        }
        if (found == null) {
            throw new IllegalArgumentException(src.describe() + ": not a FLUX transformer: neither img_in.weight (BFL)"
                    + " nor x_embedder.weight (diffusers) is present");
        }
        return found;
    }

    /** Null when every tensor the config expects is present with its shape and a float dtype; else the first problem. */
    private static String check(TensorSource src, FluxConfig c, Naming naming, String prefix) {
        for (Map.Entry<String, long[]> e : FluxLayout.of(c).fileTensors(naming).entrySet()) {
            String name = prefix + e.getKey();
            if (!src.contains(name)) {
                return src.describe() + ": tensor " + name + " missing (expected " + Arrays.toString(e.getValue())
                        + " for " + c + ")";
            }
            TensorInfo info = src.info(name);
            if (!Arrays.equals(info.shape(), e.getValue())) {
                return src.describe() + ": tensor " + name + ": expected shape " + Arrays.toString(e.getValue())
                        + ", got " + Arrays.toString(info.shape()) + " " + info.dtype() + " (for " + c + ")";
            }
            DType d = info.dtype();
            if (d != DType.F32 && d != DType.BF16 && d != DType.F16 && d != DType.F64) {
                return src.describe() + ": tensor " + name + ": expected dtype F32, BF16, F16 or F64, got " + d;
            }
        }
        return null;
    }

    /**
     * A NaN or infinity in a frozen weight turns every image black and every loss NaN; refused here, naming the tensor,
     * rather than at the first sampling step. The tensors are scanned in parallel, and the first problem in name order
     * is reported so that the message does not depend on thread timing.
     */
    private static void requireFinite(TensorSource src, String prefix, Map<String, Tensor> tensors) {
        tensors.entrySet().parallelStream()
                .map(e -> {
                    String problem = Floats.nonFinite(e.getValue());
                    return problem == null ? null : src.describe() + ": tensor " + prefix + e.getKey() + ": " + problem
                            + "; the weights are damaged (a bad download or conversion)";
                })
                .filter(Objects::nonNull).sorted().findFirst()
                .ifPresent(m -> {
                    throw new IllegalArgumentException(m);
                });
    }

    /** The file tensor in a dtype the backends read: in place, or converted once when F64. */
    private static Tensor readable(TensorSource src, String name) {
        Tensor t = src.tensor(name);
        if (t.dtype() == DType.F64) {
            return Tensor.of(Floats.toF32(t), t.shape());
        }
        return t;
    }

    public FluxConfig config() {
        return config;
    }

    public FluxLayout layout() {
        return layout;
    }

    public Naming naming() {
        return naming;
    }

    /** Key prefix of the file's transformer tensors ("" for plain files). */
    public String prefix() {
        return prefix;
    }

    /** The file or folder these weights came from, for messages. */
    public String describe() {
        return description;
    }

    /** An internal parameter (a {@link FluxLayout.Param} name). */
    public Tensor tensor(String internalName) {
        Tensor t = params.get(internalName);
        if (t == null) {
            throw new IllegalArgumentException("no parameter " + internalName + " in " + description);
        }
        return t;
    }

    /**
     * The bytes of every tensor of the transformer at {@code path} (a file, or a folder as {@link #open} takes it), from
     * the headers: about {@link #byteSize} of the opened weights, without mapping and scanning them.
     */
    public static long fileBytes(Path path) {
        return Safetensors.tensorBytes(transformerPath(path));
    }

    /** The parameters' bytes in their own dtypes: what {@link #to} puts on a device. */
    public long byteSize() {
        return params.values().stream().mapToLong(Tensor::byteSize).sum();
    }

    /** Tensors of the file that are not part of the transformer (ignored). */
    public List<String> unexpected() {
        return unexpected;
    }

    /**
     * Values given per internal parameter (for example gradients), laid out as the file's own tensors: name exactly as
     * in the file (prefix included), F32 host tensors in file order. Fused BFL tensors get the concatenation of their
     * parts and diffusers norm_out.linear the half-swapped final adaLN, exactly as the weights were read.
     */
    public Map<String, Tensor> toFileLayout(Function<String, float[]> internalValues) {
        return layout.toFile(naming, prefix, internalValues);
    }

    @Override
    public void close() {
        if (source != null) {
            source.close();
        }
    }
}
