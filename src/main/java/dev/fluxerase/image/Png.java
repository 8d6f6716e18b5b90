package dev.fluxerase.image;

import dev.fluxerase.io.AtomicFiles;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * PNG without java.desktop (our GPU runtime is a jlink image without it). Writes 8-bit RGB, non-interlaced, one zlib
 * stream split over IDAT chunks, each row with the filter that minimises the sum of its absolute signed bytes (the
 * libpng heuristic). Reads 8-bit non-interlaced greyscale, RGB, palette, grey+alpha and RGBA, every chunk's CRC checked;
 * alpha is dropped, as PIL's {@code convert("RGB")} does.
 */
public final class Png {
    static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    private static final int IDAT_MAX = 1 << 18;
    private static final int GRAY = 0;
    private static final int RGB = 2;
    private static final int PALETTE = 3;
    private static final int GRAY_ALPHA = 4;
    private static final int RGBA = 6;

    private Png() {
    }

    /** Writes {@code image} to a temp file next to {@code file}, then renames it over {@code file}. */
    public static void write(Path file, RgbImage image) {
        byte[] bytes = encode(image);
        try {
            AtomicFiles.write(file, bytes);
        } catch (IOException e) {
            throw new PngException(file + ": cannot write PNG: " + e.getMessage());
        }
    }

    public static byte[] encode(RgbImage image) {
        int w = image.width();
        int h = image.height();
        int stride = 3 * w;
        byte[] filtered = new byte[h * (stride + 1)];
        byte[] candidate = new byte[stride];
        byte[] rgb = image.rgb();
        for (int y = 0; y < h; y++) {
            int row = y * stride;
            int prev = y == 0 ? -1 : row - stride;
            long best = Long.MAX_VALUE;
            for (int f = 0; f <= 4; f++) {
                long cost = 0;
                for (int i = 0; i < stride; i++) {
                    int a = i >= 3 ? rgb[row + i - 3] & 0xff : 0;
                    int b = prev >= 0 ? rgb[prev + i] & 0xff : 0;
                    int c = prev >= 0 && i >= 3 ? rgb[prev + i - 3] & 0xff : 0;
                    byte v = (byte) ((rgb[row + i] & 0xff) - predict(f, a, b, c));
                    candidate[i] = v;
                    cost += Math.abs(v);
                }
                if (cost < best) {
                    best = cost;
                    int dst = y * (stride + 1);
                    filtered[dst] = (byte) f;
                    System.arraycopy(candidate, 0, filtered, dst + 1, stride);
                }
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(filtered.length / 2 + 64);
        out.writeBytes(SIGNATURE);
        chunk(out, "IHDR", ByteBuffer.allocate(13).putInt(w).putInt(h).put((byte) 8).put((byte) RGB).put((byte) 0)
                .put((byte) 0).put((byte) 0).array());
        byte[] z = deflate(filtered);
        for (int off = 0; off < z.length; off += IDAT_MAX) {
            byte[] part = new byte[Math.min(IDAT_MAX, z.length - off)];
            System.arraycopy(z, off, part, 0, part.length);
            chunk(out, "IDAT", part);
        }
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    // PNG filter predictors for left a, up b, upper-left c (PNG spec §9.2)
    private static int predict(int filter, int a, int b, int c) {
        return switch (filter) {
            case 0 -> 0;
            case 1 -> a;
            case 2 -> b;
            case 3 -> (a + b) >>> 1;
            default -> paeth(a, b, c);
        };
    }

    private static int paeth(int a, int b, int c) {
        int p = a + b - c;
        int pa = Math.abs(p - a);
        int pb = Math.abs(p - b);
        int pc = Math.abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    private static byte[] deflate(byte[] data) {
        Deflater d = new Deflater(Deflater.DEFAULT_COMPRESSION);
        try {
            d.setInput(data);
            d.finish();
            ByteArrayOutputStream out = new ByteArrayOutputStream(data.length / 2 + 64);
            byte[] buf = new byte[1 << 16];
            while (!d.finished()) {
                out.write(buf, 0, d.deflate(buf));
            }
            return out.toByteArray();
        } finally {
            d.end();
        }
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt(data.length).array());
        out.writeBytes(t);
        out.writeBytes(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    public static RgbImage read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new PngException(file + ": cannot read: " + e.getMessage());
        }
        return decode(bytes, file.toString());
    }

    /** Decodes PNG bytes; {@code source} names them in errors. */
    public static RgbImage decode(byte[] png, String source) {
        if (png.length < SIGNATURE.length || !java.util.Arrays.equals(png, 0, SIGNATURE.length, SIGNATURE, 0,
                SIGNATURE.length)) {
            throw new PngException(source + ": not a PNG file (bad signature)");
        }
        ByteBuffer in = ByteBuffer.wrap(png);
        in.position(SIGNATURE.length);
        Header header = null;
        byte[] palette = null;
        ByteArrayOutputStream idat = new ByteArrayOutputStream();
        boolean ended = false;
        while (!ended) {
            if (in.remaining() < 12) {
                throw new PngException(source + ": truncated at byte " + in.position() + " (no IEND chunk)");
            }
            int start = in.position();
            int length = in.getInt();
            byte[] typeBytes = new byte[4];
            in.get(typeBytes);
            String type = new String(typeBytes, StandardCharsets.ISO_8859_1);
            if (length < 0 || length > in.remaining() - 4) {
                throw new PngException(source + ": chunk " + type + " at byte " + start + " has length " + length
                        + ", past the end of the file");
            }
            byte[] data = new byte[length];
            in.get(data);
            int stored = in.getInt();
            CRC32 crc = new CRC32();
            crc.update(typeBytes);
            crc.update(data);
            if ((int) crc.getValue() != stored) {
                throw new PngException(source + ": chunk " + type + " at byte " + start + ": CRC mismatch (stored "
                        + String.format("%08x", stored) + ", computed " + String.format("%08x", crc.getValue()) + ")");
            }
            if (header == null && !type.equals("IHDR")) {
                throw new PngException(source + ": first chunk is " + type + ", expected IHDR");
            }
            switch (type) {
                case "IHDR" -> {
                    if (header != null) {
                        throw new PngException(source + ": more than one IHDR chunk");
                    }
                    header = Header.parse(data, source);
                }
                case "PLTE" -> {
                    if (length % 3 != 0 || length == 0 || length > 768) {
                        throw new PngException(source + ": PLTE chunk of " + length + " bytes (expected 3 to 768, a"
                                + " multiple of 3)");
                    }
                    palette = data;
                }
                case "IDAT" -> idat.writeBytes(data);
                case "IEND" -> ended = true;
                default -> {
                    if (Character.isUpperCase(type.charAt(0))) {
                        throw new PngException(source + ": unsupported critical chunk " + type);
                    }
                }
            }
        }
        if (header.colorType == PALETTE && palette == null) {
            throw new PngException(source + ": palette image without a PLTE chunk");
        }
        byte[] raw = inflate(idat.toByteArray(), header, source);
        unfilter(raw, header, source);
        return toRgb(raw, header, palette, source);
    }

    private record Header(int width, int height, int colorType, int channels) {
        static Header parse(byte[] d, String source) {
            if (d.length != 13) {
                throw new PngException(source + ": IHDR has " + d.length + " bytes, expected 13");
            }
            ByteBuffer b = ByteBuffer.wrap(d);
            int w = b.getInt();
            int h = b.getInt();
            int depth = b.get() & 0xff;
            int color = b.get() & 0xff;
            int compression = b.get() & 0xff;
            int filter = b.get() & 0xff;
            int interlace = b.get() & 0xff;
            int channels = switch (color) {
                case GRAY, PALETTE -> 1;
                case GRAY_ALPHA -> 2;
                case RGB -> 3;
                case RGBA -> 4;
                default -> throw new PngException(source + ": invalid PNG color type " + color);
            };
            if (w <= 0 || h <= 0) {
                throw new PngException(source + ": invalid size " + Integer.toUnsignedString(w) + "×"
                        + Integer.toUnsignedString(h));
            }
            if ((long) w * h * 3 > Integer.MAX_VALUE - 8 || (long) h * ((long) w * channels + 1) > Integer.MAX_VALUE - 8) {
                throw new PngException(source + ": image " + w + "×" + h + " is too large");
            }
            if (depth != 8) {
                throw new PngException(source + ": bit depth " + depth + " is not supported (only 8-bit PNGs; convert"
                        + " the image to 8 bits per channel)");
            }
            if (compression != 0 || filter != 0) {
                throw new PngException(source + ": unknown compression method " + compression + " or filter method "
                        + filter);
            }
            if (interlace != 0) {
                throw new PngException(source + ": interlaced (Adam7) PNGs are not supported; save it non-interlaced");
            }
            return new Header(w, h, color, channels);
        }

        int stride() {
            return width * channels;
        }
    }

    private static byte[] inflate(byte[] z, Header hd, String source) {
        byte[] raw = new byte[hd.height * (hd.stride() + 1)];
        Inflater inf = new Inflater();
        try {
            inf.setInput(z);
            int n = 0;
            while (n < raw.length) {
                int got = inf.inflate(raw, n, raw.length - n);
                if (got == 0 && (inf.finished() || inf.needsInput() || inf.needsDictionary())) {
                    throw new PngException(source + ": image data is too short (" + n + " of " + raw.length
                            + " bytes after decompression)");
                }
                n += got;
            }
            return raw;
        } catch (DataFormatException e) {
            throw new PngException(source + ": corrupt image data: " + e.getMessage());
        } finally {
            inf.end();
        }
    }

    /** Undoes the per-row filters in place: row y's bytes become the raw sample bytes (its filter byte stays). */
    private static void unfilter(byte[] raw, Header hd, String source) {
        int stride = hd.stride();
        int bpp = hd.channels;
        for (int y = 0; y < hd.height; y++) {
            int row = y * (stride + 1);
            int filter = raw[row] & 0xff;
            if (filter > 4) {
                throw new PngException(source + ": row " + y + " has invalid filter type " + filter);
            }
            int prev = y == 0 ? -1 : row - stride - 1;
            for (int i = 0; i < stride; i++) {
                int a = i >= bpp ? raw[row + 1 + i - bpp] & 0xff : 0;
                int b = prev >= 0 ? raw[prev + 1 + i] & 0xff : 0;
                int c = prev >= 0 && i >= bpp ? raw[prev + 1 + i - bpp] & 0xff : 0;
                raw[row + 1 + i] = (byte) (raw[row + 1 + i] + predict(filter, a, b, c));
            }
        }
    }

    private static RgbImage toRgb(byte[] raw, Header hd, byte[] palette, String source) {
        int w = hd.width;
        byte[] rgb = new byte[w * hd.height * 3];
        int stride = hd.stride();
        for (int y = 0; y < hd.height; y++) {
            int src = y * (stride + 1) + 1;
            int dst = y * w * 3;
            for (int x = 0; x < w; x++, dst += 3) {
                int s = src + x * hd.channels;
                switch (hd.colorType) {
                    case RGB, RGBA -> {
                        rgb[dst] = raw[s];
                        rgb[dst + 1] = raw[s + 1];
                        rgb[dst + 2] = raw[s + 2];
                    }
                    case GRAY, GRAY_ALPHA -> {
                        rgb[dst] = raw[s];
                        rgb[dst + 1] = raw[s];
                        rgb[dst + 2] = raw[s];
                    }
                    default -> {
                        int index = raw[s] & 0xff;
                        if (3 * index + 2 >= palette.length) {
                            throw new PngException(source + ": pixel (" + x + ", " + y + ") uses palette entry " + index
                                    + " of " + palette.length / 3);
                        }
                        System.arraycopy(palette, 3 * index, rgb, dst, 3);
                    }
                }
            }
        }
        return new RgbImage(w, hd.height, rgb);
    }
}
