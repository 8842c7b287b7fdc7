"""Checks an OME-Zarr image slidestream wrote, with ome-zarr-py (the napari plugin's reader) and
the ome-zarr-models validator (pydantic models of the NGFF 0.4 / 0.5 specs).

Usage: zarr_ome_check.py ROOT VERSION MPP_X MPP_Y RAW_DIR
VERSION is 0.4 or 0.5; MPP_X/MPP_Y are microns per pixel of level 0 ("none" for no units).
RAW_DIR holds level<i>.raw (interleaved pixels) and levels.json ([{"downsample", "height",
"width", "channels", "dtype"}]). Prints "OK" and exits 0, or prints what is wrong and exits 1.
"""
import json
import pathlib
import sys

import numpy as np
import zarr
from ome_zarr.io import parse_url
from ome_zarr.reader import Multiscales, Reader


def main() -> int:
    root, version, mpp_x, mpp_y, raw_dir = sys.argv[1:6]
    raw_dir = pathlib.Path(raw_dir)
    levels = json.load(open(raw_dir / "levels.json"))
    problems = []

    # 1. The validator: the group's metadata must parse as an NGFF Image of this version.
    group = zarr.open_group(root, mode="r")
    if version == "0.4":
        from ome_zarr_models.v04.image import Image
    else:
        from ome_zarr_models.v05.image import Image
    try:
        Image.from_zarr(group)
    except Exception as ex:  # noqa: BLE001
        problems.append(f"ome-zarr-models rejects the image: {ex}")

    # 2. ome-zarr-py: axes, scales and every level's pixels.
    reader = Reader(parse_url(root))
    nodes = [n for n in reader() if any(isinstance(s, Multiscales) for s in n.specs)]
    if not nodes:
        problems.append("ome-zarr-py finds no multiscales image")
    else:
        node = nodes[0]
        axes = node.metadata.get("axes")
        channels = levels[0]["channels"]
        names = [a["name"] if isinstance(a, dict) else a for a in axes]
        want_names = ["c", "y", "x"] if channels > 1 else ["y", "x"]
        if names != want_names:
            problems.append(f"axes {names}, expected {want_names}")
        transforms = node.metadata.get("coordinateTransformations")
        for i, level in enumerate(levels):
            scale = transforms[i][0]["scale"]
            sy = (float(mpp_y) if mpp_y != "none" else 1.0) * level["downsample"]
            sx = (float(mpp_x) if mpp_x != "none" else 1.0) * level["downsample"]
            want = [1.0, sy, sx] if channels > 1 else [sy, sx]
            if not np.allclose(scale, want):
                problems.append(f"level {i} scale {scale}, expected {want}")
            data = np.asarray(node.data[i])
            h, w, c = level["height"], level["width"], level["channels"]
            raw = np.fromfile(raw_dir / f"level{i}.raw", dtype=level["dtype"]).reshape(h, w, c)
            expected = raw.transpose(2, 0, 1) if c > 1 else raw[:, :, 0]
            if data.shape != expected.shape or not np.array_equal(data, expected):
                problems.append(f"level {i} pixels differ (shape {data.shape})")
        if mpp_x != "none":
            units = [a.get("unit") for a in axes if isinstance(a, dict) and a.get("type") == "space"]
            if units != ["micrometer", "micrometer"]:
                problems.append(f"space units {units}")
    print("\n".join(problems) if problems else "OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
