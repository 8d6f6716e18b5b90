package dev.fluxerase.safetensors;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.Resources;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsFileTest {
    @TempDir
    Path dir;

    static Path lora() {
        return Resources.path("lora/eraseanything-nudity-lora.safetensors");
    }

    static Tensor randomTensor(DType dtype, Random rnd, long... shape) {
        long bytes = Tensor.numel(shape) * dtype.byteSize();
        byte[] b = new byte[(int) bytes];
        rnd.nextBytes(b);
        return Tensor.wrap(dtype, MemorySegment.ofArray(b), shape);
    }

    static byte[] bytes(Tensor t) {
        return t.data().toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void everyDtypeRoundTripsByteForByte() {
        Random rnd = new Random(7);
        Map<String, Tensor> in = new LinkedHashMap<>();
        long[][] shapes = {{3, 5}, {7}, {2, 3, 4}, {}, {0, 4}, {1, 1, 3}, {9}, {4, 2}};
        int i = 0;
        for (DType d : DType.values()) {
            in.put("t." + d.name().toLowerCase(), randomTensor(d, rnd, shapes[i++ % shapes.length]));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("note", "ünïcode ✓");
        Path f = dir.resolve("all.safetensors");
        SafetensorsWriter.write(f, in, meta);
        try (SafetensorsFile s = SafetensorsFile.open(f)) {
            assertEquals(List.copyOf(in.keySet()), List.copyOf(s.names()));
            assertEquals(meta, s.metadata());
            for (Map.Entry<String, Tensor> e : in.entrySet()) {
                Tensor t = s.tensor(e.getKey());
                assertEquals(e.getValue().dtype(), t.dtype(), e.getKey());
                assertArrayEquals(e.getValue().shape(), t.shape(), e.getKey());
                assertArrayEquals(bytes(e.getValue()), bytes(t), e.getKey());
                assertEquals(t.byteSize(), s.info(e.getKey()).byteSize());
            }
        }
    }

    @Test
    void writerLayoutIsPaddedContiguousAndMetadataFirst() throws Exception {
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("b", Tensor.of(new float[]{1, 2, 3}, 3));
        in.put("a", Tensor.of(new float[]{-1.5f}, 1));
        Path f = dir.resolve("x.safetensors");
        SafetensorsWriter.write(f, in, Map.of("format", "pt"));
        byte[] all = Files.readAllBytes(f);
        long n = MemorySegment.ofArray(all).get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
        assertEquals(0, n % 8);
        String header = new String(all, 8, (int) n, java.nio.charset.StandardCharsets.UTF_8);
        assertEquals("{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", header.stripTrailing());
        assertTrue(header.substring(header.stripTrailing().length()).chars().allMatch(c -> c == ' '));
        assertEquals(8 + n + 16, all.length);
        // little-endian f32 data right after the header
        assertEquals(0x3f800000, MemorySegment.ofArray(all).get(ValueLayout.JAVA_INT_UNALIGNED
                .withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 8 + n));
        assertEquals(-1.5f, MemorySegment.ofArray(all).get(ValueLayout.JAVA_FLOAT_UNALIGNED
                .withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 8 + n + 12));
    }

    @Test
    void emptyMetadataIsOmitted() throws Exception {
        Path f = dir.resolve("e.safetensors");
        SafetensorsWriter.write(f, Map.of("x", Tensor.of(new float[]{1}, 1)), Map.of());
        String all = new String(Files.readAllBytes(f), java.nio.charset.StandardCharsets.UTF_8);
        assertFalse(all.contains("__metadata__"));
        try (SafetensorsFile s = SafetensorsFile.open(f)) {
            assertTrue(s.metadata().isEmpty());
        }
    }

    @Test
    void readsTheEraseAnythingLora() {
        try (SafetensorsFile s = SafetensorsFile.open(lora())) {
            assertEquals(76, s.names().size());
            assertEquals(Map.of("format", "pt"), s.metadata());
            String first = "transformer.transformer_blocks.0.attn.add_k_proj.lora_A.weight";
            assertEquals(first, s.names().iterator().next());
            TensorInfo info = s.info(first);
            assertEquals(DType.BF16, info.dtype());
            assertArrayEquals(new long[]{8, 3072}, info.shape());
            assertEquals(0, info.begin());
            assertEquals(49152, info.end());
            // first elements read with Python's struct module: 0xbdcd 0xbd2c 0xbdea 0x3dd8 (bf16 bit patterns)
            float[] v = Floats.toF32(s.tensor(first));
            assertEquals(Float.intBitsToFloat(0xbdcd0000), v[0]);
            assertEquals(-0.10009765625f, v[0]);
            assertEquals(Float.intBitsToFloat(0xbd2c0000), v[1]);
            assertEquals(Float.intBitsToFloat(0xbdea0000), v[2]);
            assertEquals(Float.intBitsToFloat(0x3dd80000), v[3]);
            long previousEnd = 0;
            for (String name : s.names()) {
                assertEquals(previousEnd, s.info(name).begin(), name);
                previousEnd = s.info(name).end();
            }
            assertEquals(3_735_552, previousEnd);
        }
    }

    @Test
    void namesFollowDataOrderNotHeaderOrder() {
        Path f = RawFiles.write(dir.resolve("o.safetensors"),
                "{\"z\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[3,5]},"
                        + "\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
                        + "\"m\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[5,5]}}", 5);
        try (SafetensorsFile s = SafetensorsFile.open(f)) {
            assertEquals(List.of("a", "z", "m"), List.copyOf(s.names()));
        }
    }

    @Test
    void tensorsAreSlicesOfTheMappingNotCopies() {
        try (SafetensorsFile s = SafetensorsFile.open(lora())) {
            Tensor t = s.tensor(s.names().iterator().next());
            assertTrue(t.data().isMapped());
            assertTrue(t.data().isNative());
            assertTrue(t.data().isReadOnly());
        }
    }

    @Test
    void closedSourceRefusesTensors() {
        SafetensorsFile s = SafetensorsFile.open(lora());
        String name = s.names().iterator().next();
        Tensor t = s.tensor(name);
        s.close();
        s.close();
        assertThrows(IllegalStateException.class, () -> s.tensor(name));
        assertThrows(IllegalStateException.class, () -> Floats.toF32(t));
    }

    @Test
    void unknownTensorNamesTheFile() {
        try (SafetensorsFile s = SafetensorsFile.open(lora())) {
            SafetensorsException e = assertThrows(SafetensorsException.class, () -> s.info("nope"));
            assertTrue(e.getMessage().contains("eraseanything-nudity-lora.safetensors: tensor 'nope'"), e.getMessage());
        }
    }

    @Test
    void largeHeaderOfManyTensorsOpensFast() {
        Map<String, Tensor> in = new LinkedHashMap<>();
        for (int i = 0; i < 2000; i++) {
            in.put("double_blocks." + i + ".img_attn.qkv.weight", Tensor.of(new float[]{i, i + 1}, 2));
        }
        Path f = dir.resolve("many.safetensors");
        SafetensorsWriter.write(f, in, Map.of());
        long t0 = System.nanoTime();
        try (SafetensorsFile s = SafetensorsFile.open(f)) {
            assertEquals(2000, s.names().size());
            assertEquals(1999f, s.tensor("double_blocks.1999.img_attn.qkv.weight").get(0));
        }
        assertTrue(System.nanoTime() - t0 < 2_000_000_000L, "opening a 2000-tensor header took over 2 s");
    }

    /** A sparse 2.5 GB file: one mapping, no 2 GB limit, and a tensor that starts past 2^31. */
    @Test
    void filesLargerThanTwoGigabytesMapWhole() throws Exception {
        long big = 2_500_000_000L;
        String header = "{\"small\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
                + "\"big\":{\"dtype\":\"U8\",\"shape\":[" + big + "],\"data_offsets\":[8," + (8 + big) + "]}}";
        Path f = RawFiles.write(dir.resolve("big.safetensors"), header, 0);
        long dataStart = Files.size(f);
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(dataStart + 8 + big);
            raf.seek(dataStart + 8 + big - 1);
            raf.write(0x5a);
        }
        try (SafetensorsFile s = SafetensorsFile.open(f)) {
            Tensor t = s.tensor("big");
            assertEquals(big, t.numel());
            assertEquals((byte) 0x5a, t.data().get(ValueLayout.JAVA_BYTE, big - 1));
            assertEquals((byte) 0, t.data().get(ValueLayout.JAVA_BYTE, big - 2));
        }
    }

    @Test
    void nativeSegmentsAreWrittenToo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(8);
            seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED, 0, 3.25f);
            seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED, 4, -7f);
            Path f = dir.resolve("n.safetensors");
            SafetensorsWriter.write(f, Map.of("n", Tensor.wrap(DType.F32, seg, 2)), Map.of());
            try (SafetensorsFile s = SafetensorsFile.open(f)) {
                assertArrayEquals(new float[]{3.25f, -7f}, Floats.toF32(s.tensor("n")));
            }
        }
    }
}
