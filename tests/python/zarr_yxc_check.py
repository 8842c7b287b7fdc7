"""Checks `slidestream convert --layout yxc` output: the seed's own Zarr files.

Usage: zarr_yxc_check.py OUT SLIDE LEVEL[,LEVEL...] CHUNK
One level: OUT is a plain Zarr array; several: OUT is a plain Zarr group (no OME-NGFF metadata)
whose array i is level LEVELS[i]. Each array must be (H, W, C) with chunks (CHUNK, CHUNK, C), no
transpose codec, and read, through zarr-python 3 and tensorstore alike, as the slide's level read
by tifffile. Prints OK or the problems.
"""
import json
import pathlib
import sys

import numpy as np
import tensorstore as ts
import tifffile
import zarr


def tifffile_levels(slide):
    with tifffile.TiffFile(slide) as tif:
        pyramid = tif.series[0].levels
        if len(pyramid) < 2:
            pyramid = [p for p in tif.pages if p.is_tiled]
        out = []
        for level in pyramid:
            a = level.asarray()
            if a.ndim == 3 and a.shape[0] < 8 and a.shape[2] > 8:
                a = a.transpose(1, 2, 0)  # planar TIFF -> interleaved
            out.append(a)
        return out


def check_array(path, want, chunk, problems):
    path = pathlib.Path(path)
    v3 = (path / "zarr.json").exists()
    meta = json.loads((path / ("zarr.json" if v3 else ".zarray")).read_text())
    if "transpose" in json.dumps(meta):
        problems.append(f"{path}: a transpose codec in {meta}")
    if not v3 and meta.get("filters"):
        problems.append(f"{path}: v2 filters {meta['filters']}")
    c = want.shape[2]
    arr = zarr.open_array(str(path), mode="r")
    if tuple(arr.shape) != want.shape or tuple(arr.chunks) != (chunk, chunk, c):
        problems.append(f"{path}: zarr-python shape {arr.shape} chunks {arr.chunks}, "
                        f"want {want.shape} and {(chunk, chunk, c)}")
    elif not np.array_equal(arr[...], want):
        problems.append(f"{path}: zarr-python pixels differ from tifffile's")
    store = ts.open({"driver": "zarr3" if v3 else "zarr",
                     "kvstore": {"driver": "file", "path": str(path)}}, read=True).result()
    read_chunk = tuple(store.chunk_layout.read_chunk.shape)
    if tuple(store.shape) != want.shape or read_chunk != (chunk, chunk, c):
        problems.append(f"{path}: tensorstore shape {store.shape} chunks {read_chunk}")
    elif not np.array_equal(store.read().result(), want):
        problems.append(f"{path}: tensorstore pixels differ from tifffile's")


def main() -> int:
    out, slide, level_list, chunk = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    levels = [int(v) for v in level_list.split(",")]
    pyramid = tifffile_levels(slide)
    problems = []
    if len(levels) == 1:
        check_array(out, pyramid[levels[0]], chunk, problems)
    else:
        group = zarr.open_group(out, mode="r")
        attrs = dict(group.attrs)
        if "multiscales" in attrs or "ome" in attrs:
            problems.append(f"a (y, x, c) group with OME-NGFF metadata: {attrs}")
        for i, level in enumerate(levels):
            check_array(pathlib.Path(out) / str(i), pyramid[level], chunk, problems)
    print("\n".join(problems) if problems else "OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
