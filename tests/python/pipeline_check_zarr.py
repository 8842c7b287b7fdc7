#!/usr/bin/env python3
"""Independent check of `slidestream process` output: zarr-python reads the OME-Zarr, tifffile
decodes the slide, scikit-image computes the chain, and the pyramid is checked against numpy's
2x2 means of the level above. Prints one JSON line; exit 0 when every check holds.

usage: pipeline_check_zarr.py ZARR SLIDE --level N --op sobel [--op ...] [--expect-levels K]
"""
import argparse
import json
import sys

import numpy as np
import tifffile
import zarr
from skimage import color, filters


def reference(rgb, ops):
    """The chain on the whole level, in float64 as scikit-image computes it."""
    x = rgb
    for op in ops:
        name, _, arg = op.partition(":")
        if name in ("sobel", "sobel-u8"):
            f = x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)
            if f.ndim == 2:
                s = filters.sobel(f)
            else:
                s = np.stack([filters.sobel(f[..., c]) for c in range(f.shape[-1])], -1)
            x = np.rint(np.clip(s, 0, 1) * 255).astype(np.uint8) if name == "sobel-u8" else s
        elif name == "grey":
            x = color.rgb2gray(x)
        elif name == "hed":
            x = color.rgb2hed(x)
        elif name == "od":
            io = float(arg) if arg else 255.0
            x = -np.log(np.clip(x.astype(np.float64), 1, io) / io)
        else:
            raise SystemExit(f"unknown op {op}")
    return x


def as_yxc(a):
    """OME-Zarr (c, y, x) or (y, x) to (y, x[, c])."""
    return np.moveaxis(a, 0, -1) if a.ndim == 3 else a


def downsample2(a):
    h, w = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
    q = [a[0:h:2, 0:w:2], a[1:h:2, 0:w:2], a[0:h:2, 1:w:2], a[1:h:2, 1:w:2]]
    if a.dtype == np.uint8:
        return ((sum(x.astype(np.uint32) for x in q) + 2) >> 2).astype(np.uint8)
    return sum(x.astype(np.float64) for x in q) / 4


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("zarr")
    ap.add_argument("slide")
    ap.add_argument("--level", type=int, default=0)
    ap.add_argument("--op", action="append", required=True)
    ap.add_argument("--expect-levels", type=int, default=0)
    args = ap.parse_args()

    failures = []
    group = zarr.open_group(args.zarr, mode="r")
    attrs = group.attrs.asdict()
    ms = attrs.get("ome", attrs).get("multiscales")
    if not ms:
        failures.append("no multiscales metadata")
        paths = ["0"]
    else:
        paths = [d["path"] for d in ms[0]["datasets"]]
    if args.expect_levels and len(paths) != args.expect_levels:
        failures.append(f"{len(paths)} levels, expected {args.expect_levels}")

    with tifffile.TiffFile(args.slide) as tif:
        rgb = tif.series[0].levels[args.level].asarray()
    ref = reference(rgb, args.op)
    got = as_yxc(group[paths[0]][...])
    result = {"levels": len(paths), "shape": list(got.shape), "dtype": str(got.dtype)}
    if got.shape != ref.shape:
        failures.append(f"level 0 shape {got.shape} != reference {ref.shape}")
    else:
        if got.dtype == np.uint8:
            diff = np.abs(got.astype(np.int32) - ref.astype(np.int32))
            result["max_abs_diff"] = int(diff.max())
            # float32 vs float64 may round an exact .5 the other way: at most 1, rarely.
            if diff.max() > 1 or np.count_nonzero(diff) > diff.size * 1e-4:
                failures.append(f"uint8 level 0 differs: max {diff.max()}, "
                                f"{np.count_nonzero(diff)} pixels")
        else:
            diff = np.abs(got.astype(np.float64) - ref)
            result["max_abs_diff"] = float(diff.max())
            # Kernels compute in float32 (OPS-NOTES): a few float32 ulps of values up to ~1..14.
            tol = 4e-6 * max(1.0, float(np.abs(ref).max()))
            if diff.max() > tol:
                failures.append(f"level 0 max abs diff {diff.max()} > {tol}")
    prev = got
    for p in paths[1:]:
        level = as_yxc(group[p][...])
        expect = downsample2(prev)
        if level.shape != expect.shape:
            failures.append(f"level {p} shape {level.shape} != {expect.shape}")
            break
        d = np.abs(level.astype(np.float64) - expect.astype(np.float64)).max()
        if d > (0 if level.dtype == np.uint8 else 1e-6 * max(1.0, float(np.abs(expect).max()))):
            failures.append(f"level {p} differs from the 2x2 mean of the level above by {d}")
        prev = level
    result["failures"] = failures
    print(json.dumps(result))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
