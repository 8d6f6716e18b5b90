package dev.fluxerase.pipeline;

import dev.fluxerase.flux.FluxLayout;
import dev.fluxerase.flux.FluxWeights;
import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.SafetensorsWriter;
import dev.fluxerase.safetensors.TensorSource;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.vae.VaeWeights;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Builds model folders for tests out of the tiny pipeline: symlinked layouts, hub caches, BFL single files. */
final class Folders {
    static final List<String> SUBFOLDERS = List.of("transformer", "text_encoder", "text_encoder_2", "tokenizer",
            "tokenizer_2", "vae", "scheduler");

    private Folders() {
    }

    /** A folder at {@code dir} whose entries are symlinks to the tiny model's, except those in {@code skip}. */
    static Path linked(Path dir, List<String> skip) {
        try {
            Files.createDirectories(dir);
            Files.createSymbolicLink(dir.resolve("model_index.json"), Tiny.MODEL.resolve("model_index.json"));
            for (String s : SUBFOLDERS) {
                if (!skip.contains(s)) {
                    Files.createSymbolicLink(dir.resolve(s), Tiny.MODEL.resolve(s));
                }
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A hub cache entry for {@code repo} under {@code cache}: blobs/ holding the files, snapshots/&lt;hash&gt;/ mirroring the
     * tiny folder with symlinks into blobs/ (as huggingface_hub lays it out), and refs/main naming {@code hash} when
     * {@code ref} is set.
     */
    static Path hubEntry(Path cache, String repo, String hash, boolean ref) {
        try {
            Path repoDir = cache.resolve("models--" + repo.replace("/", "--"));
            Path blobs = Files.createDirectories(repoDir.resolve("blobs"));
            Path snap = Files.createDirectories(repoDir.resolve("snapshots").resolve(hash));
            try (var s = Files.walk(Tiny.MODEL)) {
                for (Path p : s.filter(Files::isRegularFile).toList()) {
                    Path rel = Tiny.MODEL.relativize(p);
                    Path blob = blobs.resolve(Integer.toHexString(rel.toString().hashCode()) + hash.substring(0, 4));
                    if (!Files.exists(blob)) {
                        Files.createSymbolicLink(blob, p);
                    }
                    Path link = snap.resolve(rel.toString());
                    Files.createDirectories(link.getParent());
                    Files.createSymbolicLink(link, link.getParent().relativize(blob));
                }
            }
            if (ref) {
                Files.createDirectories(repoDir.resolve("refs"));
                Files.writeString(repoDir.resolve("refs").resolve("main"), hash + "\n");
            }
            return snap;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Deletes every symlink under {@code dir} (not following them), so that JUnit's temp-dir cleanup meets none that
     * points outside.
     */
    static void removeLinks(Path dir) {
        try (var s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isSymbolicLink).toList()) {
                Files.delete(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The tiny transformer in BFL naming as one BF16 file (the same values, so the same model). */
    static void bflTransformer(Path out) {
        try (FluxWeights w = FluxWeights.open(Tiny.MODEL.resolve("transformer"), null)) {
            FluxLayout layout = FluxLayout.of(w.config());
            Map<String, long[]> shapes = layout.fileTensors(FluxLayout.Naming.BFL);
            Map<String, float[]> buffers = new LinkedHashMap<>();
            shapes.forEach((n, s) -> buffers.put(n, new float[Math.toIntExact(Tensor.numel(s))]));
            for (FluxLayout.Param p : layout.params()) {
                FluxLayout.Slot slot = p.slot(FluxLayout.Naming.BFL);
                long[] shape = shapes.get(slot.tensor());
                long rowSize = Tensor.numel(shape) / shape[0];
                float[] v = Floats.toF32(w.tensor(p.name()));
                System.arraycopy(v, 0, buffers.get(slot.tensor()), Math.toIntExact(slot.row() * rowSize), v.length);
            }
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            buffers.forEach((n, v) -> tensors.put(n, bf16(v, shapes.get(n))));
            SafetensorsWriter.write(out, tensors, Map.of());
        }
    }

    /** The tiny VAE in BFL naming (ae.safetensors layout: attention projections as 1x1 convs). */
    static void bflVae(Path out) {
        try (TensorSource s = Safetensors.open(Tiny.MODEL.resolve("vae"))) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (String n : s.names()) {
                Tensor t = s.tensor(n);
                String bfl = VaeWeights.bflName(n, 2);
                if (bfl.contains(".attn_1.") && bfl.endsWith(".weight") && t.rank() == 2) {
                    t = t.view(t.dim(0), t.dim(1), 1, 1);
                }
                tensors.put(bfl, t);
            }
            SafetensorsWriter.write(out, tensors, Map.of());
        }
    }

    private static Tensor bf16(float[] v, long[] shape) {
        MemorySegment seg = MemorySegment.ofArray(new short[v.length]);
        for (int i = 0; i < v.length; i++) {
            seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Floats.f32ToBf16(v[i]));
        }
        return Tensor.wrap(DType.BF16, seg, shape);
    }
}
