package dev.fluxerase.image;

import dev.fluxerase.testing.Resources;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Fixtures written by tools/png-fixtures.py (Python zlib, filters applied by hand), decoded against their formulas. */
class PngReadTest {

    private static Path fixture(String name) {
        return Resources.path("image/" + name);
    }

    private static int sample(int x, int y, int c) {
        return (x * 37 + y * 91 + c * 53 + 11) % 256;
    }

    private static void assertDirect(RgbImage img, int w, int h, boolean gray) {
        assertEquals(w, img.width());
        assertEquals(h, img.height());
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                for (int c = 0; c < 3; c++) {
                    assertEquals(sample(x, y, gray ? 0 : c), img.get(x, y, c), "pixel (" + x + ", " + y + ") channel " + c);
                }
            }
        }
    }

    @Test
    void everyFilterTypeAndSplitIdat() {
        assertDirect(Png.read(fixture("rgb_filters.png")), 7, 5, false);
    }

    @Test
    void rgbaDropsAlpha() {
        assertDirect(Png.read(fixture("rgba.png")), 3, 2, false);
    }

    @Test
    void grayAndGrayAlphaBecomeRgb() {
        assertDirect(Png.read(fixture("gray.png")), 4, 3, true);
        assertDirect(Png.read(fixture("gray_alpha.png")), 2, 2, true);
    }

    @Test
    void paletteIsLookedUp() {
        RgbImage img = Png.read(fixture("palette.png"));
        assertEquals(6, img.width());
        assertEquals(2, img.height());
        for (int y = 0; y < 2; y++) {
            for (int x = 0; x < 6; x++) {
                int i = (x + 2 * y) % 5;
                int[] expected = {i * 60 % 256, 255 - i * 40, i * 13};
                for (int c = 0; c < 3; c++) {
                    assertEquals(expected[c], img.get(x, y, c), "pixel (" + x + ", " + y + ") channel " + c);
                }
            }
        }
    }

    @Test
    void unsupportedFormatsAreNamed() {
        PngException e = assertThrows(PngException.class, () -> Png.read(fixture("interlaced.png")));
        assertTrue(e.getMessage().contains("interlaced.png") && e.getMessage().contains("interlaced"), e.getMessage());
        e = assertThrows(PngException.class, () -> Png.read(fixture("sixteen_bit.png")));
        assertTrue(e.getMessage().contains("bit depth 16"), e.getMessage());
    }

    @Test
    void damagedFilesGiveOneLineErrors() throws IOException {
        byte[] good = Files.readAllBytes(fixture("rgb_filters.png"));

        byte[] crc = good.clone();
        crc[8 + 8 + 5] ^= 1; // a byte inside IHDR's data
        assertOneLine(assertThrows(PngException.class, () -> Png.decode(crc, "x.png")), "chunk IHDR at byte 8: CRC mismatch");

        byte[] sig = good.clone();
        sig[1] = 'Q';
        assertOneLine(assertThrows(PngException.class, () -> Png.decode(sig, "x.png")), "not a PNG file");

        byte[] cut = Arrays.copyOf(good, good.length - 12); // IEND removed
        assertOneLine(assertThrows(PngException.class, () -> Png.decode(cut, "x.png")), "no IEND chunk");

        byte[] mid = Arrays.copyOf(good, good.length - 20); // inside the last IDAT
        assertOneLine(assertThrows(PngException.class, () -> Png.decode(mid, "x.png")), "past the end of the file");

        assertOneLine(assertThrows(PngException.class, () -> Png.read(Path.of("no/such/file.png"))), "cannot read");
    }

    private static void assertOneLine(PngException e, String part) {
        assertTrue(e.getMessage().contains(part), e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    }
}
