package dev.fluxerase.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Device;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Resources;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/** Test helpers: resources, random tensors, and an independent reading of a safetensors header and its raw values. */
final class LoraFiles {
    private LoraFiles() {
    }

    static Path resource(String name) {
        return Resources.path("lora/" + name);
    }

    static Tensor random(Random rng, long... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rng.nextGaussian();
        }
        return Tensor.of(v, shape);
    }

    static Tensor scalar(float v) {
        return Tensor.of(new float[]{v});
    }

    static Tensor longScalar(long v) {
        return new Tensor(Device.CPU, DType.I64, new long[0], MemorySegment.ofArray(new long[]{v}));
    }

    /** The JSON header of a safetensors file, parsed here without the project's reader. */
    static JsonNode header(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return new ObjectMapper().readTree(new String(all, 8, (int) n, java.nio.charset.StandardCharsets.UTF_8));
    }

    /** The values of one tensor (F64, F32 or BF16) decoded here from the raw bytes. */
    static double[] raw(Path file, String name) throws IOException {
        byte[] all = Files.readAllBytes(file);
        ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        long n = b.getLong(0);
        JsonNode e = new ObjectMapper().readTree(new String(all, 8, (int) n, java.nio.charset.StandardCharsets.UTF_8))
                .get(name);
        int begin = (int) (8 + n + e.get("data_offsets").get(0).asLong());
        int end = (int) (8 + n + e.get("data_offsets").get(1).asLong());
        String dtype = e.get("dtype").asText();
        int size = switch (dtype) {
            case "F64" -> 8;
            case "F32" -> 4;
            case "BF16" -> 2;
            default -> throw new IllegalArgumentException(dtype);
        };
        double[] out = new double[(end - begin) / size];
        for (int i = 0; i < out.length; i++) {
            int at = begin + i * size;
            out[i] = switch (size) {
                case 8 -> b.getDouble(at);
                case 4 -> b.getFloat(at);
                default -> Float.intBitsToFloat((b.getShort(at) & 0xffff) << 16);
            };
        }
        return out;
    }
}
