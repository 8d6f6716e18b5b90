package dev.fluxerase.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.safetensors.CheckpointKind;
import dev.fluxerase.safetensors.Safetensors;
import dev.fluxerase.safetensors.ShardedSafetensors;
import dev.fluxerase.safetensors.TensorInfo;
import dev.fluxerase.safetensors.TensorSource;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Locale;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/** {@code flux-erase inspect}: what is in a safetensors checkpoint, and what kind of checkpoint it is. */
@Command(name = "inspect", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
                "List the tensors of a safetensors checkpoint (name, dtype, shape), then totals, the header metadata and "
                        + "the detected kind: BFL or diffusers FLUX transformer (depth, single depth, hidden size read "
                        + "from shapes), diffusers/peft or kohya LoRA (rank, target modules, blocks covered, alpha), or "
                        + "other.",
                "Only the header is read; tensor data stays on disk (except LoRA alpha scalars)."},
        footer = {"", "Examples:",
                "  flux-erase inspect pytorch_lora_weights.safetensors",
                "  flux-erase inspect FLUX.1-dev/transformer --limit 20",
                "  flux-erase inspect flux1-dev.safetensors --json > flux1-dev.json"})
public final class InspectCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "CHECKPOINT",
            description = "A .safetensors file, a sharded checkpoint's *.safetensors.index.json, or a folder holding "
                    + "one such index or exactly one .safetensors file (e.g. a diffusers transformer/ folder).")
    Path path;

    @Option(names = "--json", description = "Print one JSON object (tensors, totals, metadata, kind) instead of text.")
    boolean json;

    @Option(names = "--limit", paramLabel = "N",
            description = "List at most N tensors (default: all). Totals and the kind always cover every tensor.")
    Integer limit;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if (limit != null && limit < 0) {
            throw new IllegalArgumentException("--limit must be zero or more, got " + limit);
        }
        try (TensorSource src = Safetensors.open(path)) {
            Report r = Report.of(src, limit == null ? Integer.MAX_VALUE : limit);
            PrintWriter out = spec.commandLine().getOut();
            out.print(json ? r.json() : r.text());
            out.flush();
        }
        return 0;
    }

    /** Everything inspect prints, gathered once and rendered as text or JSON. */
    record Report(String path, int shards, List<TensorInfo> shown, long tensors, long parameters, long bytes,
                  Map<String, String> metadata, CheckpointKind kind) {

        private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

        static Report of(TensorSource src, int limit) {
            long params = 0;
            long bytes = 0;
            List<TensorInfo> shown = new ArrayList<>();
            for (String name : src.names()) {
                TensorInfo info = src.info(name);
                params += info.numel();
                bytes += info.byteSize();
                if (shown.size() < limit) {
                    shown.add(info);
                }
            }
            int shards = src instanceof ShardedSafetensors s ? s.shardPaths().size() : 1;
            return new Report(src.describe(), shards, shown, src.names().size(), params, bytes, src.metadata(),
                    CheckpointKind.detect(src));
        }

        String text() {
            StringBuilder sb = new StringBuilder();
            sb.append(path).append(shards > 1 ? " (" + shards + " shards)" : "").append('\n');
            int nameWidth = shown.stream().mapToInt(t -> t.name().length()).max().orElse(0);
            for (TensorInfo t : shown) {
                sb.append("  ").append(t.name()).append(" ".repeat(nameWidth - t.name().length()))
                        .append("  ").append(String.format(Locale.ROOT, "%-7s", t.dtype())).append(' ')
                        .append(Arrays.toString(t.shape())).append('\n');
            }
            if (shown.size() < tensors) {
                sb.append("  ... ").append(tensors - shown.size()).append(" more (raise --limit to list them)\n");
            }
            sb.append(String.format(Locale.ROOT, "tensors: %d, parameters: %,d, bytes: %,d (%s)%n", tensors, parameters, bytes,
                    human(bytes)));
            sb.append("metadata:").append(metadata.isEmpty() ? " none" : "").append('\n');
            metadata.forEach((k, v) -> sb.append("  ").append(k).append(": ").append(v.replace('\n', ' ')).append('\n'));
            sb.append("kind: ").append(kind.label()).append('\n');
            kind.facts().forEach((k, v) -> sb.append("  ").append(k.replace('_', ' ')).append(": ").append(show(v))
                    .append('\n'));
            return sb.toString();
        }

        String json() {
            ObjectNode root = JSON.createObjectNode();
            root.put("path", path);
            if (shards > 1) {
                root.put("shards", shards);
            }
            ArrayNode list = root.putArray("tensors");
            for (TensorInfo t : shown) {
                ObjectNode o = list.addObject();
                o.put("name", t.name());
                o.put("dtype", t.dtype().name());
                ArrayNode shape = o.putArray("shape");
                Arrays.stream(t.shape()).forEach(shape::add);
            }
            ObjectNode totals = root.putObject("totals");
            totals.put("tensors", tensors);
            totals.put("listed", shown.size());
            totals.put("parameters", parameters);
            totals.put("bytes", bytes);
            ObjectNode meta = root.putObject("metadata");
            metadata.forEach(meta::put);
            ObjectNode k = root.putObject("kind");
            k.put("name", kind.label());
            kind.facts().forEach((key, v) -> k.set(key, JSON.valueToTree(v)));
            try {
                return JSON.writeValueAsString(root) + System.lineSeparator();
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("cannot encode the report: " + e.getOriginalMessage(), e);
            }
        }

        private static String show(Object v) {
            if (v instanceof Boolean b) {
                return b ? "yes" : "no";
            }
            if (v instanceof List<?> l) {
                return l.isEmpty() ? "none" : l.stream().map(String::valueOf).collect(Collectors.joining(", "));
            }
            if (v instanceof Map<?, ?> m) {
                return m.isEmpty() ? "none" : m.entrySet().stream().map(e -> e.getKey() + " " + e.getValue())
                        .collect(Collectors.joining(", "));
            }
            return String.valueOf(v);
        }

        private static String human(long bytes) {
            String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
            double v = bytes;
            int u = 0;
            while (v >= 1024 && u < units.length - 1) {
                v /= 1024;
                u++;
            }
            return u == 0 ? bytes + " B" : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
        }
    }
}
