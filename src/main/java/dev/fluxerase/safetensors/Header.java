package dev.fluxerase.safetensors;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
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

    /**
     * Tensors come back in data order (by begin offset), which is how writers lay them out. As the format's own reader
     * requires: the header is strict UTF-8 starting with '{' (trailing spaces pad it), and the tensors cover the data
     * area exactly, in order, without gaps or overlaps, so that a header length that is off by a few bytes, or bytes
     * that no tensor owns, are refused instead of read shifted.
     */
    static Header parse(Object file, byte[] json, long dataSize) {
        JsonNode root = readJson(file, utf8(file, json));
        if (!root.isObject()) {
            throw SafetensorsException.header(file, "not a JSON object, expected an object, got " + kind(root));
        }
        if (json[0] != '{') {
            throw SafetensorsException.header(file, "has whitespace before its '{', expected '{' as the first byte");
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
        long covered = 0;
        for (TensorInfo t : infos) {
            // zero-length tensors occupy no bytes and so overlap nothing
            if (previous != null && t.begin() < previous.end() && t.end() > t.begin()) {
                throw SafetensorsException.tensor(file, t.name(), "data_offsets [" + t.begin() + ", " + t.end()
                        + "] overlap tensor '" + previous.name() + "' [" + previous.begin() + ", " + previous.end() + "]",
                        "begin >= " + previous.end(), t.begin());
            }
            if (t.begin() != covered) {
                throw SafetensorsException.tensor(file, t.name(), "data_offsets [" + t.begin() + ", " + t.end()
                        + "] leave bytes " + covered + ".." + t.begin() + " of the data area to no tensor",
                        "begin " + covered, t.begin());
            }
            covered = t.end();
            if (previous == null || t.end() > previous.end()) {
                previous = t;
            }
        }
        if (covered != dataSize) {
            throw SafetensorsException.header(file, "the tensors cover " + covered + " bytes of the " + dataSize
                    + "-byte data area (a wrong header length, or bytes after the last tensor), expected " + dataSize
                    + ", got " + covered);
        }
        Map<String, TensorInfo> byName = new LinkedHashMap<>();
        for (TensorInfo t : infos) {
            byName.put(t.name(), t);
        }
        return new Header(Collections.unmodifiableMap(byName), metadata);
    }

    /**
     * The header's text: strict UTF-8 (no byte-order mark, no NUL, no overlong forms, surrogates or code points past
     * U+10FFFF); whether it starts with '{' is checked once it has parsed, so that other JSON gets its own message.
     */
    private static String utf8(Object file, byte[] json) {
        int b0 = json.length > 0 ? json[0] & 0xff : -1;
        if (b0 == 0xef || b0 == 0xfe || b0 == 0xff) {
            throw SafetensorsException.header(file, String.format(Locale.ROOT, "starts with byte 0x%02x (a byte-order "
                    + "mark?), expected UTF-8 JSON starting with '{'", b0));
        }
        for (byte b : json) {
            if (b == 0) {
                throw SafetensorsException.header(file, "contains NUL bytes (UTF-16 or UTF-32?), expected UTF-8 JSON");
            }
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(json)).toString();
        } catch (CharacterCodingException e) {
            throw SafetensorsException.header(file, "is not valid UTF-8 (" + e.getMessage() + "), expected UTF-8 JSON");
        }
    }

    private static JsonNode readJson(Object file, String json) {
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
