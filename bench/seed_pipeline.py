#!/usr/bin/env python3
"""The seed-style UC3 pipeline, as a competent user writes it in Python today: tifffile reads the
whole level, CuPy takes it to the GPU, cupyx.scipy.ndimage.sobel runs per channel (scikit-image's
definition: per-axis [1, 0, -1] x [1, 2, 1] / 4, magnitude sqrt((gx^2 + gy^2) / 2), reflect
border, float32), and tensorstore writes the float32 result as Zarr v3 (chunk x chunk x 3).

Prints one JSON object: seconds per phase, total, peak GPU memory (CuPy's pool). Without CuPy it
falls back to numpy + scipy.ndimage on the CPU (for smoke tests; labelled "numpy").

usage: seed_pipeline.py SLIDE [--out OUT.zarr] [--chunk 512] [--no-write] [--level 0]
"""
import argparse
import json
import shutil
import sys
import time

import numpy as np
import tifffile

try:
    import cupy as xp
    import cupyx.scipy.ndimage as ndi
    GPU = True
except ImportError:  # smoke tests on machines without a GPU
    import scipy.ndimage as ndi
    xp = np
    GPU = False


def sync():
    if GPU:
        xp.cuda.Device().synchronize()


def sobel_per_channel(img):
    """scikit-image's sobel on each channel of an (H, W, C) uint8 image, float32."""
    out = xp.empty(img.shape, dtype=xp.float32)
    for c in range(img.shape[-1]):
        f = img[..., c].astype(xp.float32) / xp.float32(255)
        gx = ndi.sobel(f, axis=1, mode="reflect")
        gy = ndi.sobel(f, axis=0, mode="reflect")
        out[..., c] = xp.sqrt((gx * gx + gy * gy) * xp.float32(0.5)) * xp.float32(0.25)
        del f, gx, gy
    return out


def write_zarr(path, host, chunk):
    import tensorstore as ts
    shutil.rmtree(path, ignore_errors=True)
    spec = {
        "driver": "zarr3",
        "kvstore": {"driver": "file", "path": str(path)},
        "metadata": {
            "shape": list(host.shape),
            "chunk_grid": {"name": "regular",
                           "configuration": {"chunk_shape": [chunk, chunk, host.shape[2]]}},
            "data_type": "float32",
            "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
        },
        "create": True,
        "delete_existing": True,
    }
    store = ts.open(spec).result()
    store.write(host).result()


def read_level(path, level):
    """tifffile's whole-level read; for JPEG tiles without imagecodecs (the GPU machine has none),
    the same tiles decoded with OpenCV's libjpeg-turbo on 16 threads, as a competent user would."""
    with tifffile.TiffFile(path) as tif:
        page = tif.series[0].levels[level].keyframe
        try:
            import imagecodecs  # noqa: F401
            have_codecs = True
        except ImportError:
            have_codecs = False
        if have_codecs or page.compression != 7 or not page.is_tiled:
            return tif.series[0].levels[level].asarray()
        import cv2
        from concurrent.futures import ThreadPoolExecutor
        h, w = page.imagelength, page.imagewidth
        th, tw = page.tilelength, page.tilewidth
        across = (w + tw - 1) // tw
        out = np.zeros((h, w, 3), np.uint8)
        tables = page.jpegtables or b""  # abbreviated tile streams: tables go in front

        def tile(i):
            off, n = page.dataoffsets[i], page.databytecounts[i]
            with open(path, "rb") as f:
                f.seek(off)
                data = f.read(n)
            if tables:
                data = tables[:-2] + data[2:]
            bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            y, x = (i // across) * th, (i % across) * tw
            hh, ww = min(th, h - y), min(tw, w - x)
            out[y:y + hh, x:x + ww] = bgr[:hh, :ww, ::-1]

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(tile, range(len(page.dataoffsets))))
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("slide")
    ap.add_argument("--out")
    ap.add_argument("--chunk", type=int, default=512)
    ap.add_argument("--level", type=int, default=0)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if not args.no_write and not args.out:
        ap.error("--out is required unless --no-write")

    times = {}
    start = time.perf_counter()
    host_in = read_level(args.slide, args.level)
    img = xp.asarray(host_in)
    sync()
    times["read"] = time.perf_counter() - start
    t = time.perf_counter()
    result = sobel_per_channel(img)
    sync()
    times["sobel"] = time.perf_counter() - t
    if not args.no_write:
        t = time.perf_counter()
        host = xp.asnumpy(result) if GPU else result
        times["download"] = time.perf_counter() - t
        t = time.perf_counter()
        write_zarr(args.out, host, args.chunk)
        times["write"] = time.perf_counter() - t
    total = time.perf_counter() - start
    peak = int(xp.get_default_memory_pool().total_bytes()) if GPU else 0
    print(json.dumps({"slide": args.slide, "backend": "cupy" if GPU else "numpy",
                      "width": int(host_in.shape[1]), "height": int(host_in.shape[0]),
                      "seconds": total, "phases": times, "peak_gpu_bytes": peak,
                      "write": not args.no_write}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
