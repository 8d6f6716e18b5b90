#!/usr/bin/env python3
"""Writes the PNG fixtures of src/test/resources/image/ with an encoder independent of the Java one (Python's zlib and
hand-applied PNG filters, PNG spec section 9). Pixel values follow formulas that PngReadTest recomputes:

  sample(x, y, c) = (x*37 + y*91 + c*53 + 11) % 256       for direct colour channels c (alpha is c = 3, grey c = 0)
  palette index(x, y) = (x + 2*y) % 5, entry i = (i*60 % 256, 255 - i*40, i*13)

Files:
  rgb_filters.png    7x5 RGB; row y uses filter type y (None, Sub, Up, Average, Paeth); the zlib stream is split over
                     three IDAT chunks, and a tEXt chunk sits between IHDR and IDAT.
  rgba.png           3x2 RGBA, filter Paeth on every row.
  gray.png           4x3 greyscale, filter Sub.
  gray_alpha.png     2x2 grey+alpha, filter Up.
  palette.png        6x2 palette (5 entries), filter None.
  interlaced.png     2x2 RGB with the Adam7 flag set (must be rejected).
  sixteen_bit.png    1x1 RGB at bit depth 16 (must be rejected).

Usage: tools/png-fixtures.py [src/test/resources/image]
"""
import os
import struct
import sys
import zlib


def sample(x, y, c):
    return (x * 37 + y * 91 + c * 53 + 11) % 256


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_rows(rows, bpp, filters):
    out = bytearray()
    prev = bytes(len(rows[0]))
    for row, f in zip(rows, filters):
        out.append(f)
        for i, v in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][f]
            out.append((v - pred) % 256)
        prev = row
    return bytes(out)


def png(w, h, color, channels, rows, filters, depth=8, interlace=0, extra=b"", idat_parts=1):
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, interlace)
    z = zlib.compress(filter_rows(rows, channels * depth // 8, filters))
    cut = [len(z) * i // idat_parts for i in range(idat_parts + 1)]
    idats = b"".join(chunk(b"IDAT", z[cut[i]:cut[i + 1]]) for i in range(idat_parts))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + idats + chunk(b"IEND", b"")


def direct(w, h, channels):
    return [bytes(sample(x, y, c) for x in range(w) for c in range(channels)) for y in range(h)]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "src/test/resources/image"
    os.makedirs(out, exist_ok=True)
    palette = b"".join(bytes([i * 60 % 256, 255 - i * 40, i * 13]) for i in range(5))
    files = {
        "rgb_filters.png": png(7, 5, 2, 3, direct(7, 5, 3), [0, 1, 2, 3, 4],
                               extra=chunk(b"tEXt", b"Comment\x00fixture"), idat_parts=3),
        "rgba.png": png(3, 2, 6, 4, direct(3, 2, 4), [4, 4]),
        "gray.png": png(4, 3, 0, 1, direct(4, 3, 1), [1, 1, 1]),
        "gray_alpha.png": png(2, 2, 4, 2, [bytes(sample(x, y, c) for x in range(2) for c in (0, 3)) for y in range(2)],
                              [2, 2]),
        "palette.png": png(6, 2, 3, 1, [bytes((x + 2 * y) % 5 for x in range(6)) for y in range(2)], [0, 0],
                           extra=chunk(b"PLTE", palette)),
        "interlaced.png": png(2, 2, 2, 3, direct(2, 2, 3), [0, 0], interlace=1),
        "sixteen_bit.png": png(1, 1, 2, 3, [bytes(6)], [0], depth=16),
    }
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
