#!/usr/bin/env python3
"""Builds the benchmark slides of BENCH-ANCHORS.md from a real scan, on the GPU machine (which
has tifffile, numpy and OpenCV but not imagecodecs):

  raw.tif   26420 x 19920 x 3 uint8, 512^2 uncompressed tiles, BigTIFF (1.58 GB of level 0)
  jpeg.tif  the same pixels, 256^2 JPEG tiles, quality 90, YCbCr 4:2:0, one full JFIF stream per
            tile (cv2.imencode), written pre-compressed by a small TIFF writer, Photometric YCbCr

The scan (cmu-1-small-region.svs, 2220 x 2967) is decoded tile by tile with OpenCV (its JPEG
tiles with the shared JPEGTables spliced in) and mirrored out to the seed's size, so the pixels
are tissue, not noise (noise compresses unrealistically).

  python3 bench/make_bench_slides.py --source cmu-1-small-region.svs --out DIR
"""
import argparse
import os
import pathlib
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import io

import numpy as np
import tifffile

try:
    import cv2  # the GPU machine has OpenCV; PIL stands in where it does not (for a local try)
except ImportError:
    cv2 = None
    from PIL import Image


def jpeg_decode_rgb(data):
    if cv2 is not None:
        tile = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        return None if tile is None else cv2.cvtColor(tile, cv2.COLOR_BGR2RGB)
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def jpeg_encode_rgb(tile):
    if cv2 is not None:
        params = [int(cv2.IMWRITE_JPEG_QUALITY), 90]
        if hasattr(cv2, "IMWRITE_JPEG_SAMPLING_FACTOR"):
            params += [int(cv2.IMWRITE_JPEG_SAMPLING_FACTOR),
                       int(cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420)]
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(tile, cv2.COLOR_RGB2BGR), params)
        if not ok:
            raise RuntimeError("cv2.imencode failed")
        return data.tobytes()
    buffer = io.BytesIO()
    Image.fromarray(tile).save(buffer, "JPEG", quality=90, subsampling=2)
    return buffer.getvalue()

WIDTH, HEIGHT = 26420, 19920


def decode_svs_level0(path):
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        tables = page.jpegtables
        tables = bytes(tables.value if hasattr(tables, "value") else tables) if tables else b""
        th, tw = page.tilelength, page.tilewidth
        across = (page.imagewidth + tw - 1) // tw
        down = (page.imagelength + th - 1) // th
        out = np.zeros((down * th, across * tw, 3), np.uint8)
        fh = tif.filehandle
        for i, (offset, count) in enumerate(zip(page.dataoffsets, page.databytecounts)):
            fh.seek(offset)
            data = fh.read(count)
            if tables:
                data = data[:2] + tables[2:-2] + data[2:]
            tile = jpeg_decode_rgb(data)
            if tile is None:
                raise SystemExit(f"cannot decode tile {i} of {path}")
            y, x = divmod(i, across)
            out[y * th:(y + 1) * th, x * tw:(x + 1) * tw] = tile
        return out[:page.imagelength, :page.imagewidth]


def write_jpeg_tiff(path, tiles, width, height, tile):
    """A classic little-endian tiled TIFF of pre-compressed JFIF tiles, Photometric YCbCr,
    4:2:0. Written by hand because tifffile insists on imagecodecs for JPEG even when the
    tiles arrive compressed, and the GPU machine has no imagecodecs."""
    import struct
    n = len(tiles)
    with open(path, "wb") as f:
        f.write(b"II" + struct.pack("<HI", 42, 0))  # IFD offset patched below
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
            return at
        bits_at = array("H", [8, 8, 8])
        offsets_at = array("I", offsets)
        counts_at = array("I", counts)
        SHORT, LONG = 3, 4
        entries = [
            (256, LONG, 1, struct.pack("<I", width)),
            (257, LONG, 1, struct.pack("<I", height)),
            (258, SHORT, 3, struct.pack("<I", bits_at)),
            (259, SHORT, 1, struct.pack("<HH", 7, 0)),      # JPEG
            (262, SHORT, 1, struct.pack("<HH", 6, 0)),      # YCbCr
            (277, SHORT, 1, struct.pack("<HH", 3, 0)),
            (284, SHORT, 1, struct.pack("<HH", 1, 0)),      # chunky
            (322, LONG, 1, struct.pack("<I", tile)),
            (323, LONG, 1, struct.pack("<I", tile)),
            (324, LONG, n, struct.pack("<I", offsets_at)),
            (325, LONG, n, struct.pack("<I", counts_at)),
            (530, SHORT, 2, struct.pack("<HH", 2, 2)),      # 4:2:0
        ]
        ifd_at = f.tell()
        f.write(struct.pack("<H", len(entries)))
        for tag, typ, count, value in entries:
            f.write(struct.pack("<HHI", tag, typ, count) + value)
        f.write(struct.pack("<I", 0))
        f.seek(4)
        f.write(struct.pack("<I", ifd_at))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--width", type=int, default=WIDTH)
    ap.add_argument("--height", type=int, default=HEIGHT)
    a = ap.parse_args()
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    scan = decode_svs_level0(a.source)
    h, w = scan.shape[:2]
    # Mirrored repeats: no seams, real tissue statistics everywhere.
    image = np.pad(scan, ((0, max(0, a.height - h)), (0, max(0, a.width - w)), (0, 0)),
                   mode="symmetric")[:a.height, :a.width]
    print(f"scan {w}x{h} -> {a.width}x{a.height} in {time.time() - t0:.1f} s", flush=True)

    raw = out / "raw.tif"
    if not raw.exists():
        t0 = time.time()
        tifffile.imwrite(raw, image, bigtiff=True, tile=(512, 512), photometric="rgb",
                         compression=None, metadata=None)
        print(f"{raw}: {raw.stat().st_size} bytes in {time.time() - t0:.1f} s", flush=True)

    jpeg = out / "jpeg.tif"
    if not jpeg.exists():
        t0 = time.time()
        T = 256
        across = (a.width + T - 1) // T
        down = (a.height + T - 1) // T
        padded = np.pad(image, ((0, down * T - a.height), (0, across * T - a.width), (0, 0)),
                        mode="edge")

        def encode(i):
            y, x = divmod(i, across)
            return jpeg_encode_rgb(np.ascontiguousarray(padded[y * T:(y + 1) * T,
                                                               x * T:(x + 1) * T]))

        with ThreadPoolExecutor(os.cpu_count()) as pool:
            tiles = list(pool.map(encode, range(across * down)))
        write_jpeg_tiff(jpeg, tiles, a.width, a.height, T)
        print(f"{jpeg}: {jpeg.stat().st_size} bytes, {len(tiles)} tiles in "
              f"{time.time() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
