package dev.fluxerase.lora;

import dev.fluxerase.safetensors.SafetensorsFile;
import dev.fluxerase.safetensors.TensorInfo;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads a FLUX LoRA safetensors file in diffusers/peft naming or kohya/ComfyUI naming (FLUX.md §6.2–6.5) into F32
 * {@link LoraModule}s on diffusers modules. Kohya LoRAs on fused BFL weights are split exactly: the down matrix is
 * copied to every part, the up matrix is row-split, alpha and rank stay those of the fused LoRA, so each part has the
 * fused LoRA's scale and the parts' updates are exactly the rows of the fused update.
 */
final class LoraReader {
    static final String TRANSFORMER = "transformer.";
    private static final String KOHYA_UNET = "lora_unet_";
    private static final String COMFY = "diffusion_model.";
    private static final List<String> KOHYA_TEXT = List.of("lora_te_", "lora_te1_", "lora_te2_");
    private static final List<String> DIFFUSERS_TEXT = List.of("text_encoder.", "text_encoder_2.");

    private enum Role { A, B, ALPHA }

    private record Suffix(String text, Role role) {
    }

    private static final List<Suffix> DIFFUSERS_SUFFIXES = List.of(new Suffix(".lora_A.weight", Role.A),
            new Suffix(".lora_B.weight", Role.B), new Suffix(".lora.down.weight", Role.A),
            new Suffix(".lora.up.weight", Role.B), new Suffix(".alpha", Role.ALPHA));
    private static final List<Suffix> KOHYA_SUFFIXES = List.of(new Suffix(".lora_down.weight", Role.A),
            new Suffix(".lora_up.weight", Role.B), new Suffix(".alpha", Role.ALPHA));

    /** The tensors of one LoRA: base is the diffusers module (diffusers naming) or the BFL module (kohya naming). */
    private static final class Group {
        final String base;
        final String[] keys = new String[Role.values().length];

        Group(String base) {
            this.base = base;
        }

        String key(Role r) {
            return keys[r.ordinal()];
        }
    }

    private final TensorSource src;
    private final String where;
    private final List<String> warnings = new ArrayList<>();

    private LoraReader(TensorSource src) {
        this.src = src;
        this.where = src.describe();
    }

    static LoraSet read(Path file) {
        try (TensorSource src = SafetensorsFile.open(file)) {
            return new LoraReader(src).read();
        }
    }

    private LoraSet read() {
        Set<String> names = src.names();
        boolean kohya = names.stream().anyMatch(n -> n.startsWith(KOHYA_UNET) || n.startsWith(COMFY)
                || KOHYA_TEXT.stream().anyMatch(n::startsWith));
        boolean prefixed = names.stream().anyMatch(n -> n.startsWith(TRANSFORMER));
        List<String> textKeys = new ArrayList<>();
        Map<String, Group> groups = new LinkedHashMap<>();
        for (String n : names) {
            if ((kohya ? KOHYA_TEXT : DIFFUSERS_TEXT).stream().anyMatch(n::startsWith)) {
                textKeys.add(n);
                continue;
            }
            Suffix s = kohya ? kohyaSuffix(n) : diffusersSuffix(n, prefixed);
            String base = kohya ? kohyaBase(n, s) : diffusersBase(n, s, prefixed);
            Group g = groups.computeIfAbsent(base, Group::new);
            String previous = g.keys[s.role().ordinal()];
            if (previous != null) {
                throw err(n, "a second " + s.role() + " tensor for " + base + " (the first is '" + previous + "')");
            }
            g.keys[s.role().ordinal()] = n;
        }
        if (!textKeys.isEmpty()) {
            warnings.add(where + ": ignored " + textKeys.size() + " text-encoder LoRA tensor(s) such as '"
                    + textKeys.get(0) + "'; only the transformer is adapted");
        }
        if (groups.isEmpty()) {
            throw new LoraException(where + ": holds no FLUX transformer LoRA tensors" + (textKeys.isEmpty() ? ""
                    : " (only text-encoder ones)"));
        }
        List<LoraModule> modules = kohya ? kohyaModules(groups) : diffusersModules(groups, prefixed);
        return new LoraSet(where, kohya ? LoraSet.Format.KOHYA : LoraSet.Format.DIFFUSERS, modules, warnings);
    }

    // ---- naming ---------------------------------------------------------------------------------------------------

    private Suffix diffusersSuffix(String n, boolean prefixed) {
        if (prefixed && !n.startsWith(TRANSFORMER)) {
            throw err(n, "is neither a transformer LoRA tensor (transformer.<module>.lora_A.weight, .lora_B.weight,"
                    + " .alpha) nor a text-encoder one");
        }
        return suffix(n, DIFFUSERS_SUFFIXES, "<module>.lora_A.weight, .lora_B.weight or .alpha");
    }

    private String diffusersBase(String n, Suffix s, boolean prefixed) {
        String base = n.substring(prefixed ? TRANSFORMER.length() : 0, n.length() - s.text().length());
        if (!LoraTargets.isFluxLinear(base)) {
            throw err(n, "'" + base + "' is not a Linear of the FLUX transformer (diffusers naming)");
        }
        return base;
    }

    private Suffix kohyaSuffix(String n) {
        if (!n.startsWith(KOHYA_UNET) && !n.startsWith(COMFY)) {
            throw err(n, "is not a kohya/ComfyUI LoRA tensor (lora_unet_<name>.lora_down.weight, .lora_up.weight,"
                    + " .alpha, or diffusion_model.<BFL name>...), and this file uses kohya naming");
        }
        return suffix(n, KOHYA_SUFFIXES, "<name>.lora_down.weight, .lora_up.weight or .alpha");
    }

    /** The BFL module path of a kohya or ComfyUI tensor name. */
    private String kohyaBase(String n, Suffix s) {
        String stem = n.substring(0, n.length() - s.text().length());
        String bfl = stem.startsWith(KOHYA_UNET)
                ? LoraTargets.bflModuleOfKohya(stem.substring(KOHYA_UNET.length()))
                : stem.substring(COMFY.length());
        // A BFL path is valid when its underscored form maps back to it.
        if (bfl == null || !bfl.equals(LoraTargets.bflModuleOfKohya(bfl.replace('.', '_')))) {
            throw err(n, "'" + stem + "' is not a Linear of the FLUX transformer (BFL naming)");
        }
        return bfl;
    }

    private Suffix suffix(String n, List<Suffix> suffixes, String expected) {
        for (Suffix s : suffixes) {
            if (n.endsWith(s.text()) && n.length() > s.text().length()) {
                return s;
            }
        }
        if (n.contains("lora_magnitude_vector") || n.endsWith(".dora_scale")) {
            throw err(n, "DoRA adapters are not supported");
        }
        if (n.endsWith(".lora_B.bias") || n.endsWith(".lora_up.bias")) {
            throw err(n, "LoRA biases are not supported");
        }
        throw err(n, "is not a LoRA tensor (expected " + expected + ")");
    }

    // ---- tensors --------------------------------------------------------------------------------------------------

    /** A and B of a group, checked: both present, 2-D, float, same rank. */
    private Tensor[] factors(Group g, String nameA, String nameB) {
        String ka = g.key(Role.A);
        String kb = g.key(Role.B);
        if (ka == null || kb == null) {
            String have = ka != null ? ka : kb != null ? kb : g.key(Role.ALPHA);
            throw err(have, (ka == null ? nameA : nameB) + " for " + g.base + " is missing");
        }
        TensorInfo ia = matrix(ka, "[rank, in]");
        TensorInfo ib = matrix(kb, "[out, rank]");
        if (ia.dim(0) != ib.dim(1)) {
            throw err(ka, "shape " + Arrays.toString(ia.shape()) + " has rank " + ia.dim(0) + " but '" + kb + "' "
                    + Arrays.toString(ib.shape()) + " has rank " + ib.dim(1));
        }
        return new Tensor[]{Tensor.of(finite(ka), ia.shape()), Tensor.of(finite(kb), ib.shape())};
    }

    /** A factor with a NaN or infinity would turn every image it touches into NaN (a black PNG): refuse it here. */
    private float[] finite(String key) {
        Tensor t = src.tensor(key);
        String problem = Floats.nonFinite(t);
        if (problem != null) {
            throw err(key, problem + "; a LoRA must hold finite numbers");
        }
        return Floats.toF32(t);
    }

    private TensorInfo matrix(String key, String expected) {
        TensorInfo info = src.info(key);
        if (info.rank() != 2 || info.dim(0) == 0 || info.dim(1) == 0) {
            throw err(key, "expected a 2-D " + expected + " matrix, got shape " + Arrays.toString(info.shape()));
        }
        if (!info.dtype().isFloat()) {
            throw err(key, "expected a float tensor, got " + info.dtype());
        }
        return info;
    }

    /** The alpha tensor of a group, or null when it has none. */
    private Float alpha(Group g) {
        String key = g.key(Role.ALPHA);
        if (key == null) {
            return null;
        }
        TensorInfo info = src.info(key);
        if (info.numel() != 1 || info.rank() > 1) {
            throw err(key, "expected a 0-dim alpha, got shape " + Arrays.toString(info.shape()));
        }
        if (!info.dtype().isFloat()) {
            throw err(key, "alpha is an integer tensor (" + info.dtype() + "); diffusers rejects that, store a float");
        }
        float a = Floats.read(src.tensor(key).data(), info.dtype(), 0);
        if (!Float.isFinite(a)) {
            throw err(key, "alpha " + a + " is not finite");
        }
        return a;
    }

    // ---- diffusers / peft -----------------------------------------------------------------------------------------

    /**
     * Alpha as diffusers resolves it: alpha tensors (modules without one get the most common alpha, as
     * {@code get_peft_kwargs} does), else the peft config in the metadata, else alpha = rank.
     */
    private List<LoraModule> diffusersModules(Map<String, Group> groups, boolean prefixed) {
        Map<String, Float> alphas = new LinkedHashMap<>();
        for (Group g : groups.values()) {
            Float a = alpha(g);
            if (a != null) {
                alphas.put(g.base, a);
            }
        }
        PeftMetadata meta = PeftMetadata.of(src.metadata(), prefixed, where, warnings);
        Float common = null;
        if (!alphas.isEmpty()) {
            common = mostCommon(alphas);
            if (meta != null) {
                warnings.add(where + ": has both alpha tensors and __metadata__ " + PeftMetadata.KEY
                        + "; the alpha tensors are used (diffusers refuses such a file)");
            }
            if (alphas.size() < groups.size()) {
                warnings.add(where + ": " + (groups.size() - alphas.size()) + " module(s) have no alpha tensor and get"
                        + " the most common alpha " + common + " as in diffusers (ComfyUI would apply scale 1)");
            }
        }
        List<LoraModule> out = new ArrayList<>();
        for (Group g : groups.values()) {
            Tensor[] ab = factors(g, "lora_A", "lora_B");
            int rank = (int) ab[0].dim(0);
            float alpha;
            if (common != null) {
                alpha = alphas.getOrDefault(g.base, common);
            } else if (meta != null) {
                Integer declared = meta.rank(g.base);
                if (declared != null && declared != rank) {
                    throw err(g.key(Role.A), "rank " + rank + " but __metadata__ " + PeftMetadata.KEY
                            + " declares rank " + declared + " for " + g.base);
                }
                alpha = meta.alpha(g.base, rank);
            } else {
                alpha = rank;
            }
            out.add(new LoraModule(g.base, ab[0], ab[1], alpha, g.key(Role.A), g.key(Role.B)));
        }
        return out;
    }

    /** The most frequent value; ties go to the value seen first, like Python's Counter.most_common. */
    private static float mostCommon(Map<String, Float> alphas) {
        Map<Float, Integer> counts = new LinkedHashMap<>();
        alphas.values().forEach(a -> counts.merge(a, 1, Integer::sum));
        float best = 0;
        int bestCount = 0;
        for (Map.Entry<Float, Integer> e : counts.entrySet()) {
            if (e.getValue() > bestCount) {
                best = e.getKey();
                bestCount = e.getValue();
            }
        }
        return best;
    }

    // ---- kohya / ComfyUI ------------------------------------------------------------------------------------------

    private List<LoraModule> kohyaModules(Map<String, Group> groups) {
        List<LoraModule> out = new ArrayList<>();
        for (Group g : groups.values()) {
            Tensor[] ab = factors(g, "lora_down", "lora_up");
            int rank = (int) ab[0].dim(0);
            long in = ab[0].dim(1);
            Float a = alpha(g);
            float alpha = a == null ? rank : a;
            List<LoraTarget> parts;
            try {
                parts = LoraTargets.splitBfl(g.base, ab[1].dim(0), in);
            } catch (IllegalArgumentException e) {
                throw err(g.key(Role.B), e.getMessage());
            }
            if (g.base.startsWith("final_layer.") && alpha != rank) {
                warnings.add(where + ": '" + g.key(Role.ALPHA) + "': applying alpha/rank = " + alpha / rank
                        + " as kohya and ComfyUI do; diffusers ignores final_layer alphas (scale 1)");
            }
            float[] down = Floats.toF32(ab[0]);
            float[] up = Floats.toF32(ab[1]);
            for (LoraTarget t : parts) {
                float[] b = new float[Math.toIntExact(t.out() * rank)];
                for (long r = 0; r < t.out(); r++) {
                    System.arraycopy(up, (int) (t.bflRow(r) * rank), b, (int) (r * rank), rank);
                }
                out.add(new LoraModule(t.module(), Tensor.of(down.clone(), rank, in), Tensor.of(b, t.out(), rank),
                        alpha, g.key(Role.A), g.key(Role.B)));
            }
        }
        return out;
    }

    private LoraException err(String tensor, String what) {
        return new LoraException(where + ": tensor '" + tensor + "': " + what);
    }
}
