package dev.fluxerase.safetensors;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Parsing and validation of a safetensors JSON header against the size of the data area that follows it. */
final class Header {
    static final String METADATA_KEY = "__metadata__";

    /** Duplicate names would silently shadow a tensor, and junk after the object means a wrong header length. */
    static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    final Map<String, TensorInfo> tensors;
    final Map<String, String> metadata;

    private Header(Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Tensors come back in data order (by begin offset), which is how writers lay them out. */
    static Header parse(Object file, byte[] json, long dataSize) {
        JsonNode root = readJson(file, json);
        if (!root.isObject()) {
            throw SafetensorsException.header(file, "not a JSON object, expected an object, got " + kind(root));
        }
        Map<String, String> metadata = Map.of();
        List<TensorInfo> infos = new ArrayList<>(root.size());
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            if (e.getKey().equals(METADATA_KEY)) {
                metadata = stringMap(file, e.getValue());
            } else {
                infos.add(entry(file, e.getKey(), e.getValue(), dataSize));
            }
        }
        infos.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        TensorInfo previous = null;
        for (TensorInfo t : infos) {
            // zero-length tensors occupy no bytes and so overlap nothing
            if (previous != null && t.begin() < previous.end() && t.end() > t.begin()) {
                throw SafetensorsException.tensor(file, t.name(), "data_offsets [" + t.begin() + ", " + t.end()
                        + "] overlap tensor '" + previous.name() + "' [" + previous.begin() + ", " + previous.end() + "]",
                        "begin >= " + previous.end(), t.begin());
            }
            if (previous == null || t.end() > previous.end()) {
                previous = t;
            }
        }
        Map<String, TensorInfo> byName = new LinkedHashMap<>();
        for (TensorInfo t : infos) {
            byName.put(t.name(), t);
        }
        return new Header(Collections.unmodifiableMap(byName), metadata);
    }

    private static JsonNode readJson(Object file, byte[] json) {
        try {
            JsonNode root = JSON.readTree(json);
            if (root == null || root.isMissingNode()) {
                throw SafetensorsException.header(file, "empty, expected a JSON object, got only whitespace");
            }
            return root;
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? "" : " at column " + e.getLocation().getColumnNr();
            throw new SafetensorsException(file + ": header: invalid JSON" + where + ": "
                    + String.valueOf(e.getOriginalMessage()).replace('\n', ' '), e);
        } catch (java.io.IOException e) {
            throw new SafetensorsException(file + ": header: " + e.getMessage(), e);
        }
    }

    private static Map<String, String> stringMap(Object file, JsonNode node) {
        if (!node.isObject()) {
            throw SafetensorsException.header(file, METADATA_KEY + " is not an object, expected an object of strings, got "
                    + kind(node));
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!e.getValue().isTextual()) {
                throw SafetensorsException.header(file, METADATA_KEY + " value of '" + e.getKey()
                        + "' is not a string, expected a string, got " + kind(e.getValue()));
            }
            out.put(e.getKey(), e.getValue().textValue());
        }
        return Collections.unmodifiableMap(out);
    }

    private static TensorInfo entry(Object file, String name, JsonNode node, long dataSize) {
        if (!node.isObject()) {
            throw SafetensorsException.tensor(file, name, "entry is not an object",
                    "{\"dtype\", \"shape\", \"data_offsets\"}", kind(node));
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw SafetensorsException.tensor(file, name, "dtype is not a string", "a string", kind(dtypeNode));
        }
        DType dtype = DType.fromName(dtypeNode.textValue());
        if (dtype == null) {
            throw SafetensorsException.tensor(file, name, "unknown dtype", "one of " + Arrays.toString(DType.values()),
                    dtypeNode.textValue());
        }
        long[] shape = integers(file, name, "shape", node.get("shape"), -1);
        long[] offsets = integers(file, name, "data_offsets", node.get("data_offsets"), 2);
        long begin = offsets[0];
        long end = offsets[1];
        if (begin > end) {
            throw SafetensorsException.tensor(file, name, "data_offsets begin after end", "begin <= end",
                    "[" + begin + ", " + end + "]");
        }
        if (end > dataSize) {
            throw SafetensorsException.tensor(file, name, "data_offsets [" + begin + ", " + end
                    + "] past the end of the data area (truncated file?)", "end <= " + dataSize, end);
        }
        long need;
        try {
            need = Math.multiplyExact(Tensor.numel(shape), dtype.byteSize());
        } catch (ArithmeticException e) {
            throw SafetensorsException.tensor(file, name, "shape " + Arrays.toString(shape) + " overflows",
                    "at most " + Long.MAX_VALUE + " bytes", "more");
        }
        if (need != end - begin) {
            throw SafetensorsException.tensor(file, name, "byte size does not match shape " + Arrays.toString(shape)
                    + " of " + dtype, need + " bytes", (end - begin) + " bytes");
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    /** A JSON array of non-negative integers; length -1 accepts any length. */
    private static long[] integers(Object file, String name, String field, JsonNode node, int length) {
        String expected = length < 0 ? "an array of non-negative integers"
                : "an array of " + length + " non-negative integers";
        if (node == null || !node.isArray() || (length >= 0 && node.size() != length)) {
            throw SafetensorsException.tensor(file, name, field + " is malformed", expected,
                    node == null ? "nothing" : node.toString());
        }
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw SafetensorsException.tensor(file, name, field + " is malformed", expected, node.toString());
            }
            out[i] = v.longValue();
        }
        return out;
    }

    static String kind(JsonNode node) {
        return node == null ? "nothing" : node.getNodeType().name().toLowerCase(Locale.ROOT);
    }
}
