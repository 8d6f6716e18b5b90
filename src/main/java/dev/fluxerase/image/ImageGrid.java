package dev.fluxerase.image;

import java.util.Arrays;
import java.util.List;

/**
 * Images of one size side by side on white, one row per list: the contact sheets that show what a model draws (the
 * toy demo's before | after, an erase run's validation images). Every image keeps its own pixels (no scaling) inside
 * a one-pixel white border, so neighbouring images stay apart.
 */
public final class ImageGrid {
    private ImageGrid() {
    }

    /** {@code rows.get(r).get(c)} at row r, column c. */
    public static RgbImage of(List<List<RgbImage>> rows) {
        return of(rows, Integer.MAX_VALUE, 0);
    }

    /**
     * {@code rows.get(r).get(c)} at row r, column c, with {@code gap} white columns of pixels after every {@code group}
     * columns of images (none after the last), to set groups apart. Every row holds as many images, all of one size.
     */
    public static RgbImage of(List<List<RgbImage>> rows, int group, int gap) {
        if (rows.isEmpty() || rows.getFirst().isEmpty() || group < 1 || gap < 0) {
            throw new IllegalArgumentException("a grid needs at least one image, groups of at least one column and a "
                    + "gap of 0 or more; got " + rows.size() + " rows, group " + group + ", gap " + gap);
        }
        RgbImage first = rows.getFirst().getFirst();
        int columns = rows.getFirst().size();
        for (List<RgbImage> row : rows) {
            if (row.size() != columns) {
                throw new IllegalArgumentException("grid rows of " + columns + " and " + row.size() + " images");
            }
            for (RgbImage img : row) {
                if (img.width() != first.width() || img.height() != first.height()) {
                    throw new IllegalArgumentException("grid images of " + first.width() + "x" + first.height()
                            + " and " + img.width() + "x" + img.height());
                }
            }
        }
        int cellWidth = first.width() + 2;
        int cellHeight = first.height() + 2;
        int width = columns * cellWidth + (columns - 1) / group * gap;
        int height = rows.size() * cellHeight;
        byte[] rgb = new byte[width * height * 3];
        Arrays.fill(rgb, (byte) 255);
        for (int r = 0; r < rows.size(); r++) {
            for (int c = 0; c < columns; c++) {
                blit(rgb, width, rows.get(r).get(c), c * cellWidth + c / group * gap + 1, r * cellHeight + 1);
            }
        }
        return new RgbImage(width, height, rgb);
    }

    private static void blit(byte[] dst, int dstWidth, RgbImage img, int x0, int y0) {
        int line = img.width() * 3;
        for (int y = 0; y < img.height(); y++) {
            System.arraycopy(img.rgb(), y * line, dst, ((y0 + y) * dstWidth + x0) * 3, line);
        }
    }
}
