package dev.fluxerase.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fluxerase.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A sharded checkpoint: a {@code *.safetensors.index.json} ({@code {"metadata": {...}, "weight_map": {tensor: shard}}})
 * whose shards sit next to it. Each shard is mapped once; the tensors are exactly those the weight map lists.
 */
public final class ShardedSafetensors implements TensorSource {
    private final Path index;
    private final List<SafetensorsFile> shards;
    private final Map<String, SafetensorsFile> owner;
    private final Map<String, String> metadata;

    private ShardedSafetensors(Path index, List<SafetensorsFile> shards, Map<String, SafetensorsFile> owner,
                               Map<String, String> metadata) {
        this.index = index;
        this.shards = shards;
        this.owner = owner;
        this.metadata = metadata;
    }

    public static ShardedSafetensors open(Path index) {
        JsonNode root;
        try {
            root = Header.JSON.readTree(Files.readAllBytes(index));
        } catch (NoSuchFileException e) {
            throw new SafetensorsException(index + ": no such file");
        } catch (IOException e) {
            throw new SafetensorsException(index + ": not a readable JSON index: " + firstLine(e.getMessage()), e);
        }
        if (root == null || !root.isObject()) {
            throw new SafetensorsException(index + ": index is not a JSON object, expected an object, got "
                    + Header.kind(root));
        }
        JsonNode weightMap = root.get("weight_map");
        if (weightMap == null || !weightMap.isObject()) {
            throw new SafetensorsException(index + ": index has no weight_map object, expected an object, got "
                    + Header.kind(weightMap));
        }
        // shard file -> tensors it should hold, shards in file-name order (the -0000N-of-0000M numbering)
        Map<String, List<String>> byShard = new TreeMap<>();
        for (Map.Entry<String, JsonNode> e : weightMap.properties()) {
            if (!e.getValue().isTextual()) {
                throw SafetensorsException.tensor(index, e.getKey(), "weight_map value is not a shard file name",
                        "a string", Header.kind(e.getValue()));
            }
            byShard.computeIfAbsent(e.getValue().textValue(), k -> new ArrayList<>()).add(e.getKey());
        }
        Path folder = index.toAbsolutePath().getParent();
        List<SafetensorsFile> shards = new ArrayList<>();
        try {
            Map<String, SafetensorsFile> owner = new LinkedHashMap<>();
            for (Map.Entry<String, List<String>> e : byShard.entrySet()) {
                Path shardPath = folder.resolve(e.getKey());
                if (!Files.isRegularFile(shardPath)) {
                    throw new SafetensorsException(index + ": shard '" + e.getKey() + "' is missing, expected file "
                            + shardPath + " (listed for " + e.getValue().size() + " tensors, e.g. '" + e.getValue().get(0)
                            + "')");
                }
                SafetensorsFile shard = SafetensorsFile.open(shardPath);
                shards.add(shard);
                Set<String> listed = new LinkedHashSet<>(e.getValue());
                for (String name : listed) {
                    if (!shard.contains(name)) {
                        throw new SafetensorsException(index + ": tensor '" + name + "': listed in weight_map for shard '"
                                + e.getKey() + "', but that file does not contain it");
                    }
                }
                for (String name : shard.names()) {
                    if (listed.contains(name)) {
                        owner.put(name, shard);
                    }
                }
            }
            return new ShardedSafetensors(index, List.copyOf(shards), Collections.unmodifiableMap(owner),
                    metadata(root.get("metadata")));
        } catch (RuntimeException e) {
            shards.forEach(SafetensorsFile::close);
            throw e;
        }
    }

    /** HF writes numbers here (total_size); scalars are kept as text, anything else as its JSON. */
    private static Map<String, String> metadata(JsonNode node) {
        if (node == null || !node.isObject()) {
            return Map.of();
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            JsonNode v = e.getValue();
            out.put(e.getKey(), v.isValueNode() ? v.asText() : v.toString());
        }
        return Collections.unmodifiableMap(out);
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    public List<Path> shardPaths() {
        return shards.stream().map(SafetensorsFile::path).toList();
    }

    @Override
    public Set<String> names() {
        return owner.keySet();
    }

    @Override
    public boolean contains(String name) {
        return owner.containsKey(name);
    }

    @Override
    public TensorInfo info(String name) {
        return shardOf(name).info(name);
    }

    @Override
    public Tensor tensor(String name) {
        return shardOf(name).tensor(name);
    }

    private SafetensorsFile shardOf(String name) {
        SafetensorsFile shard = owner.get(name);
        if (shard == null) {
            throw new SafetensorsException(index + ": tensor '" + name + "': not in this checkpoint (" + owner.size()
                    + " tensors)");
        }
        return shard;
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public String describe() {
        return index.toString();
    }

    @Override
    public void close() {
        shards.forEach(SafetensorsFile::close);
    }
}
