package dev.fluxerase.image;

import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PngWriteTest {

    private record Chunk(String type, byte[] data, int storedCrc) {
    }

    /** Walks the chunks after the signature, checking each CRC on its own; the file must end right after IEND. */
    private static List<Chunk> chunks(byte[] png) {
        assertArrayEquals(new byte[]{(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, Arrays.copyOf(png, 8));
        ByteBuffer b = ByteBuffer.wrap(png, 8, png.length - 8);
        List<Chunk> out = new ArrayList<>();
        while (b.hasRemaining()) {
            int len = b.getInt();
            byte[] type = new byte[4];
            b.get(type);
            byte[] data = new byte[len];
            b.get(data);
            int stored = b.getInt();
            CRC32 crc = new CRC32();
            crc.update(type);
            crc.update(data);
            String t = new String(type, StandardCharsets.US_ASCII);
            assertEquals((int) crc.getValue(), stored, "CRC of " + t);
            out.add(new Chunk(t, data, stored));
        }
        assertEquals("IEND", out.getLast().type());
        return out;
    }

    private static byte[] inflate(byte[] z, int size) throws DataFormatException {
        Inflater inf = new Inflater();
        inf.setInput(z);
        byte[] out = new byte[size + 1];
        int n = inf.inflate(out);
        assertTrue(inf.finished(), "one complete zlib stream");
        inf.end();
        return Arrays.copyOf(out, n);
    }

    /** The test's own unfilter (PNG spec §9), for RGB rows of 3-byte pixels. */
    private static byte[] unfilter(byte[] raw, int w, int h) {
        int stride = 3 * w;
        byte[] px = new byte[stride * h];
        for (int y = 0; y < h; y++) {
            int f = raw[y * (stride + 1)];
            for (int i = 0; i < stride; i++) {
                int a = i >= 3 ? px[y * stride + i - 3] & 0xff : 0;
                int b = y > 0 ? px[(y - 1) * stride + i] & 0xff : 0;
                int c = y > 0 && i >= 3 ? px[(y - 1) * stride + i - 3] & 0xff : 0;
                int p = a + b - c;
                int paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a
                        : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
                int pred = switch (f) {
                    case 0 -> 0;
                    case 1 -> a;
                    case 2 -> b;
                    case 3 -> (a + b) / 2;
                    case 4 -> paeth;
                    default -> throw new AssertionError("filter type " + f);
                };
                px[y * stride + i] = (byte) (raw[y * (stride + 1) + 1 + i] + pred);
            }
        }
        return px;
    }

    @Test
    void twoByTwoImageHasValidChunksAndReadsBack() throws DataFormatException {
        byte[] rgb = {(byte) 255, 0, 0, 0, (byte) 255, 0, 0, 0, (byte) 255, (byte) 200, (byte) 100, 7};
        RgbImage img = new RgbImage(2, 2, rgb);
        byte[] png = Png.encode(img);

        List<Chunk> chunks = chunks(png);
        assertEquals(List.of("IHDR", "IDAT", "IEND"), chunks.stream().map(Chunk::type).toList());
        assertArrayEquals(new byte[]{0, 0, 0, 2, 0, 0, 0, 2, 8, 2, 0, 0, 0}, chunks.get(0).data(),
                "IHDR: 2×2, depth 8, RGB, deflate, adaptive filtering, not interlaced");
        assertEquals(0xfdd49a73, chunks.get(0).storedCrc(), "IHDR CRC (from Python's zlib.crc32)");
        assertEquals(0, chunks.get(2).data().length);
        assertEquals(0xae426082, chunks.get(2).storedCrc(), "IEND CRC");

        byte[] raw = inflate(chunks.get(1).data(), 2 * 7);
        assertEquals(2 * (1 + 6), raw.length, "two rows of a filter byte and 6 samples");
        assertArrayEquals(rgb, unfilter(raw, 2, 2));
        assertEquals(img, Png.decode(png, "2x2"));
    }

    @Test
    void randomImagesRoundTrip() {
        Random r = new Random(7);
        for (int[] size : new int[][]{{1, 1}, {37, 23}, {5, 64}, {300, 300}}) {
            byte[] rgb = new byte[size[0] * size[1] * 3];
            r.nextBytes(rgb);
            if (size[0] == 5) {
                // smooth rows and columns, where Sub/Up/Average/Paeth win over None
                for (int i = 0; i < rgb.length; i++) {
                    rgb[i] = (byte) (i / 3 % 5 * 3 + i / 15 * 2 + i % 3);
                }
            }
            RgbImage img = new RgbImage(size[0], size[1], rgb);
            byte[] png = Png.encode(img);
            List<Chunk> chunks = chunks(png);
            if (size[0] == 300) {
                assertTrue(chunks.stream().filter(c -> c.type().equals("IDAT")).count() > 1, "large image uses several IDATs");
            }
            assertEquals(img, Png.decode(png, "random"), size[0] + "×" + size[1]);
        }
    }

    @Test
    void writeIsAtomicAndReadsBack(@TempDir Path dir) throws IOException {
        RgbImage img = new RgbImage(3, 1, new byte[]{1, 2, 3, 4, 5, 6, 7, 8, 9});
        Path file = dir.resolve("out.png");
        Files.writeString(file, "old content");
        Png.write(file, img);
        assertEquals(img, Png.read(file));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(file), s.toList(), "no temp file left behind");
        }
        PngException e = org.junit.jupiter.api.Assertions.assertThrows(PngException.class,
                () -> Png.write(dir.resolve("missing/out.png"), img));
        assertTrue(e.getMessage().contains("cannot write PNG"), e.getMessage());
    }

    /** diffusers postprocess: clamp(x/2 + 0.5, 0, 1), round(v·255) half to even; preprocess (v/255)·2 − 1. */
    @Test
    void tensorConversions() {
        Tensor t = Tensor.of(new float[]{-1f, 1f, 0f, -2f, 2f, -0.5f}, 1, 3, 2, 1);
        RgbImage img = RgbImage.fromTensor(t, 0);
        assertEquals(1, img.width());
        assertEquals(2, img.height());
        assertEquals(0, img.get(0, 0, 0));
        assertEquals(255, img.get(0, 1, 0));
        assertEquals(128, img.get(0, 0, 1), "0 → 127.5 → 128 (half to even)");
        assertEquals(0, img.get(0, 1, 1), "clamped below");
        assertEquals(255, img.get(0, 0, 2), "clamped above");
        assertEquals(64, img.get(0, 1, 2), "−0.5 → 0.25 → 63.75 → 64");

        byte[] all = new byte[256 * 3];
        for (int i = 0; i < all.length; i++) {
            all[i] = (byte) (i / 3);
        }
        RgbImage ramp = new RgbImage(256, 1, all);
        Tensor back = ramp.toTensor();
        assertArrayEquals(new long[]{1, 3, 1, 256}, back.shape());
        assertEquals(-1f, back.get(0));
        assertEquals(1f, back.get(255));
        assertEquals(ramp, RgbImage.fromTensor(back, 0), "every 8-bit value survives the round trip");
    }
}
