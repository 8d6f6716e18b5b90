package dev.fluxerase.image;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The grid's layout: one-pixel white borders, the gap between groups, each image's pixels in its cell. */
class ImageGridTest {
    /** A w×h image whose pixel (x, y) is (x, y, tag). */
    private static RgbImage tagged(int w, int h, int tag) {
        byte[] rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                rgb[(y * w + x) * 3] = (byte) x;
                rgb[(y * w + x) * 3 + 1] = (byte) y;
                rgb[(y * w + x) * 3 + 2] = (byte) tag;
            }
        }
        return new RgbImage(w, h, rgb);
    }

    @Test
    void cellsSitInBordersWithAGapBetweenGroups() {
        int w = 3;
        int h = 2;
        List<List<RgbImage>> rows = List.of(
                List.of(tagged(w, h, 1), tagged(w, h, 2), tagged(w, h, 3), tagged(w, h, 4)),
                List.of(tagged(w, h, 5), tagged(w, h, 6), tagged(w, h, 7), tagged(w, h, 8)));
        RgbImage g = ImageGrid.of(rows, 2, 7);
        assertEquals(4 * (w + 2) + 7, g.width());
        assertEquals(2 * (h + 2), g.height());
        for (int r = 0; r < 2; r++) {
            for (int c = 0; c < 4; c++) {
                int x0 = c * (w + 2) + (c >= 2 ? 7 : 0) + 1;
                int y0 = r * (h + 2) + 1;
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        assertEquals(x, g.get(x0 + x, y0 + y, 0));
                        assertEquals(y, g.get(x0 + x, y0 + y, 1));
                        assertEquals(4 * r + c + 1, g.get(x0 + x, y0 + y, 2));
                    }
                }
                // the border around the cell and the gap are white
                assertEquals(255, g.get(x0 - 1, y0, 2));
                assertEquals(255, g.get(x0, y0 - 1, 2));
            }
        }
        for (int x = 2 * (w + 2); x < 2 * (w + 2) + 7; x++) {
            assertEquals(255, g.get(x, 1, 0));
        }
    }

    @Test
    void aColumnWithoutGroupsIsOneCellWide() {
        RgbImage g = ImageGrid.of(List.of(List.of(tagged(4, 4, 1)), List.of(tagged(4, 4, 2)),
                List.of(tagged(4, 4, 3))));
        assertEquals(6, g.width());
        assertEquals(18, g.height());
        assertEquals(3, g.get(1, 13, 2));
    }

    @Test
    void unevenRowsOrSizesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> ImageGrid.of(List.of(List.of(tagged(2, 2, 0)),
                List.of(tagged(2, 2, 0), tagged(2, 2, 0)))));
        assertThrows(IllegalArgumentException.class, () -> ImageGrid.of(List.of(List.of(tagged(2, 2, 0),
                tagged(3, 2, 0)))));
    }
}
