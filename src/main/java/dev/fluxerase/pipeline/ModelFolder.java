package dev.fluxerase.pipeline;

import dev.fluxerase.flux.FluxConfig;
import dev.fluxerase.flux.FluxWeights;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.text.TokenizerFiles;
import dev.fluxerase.vae.AutoencoderCodec;
import dev.fluxerase.vae.AutoencoderConfig;
import dev.fluxerase.vae.LatentCodec;
import dev.fluxerase.vae.PixelCodec;
import dev.fluxerase.vae.VaeWeights;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * Where each part of a FLUX.1 pipeline lives. {@code --model} names a diffusers pipeline folder (model_index.json,
 * transformer/, text_encoder/, text_encoder_2/, tokenizer/, tokenizer_2/, vae/, scheduler/), a Hugging Face repo id
 * resolved offline in the hub cache ({@link HfCache}), or one repo's cache folder. The transformer and the VAE may
 * instead be BFL single files, {@code flux1-dev.safetensors} and {@code ae.safetensors}: found at the folder's root
 * (the FLUX.1-dev repo ships both) or given as overrides. The vae/ folder may also hold only the config.json of a
 * weightless {@link PixelCodec}. Resolution only looks at paths (and that config's class name); {@link #openTransformer}
 * and {@link #openCodec} open the weights with the config that fits, and the loaders check the contents.
 */
public final class ModelFolder {

    /** The pipeline parts, in diffusers' subfolder names. */
    public enum Component {
        TRANSFORMER("transformer"), TEXT_ENCODER("text_encoder"), TEXT_ENCODER_2("text_encoder_2"),
        TOKENIZER("tokenizer"), TOKENIZER_2("tokenizer_2"), VAE("vae"), SCHEDULER("scheduler");

        private final String folder;

        Component(String folder) {
            this.folder = folder;
        }

        public String folder() {
            return folder;
        }
    }

    /** BFL single-file transformer names, most preferred first. */
    static final List<String> BFL_TRANSFORMER_FILES = List.of("flux1-dev.safetensors", "flux1-schnell.safetensors");
    static final String BFL_VAE_FILE = "ae.safetensors";

    private final String spec;
    private final Path root;
    private final String snapshot;
    private final Map<Component, Path> paths = new EnumMap<>(Component.class);
    private final Map<Component, String> origins = new EnumMap<>(Component.class);
    private final Map<Component, String> lookedFor = new EnumMap<>(Component.class);

    private ModelFolder(String spec, Path root, String snapshot) {
        this.spec = spec;
        this.root = root;
        this.snapshot = snapshot;
    }

    /** Resolves {@code model} with the hub cache of this process's environment. */
    public static ModelFolder resolve(String model, Path transformer, Path vae) {
        return resolve(model, transformer, vae, HfCache.cacheDir(System.getenv(), Path.of(System.getProperty("user.home"))));
    }

    /**
     * Resolves {@code model} (a folder, a repo's hub cache folder, or a repo id looked up in {@code hubCache}) and the
     * optional transformer and VAE overrides (a file, an index or a folder of weights).
     */
    public static ModelFolder resolve(String model, Path transformer, Path vae, Path hubCache) {
        ModelFolder m = locate(model, hubCache);
        m.component(Component.TRANSFORMER, transformer, "--transformer", BFL_TRANSFORMER_FILES, "*.safetensors",
                ModelFolder::hasWeights);
        m.component(Component.VAE, vae, "--vae", List.of(BFL_VAE_FILE), "*.safetensors or a " + PixelCodec.CLASS_NAME
                + " config.json", d -> hasWeights(d) || PixelCodec.describedBy(d.resolve("config.json")));
        m.folder(Component.TEXT_ENCODER, "config.json and *.safetensors", d -> hasConfig(d) && hasWeights(d));
        m.folder(Component.TEXT_ENCODER_2, "config.json and *.safetensors", d -> hasConfig(d) && hasWeights(d));
        m.folder(Component.TOKENIZER, "vocab.json and merges.txt",
                d -> Files.isRegularFile(TokenizerFiles.file(d, "vocab.json"))
                        && Files.isRegularFile(TokenizerFiles.file(d, "merges.txt")));
        m.folder(Component.TOKENIZER_2, String.join(" or ", TokenizerFiles.T5_FILES) + " (each possibly gzipped)",
                d -> TokenizerFiles.T5_FILES.stream().anyMatch(f -> Files.isRegularFile(TokenizerFiles.file(d, f))));
        Path sched = m.root.resolve("scheduler").resolve("scheduler_config.json");
        if (Files.isRegularFile(sched)) {
            m.paths.put(Component.SCHEDULER, sched);
            m.origins.put(Component.SCHEDULER, "scheduler/scheduler_config.json");
        } else {
            m.lookedFor.put(Component.SCHEDULER, "scheduler/scheduler_config.json");
        }
        return m;
    }

    private static ModelFolder locate(String model, Path hubCache) {
        if (model == null || model.isBlank()) {
            throw new PipelineException("no model given: pass --model with a diffusers FLUX folder or a Hugging Face"
                    + " repo id such as black-forest-labs/FLUX.1-dev");
        }
        Path asPath = Path.of(model);
        if (Files.isDirectory(asPath)) {
            if (HfCache.isRepoDir(asPath)) {
                Path snap = HfCache.snapshot(asPath);
                return new ModelFolder(model, snap, snap.getFileName().toString());
            }
            return new ModelFolder(model, asPath, null);
        }
        if (Files.exists(asPath)) {
            throw new PipelineException("--model " + model + " is a file; pass the pipeline folder (for a BFL"
                    + " flux1-dev.safetensors, pass the folder with the text encoders as --model and the file as"
                    + " --transformer)");
        }
        if (!HfCache.isRepoId(model)) {
            throw new PipelineException("--model " + model + ": no such folder");
        }
        Path repo = HfCache.repoDir(hubCache, model);
        if (!HfCache.isRepoDir(repo)) {
            throw new PipelineException("--model " + model + ": not a folder, and not in the Hugging Face cache (no "
                    + repo.resolve("snapshots") + "); download it with `huggingface-cli download " + model
                    + "` or pass a folder");
        }
        Path snap = HfCache.snapshot(repo);
        return new ModelFolder(model, snap, snap.getFileName().toString());
    }

    /** An override, else the subfolder when {@code usable}, else the first single file at the root. */
    private void component(Component c, Path override, String option, List<String> singleFiles, String what,
                           Predicate<Path> usable) {
        if (override != null) {
            if (!Files.exists(override)) {
                throw new PipelineException(option + " " + override + ": no such file or folder");
            }
            paths.put(c, override);
            origins.put(c, option);
            return;
        }
        Path dir = root.resolve(c.folder());
        if (Files.isDirectory(dir) && usable.test(dir)) {
            paths.put(c, dir);
            origins.put(c, c.folder() + "/");
            return;
        }
        for (String f : singleFiles) {
            Path file = root.resolve(f);
            if (Files.isRegularFile(file)) {
                paths.put(c, file);
                origins.put(c, "single file");
                return;
            }
        }
        lookedFor.put(c, c.folder() + "/ with " + what + ", or " + String.join(" or ", singleFiles) + " (or "
                + option + ")");
    }

    private void folder(Component c, String what, Predicate<Path> ok) {
        Path dir = root.resolve(c.folder());
        if (Files.isDirectory(dir) && ok.test(dir)) {
            paths.put(c, dir);
            origins.put(c, c.folder() + "/");
        } else {
            lookedFor.put(c, c.folder() + "/ with " + what);
        }
    }

    private static boolean hasConfig(Path dir) {
        return Files.isRegularFile(dir.resolve("config.json"));
    }

    /** A *.safetensors file or a *.safetensors.index.json (sharded) in the folder. */
    static boolean hasWeights(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString())
                    .anyMatch(n -> n.endsWith(".safetensors") || n.endsWith(".safetensors.index.json"));
        } catch (IOException e) {
            return false;
        }
    }

    /** What --model said. */
    public String spec() {
        return spec;
    }

    /** The folder the components were looked up in (a snapshot folder for a hub cache entry). */
    public Path root() {
        return root;
    }

    /** The hub snapshot's commit hash, or null for a plain folder. */
    public String snapshot() {
        return snapshot;
    }

    /** The component's path, or null when it was not found. */
    public Path path(Component c) {
        return paths.get(c);
    }

    /** How the component was found ("transformer/", "single file", "--transformer"), or null. */
    public String origin(Component c) {
        return origins.get(c);
    }

    /** What was looked for, for a component that was not found (null when found). */
    public String lookedFor(Component c) {
        return lookedFor.get(c);
    }

    /** The path of a component a command needs; one line naming what was looked for when it is missing. */
    public Path require(Component c) {
        Path p = paths.get(c);
        if (p == null) {
            throw new PipelineException(describe() + ": no " + c.folder() + ": looked for " + lookedFor.get(c));
        }
        return p;
    }

    /**
     * Opens the transformer weights. A diffusers transformer/ folder carries its config.json; a single file uses a FLUX
     * config.json beside it, else the folder's transformer/config.json (the FLUX.1-dev repo has both the BFL file and
     * the diffusers folder), else the flux-dev or flux-schnell preset that fits its shapes.
     */
    public FluxWeights openTransformer() {
        return FluxWeights.open(require(Component.TRANSFORMER), givenTransformerConfig());
    }

    /** The transformer's config as {@link #openTransformer} chooses it, from headers and config files only. */
    public FluxConfig transformerConfig() {
        return FluxWeights.config(require(Component.TRANSFORMER), givenTransformerConfig());
    }

    /** The folder's transformer/config.json for a single weights file without a config beside it; else null. */
    private FluxConfig givenTransformerConfig() {
        Path p = require(Component.TRANSFORMER);
        Path diffusersConfig = root.resolve("transformer").resolve("config.json");
        boolean configBeside = Files.isDirectory(p) || Files.isRegularFile(p.toAbsolutePath().resolveSibling("config.json"));
        return !configBeside && Files.isRegularFile(diffusersConfig) ? FluxConfig.read(diffusersConfig) : null;
    }

    /**
     * Opens the VAE weights: a diffusers vae/ folder with its config.json, or a single file (BFL ae.safetensors) with
     * the folder's vae/config.json when there is one, else FLUX's autoencoder config.
     */
    public VaeWeights openVae() {
        Path p = require(Component.VAE);
        Path diffusersConfig = root.resolve("vae").resolve("config.json");
        if (Files.isRegularFile(p) && Files.isRegularFile(diffusersConfig)) {
            return VaeWeights.open(p, AutoencoderConfig.read(diffusersConfig));
        }
        return VaeWeights.open(p);
    }

    /**
     * Opens the latent codec on {@code backend}: a vae/ folder whose config.json is a {@link PixelCodec} config gives
     * that codec (no weights, computed on the host); anything else is FLUX's VAE ({@link #openVae}) with the
     * {@code parts} converted onto the backend (none: only its config, enough to describe it and to size a decode on
     * that backend). The caller closes it.
     */
    public LatentCodec openCodec(Backend backend, LatentCodec.Part... parts) {
        Path p = require(Component.VAE);
        if (Files.isDirectory(p) && PixelCodec.describedBy(p.resolve("config.json"))) {
            return PixelCodec.read(p.resolve("config.json"));
        }
        try (VaeWeights w = openVae()) {
            return AutoencoderCodec.load(w, backend, List.of(parts));
        }
    }

    /**
     * The codec's config alone (no backend, nothing converted): its kind, latent channels, factor and scaling. Sizing a
     * decode with it assumes a host backend.
     */
    public LatentCodec openCodec() {
        return openCodec((Backend) null);
    }

    /** The folder's own defaults for options left out (model_index.json's {@value ModelDefaults#KEY}). */
    public ModelDefaults defaults() {
        return ModelDefaults.read(root.resolve("model_index.json"));
    }

    /** Components that were not found, in pipeline order. */
    public List<Component> missing() {
        List<Component> out = new ArrayList<>();
        for (Component c : Component.values()) {
            if (!paths.containsKey(c)) {
                out.add(c);
            }
        }
        return out;
    }

    /** "spec" for a folder, "spec (Hugging Face cache snapshot abc123 at path)" for a hub entry. */
    public String describe() {
        return snapshot == null ? spec : spec + " (Hugging Face cache snapshot " + snapshot + " at " + root + ")";
    }
}
