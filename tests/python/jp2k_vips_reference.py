#!/usr/bin/env python3
"""Two references for a libvips JPEG 2000 TIFF (compression 33004), which OpenSlide cannot read:
    jp2k_vips_reference.py SLIDE LEVEL OUT_PREFIX
writes OUT_PREFIX.vips.raw, the level as libvips' own TIFF reader decodes it (`vips copy`, the
writer's reader: OpenJPEG, then its YCbCr -> RGB), and OUT_PREFIX.tifffile.raw, the level's
codestreams as tifffile + imagecodecs decode them (tifffile hands out the stored YCbCr), turned
to RGB with libvips' formula (jp2kload.c YCC_TO_RGB: C doubles, truncated toward zero).
Both are interleaved RGB uint8, row-major; the last line printed is "HEIGHT WIDTH".
"""
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import tifffile


def vips_rgb(ycc):
    y = ycc[..., 0].astype(np.int64)
    cb = ycc[..., 1].astype(np.float32).astype(np.float64) - 128
    cr = ycc[..., 2].astype(np.float32).astype(np.float64) - 128
    r = y + np.trunc(1.402 * cr).astype(np.int64)
    g = y - np.trunc(0.344 * cb + 0.714 * cr).astype(np.int64)
    b = y + np.trunc(1.772 * cb).astype(np.int64)
    return np.clip(np.stack([r, g, b], -1), 0, 255).astype(np.uint8)


def main():
    path, level, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with tifffile.TiffFile(path) as tif:
        ycc = tif.pages[level].asarray()
    pathlib.Path(prefix + ".tifffile.raw").write_bytes(np.ascontiguousarray(vips_rgb(ycc)).tobytes())
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "level.tif"
        subprocess.run(["vips", "copy", f"{path}[page={level}]", str(out)], check=True)
        decoded = tifffile.imread(out)
    pathlib.Path(prefix + ".vips.raw").write_bytes(np.ascontiguousarray(decoded).tobytes())
    print(decoded.shape[0], decoded.shape[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
