#!/usr/bin/env python3
"""Builds the slide of bench/patches.py: an Aperio SVS of the seed's shape that every peer opens
(OpenSlide, cuCIM, tiffslide, fastslide, slidestream).

  patches.svs  26420 x 19920, 256^2 JPEG tiles (quality 90, YCbCr 4:2:0, one full JFIF stream
               per tile, Photometric YCbCr, as bench/make_bench_slides.py's jpeg.tif), plus
               levels at 1/4 and 1/16 (area-averaged), ImageDescription
               "Aperio Image Library ... |AppMag = 20|MPP = 0.499" (the scan's resolution)

The pixels are the real scan (../shared/testdata/cmu-1-small-region.svs) mirrored out to the
seed's size, as make_bench_slides.py makes them.

  python3 bench/make_patches_slide.py --source cmu-1-small-region.svs --out DIR
"""
import argparse
import os
import pathlib
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_bench_slides import HEIGHT, WIDTH, decode_svs_level0, jpeg_encode_rgb  # noqa: E402

TILE = 256
MPP = 0.499


def shrink(image, factor):
    """Area average by an integer factor (edges: the mean of what is there)."""
    h, w = image.shape[:2]
    H, W = -(-h // factor), -(-w // factor)
    padded = np.pad(image, ((0, H * factor - h), (0, W * factor - w), (0, 0)), mode="edge")
    blocks = padded.reshape(H, factor, W, factor, 3).astype(np.uint32)
    return ((blocks.sum(axis=(1, 3)) + factor * factor // 2) // (factor * factor)).astype(np.uint8)


def encode_level(image):
    h, w = image.shape[:2]
    across, down = -(-w // TILE), -(-h // TILE)
    padded = np.pad(image, ((0, down * TILE - h), (0, across * TILE - w), (0, 0)), mode="edge")

    def encode(i):
        y, x = divmod(i, across)
        return jpeg_encode_rgb(np.ascontiguousarray(padded[y * TILE:(y + 1) * TILE,
                                                           x * TILE:(x + 1) * TILE]))

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        return list(pool.map(encode, range(across * down)))


def write_svs(path, levels, description):
    """levels: [(width, height, tiles)]; one tiled IFD each, the description on the first."""
    SHORT, LONG, ASCII = 3, 4, 2
    with open(path, "wb") as f:
        f.write(b"II" + struct.pack("<HI", 42, 0))
        next_ifd_at = 4
        for index, (width, height, tiles) in enumerate(levels):
            offsets, counts = [], []
            for t in tiles:
                offsets.append(f.tell())
                counts.append(len(t))
                f.write(t)
                if f.tell() % 2:
                    f.write(b"\0")

            def array(fmt, values):
                at = f.tell()
                f.write(struct.pack("<%d%s" % (len(values), fmt), *values))
                if f.tell() % 2:
                    f.write(b"\0")
                return at

            bits_at = array("H", [8, 8, 8])
            offsets_at = array("I", offsets)
            counts_at = array("I", counts)
            entries = [(254, LONG, 1, struct.pack("<I", 0))]
            entries += [(256, LONG, 1, struct.pack("<I", width)),
                        (257, LONG, 1, struct.pack("<I", height)),
                        (258, SHORT, 3, struct.pack("<I", bits_at)),
                        (259, SHORT, 1, struct.pack("<HH", 7, 0)),   # JPEG
                        (262, SHORT, 1, struct.pack("<HH", 6, 0))]   # YCbCr
            if index == 0:
                text = description.encode() + b"\0"
                entries.append((270, ASCII, len(text), struct.pack("<I", array("B", list(text)))))
            entries += [(277, SHORT, 1, struct.pack("<HH", 3, 0)),
                        (284, SHORT, 1, struct.pack("<HH", 1, 0)),
                        (322, LONG, 1, struct.pack("<I", TILE)),
                        (323, LONG, 1, struct.pack("<I", TILE)),
                        # One value fits in the entry itself (TIFF's rule for <= 4 bytes).
                        (324, LONG, len(tiles),
                         struct.pack("<I", offsets[0] if len(tiles) == 1 else offsets_at)),
                        (325, LONG, len(tiles),
                         struct.pack("<I", counts[0] if len(tiles) == 1 else counts_at)),
                        (530, SHORT, 2, struct.pack("<HH", 2, 2))]   # 4:2:0
            ifd_at = f.tell()
            f.write(struct.pack("<H", len(entries)))
            for tag, typ, count, value in entries:
                f.write(struct.pack("<HHI", tag, typ, count) + value)
            end = f.tell()
            f.write(struct.pack("<I", 0))
            f.seek(next_ifd_at)
            f.write(struct.pack("<I", ifd_at))
            f.seek(end + 4)
            next_ifd_at = end


def make(source, out_dir, width=WIDTH, height=HEIGHT):
    out = pathlib.Path(out_dir) / "patches.svs"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    scan = decode_svs_level0(source)
    h, w = scan.shape[:2]
    image = np.pad(scan, ((0, max(0, height - h)), (0, max(0, width - w)), (0, 0)),
                   mode="symmetric")[:height, :width]
    levels = []
    for factor in (1, 4, 16):
        level = image if factor == 1 else shrink(image, factor)
        levels.append((level.shape[1], level.shape[0], encode_level(level)))
    description = (f"Aperio Image Library v12.0.15 \r\n{width}x{height} [0,0 {width}x{height}] "
                   f"({TILE}x{TILE}) JPEG/RGB Q=90|AppMag = 20|MPP = {MPP}")
    partial = out.with_suffix(".partial")
    write_svs(partial, levels, description)
    os.replace(partial, out)
    print(f"{out}: {out.stat().st_size} bytes, levels "
          f"{[(lw, lh) for lw, lh, _ in levels]} in {time.time() - t0:.1f} s", flush=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--width", type=int, default=WIDTH)
    ap.add_argument("--height", type=int, default=HEIGHT)
    a = ap.parse_args()
    make(a.source, a.out, a.width, a.height)


if __name__ == "__main__":
    sys.exit(main())
