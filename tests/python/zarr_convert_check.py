"""Checks `slidestream convert` output against the slide read by tifffile (an independent reader).

Usage: zarr_convert_check.py OUT.zarr SLIDE LEVEL[,LEVEL...]
Output array i must equal the slide's pyramid level LEVELS[i] (tifffile's series 0 levels), as
read by zarr-python 3; the group must validate with ome-zarr-models. Prints OK or the problems.
"""
import sys

import numpy as np
import tifffile
import zarr


def main() -> int:
    out, slide, level_list = sys.argv[1], sys.argv[2], sys.argv[3]
    levels = [int(v) for v in level_list.split(",")]
    problems = []
    group = zarr.open_group(out, mode="r")
    if group.metadata.zarr_format == 2:
        from ome_zarr_models.v04.image import Image
    else:
        from ome_zarr_models.v05.image import Image
    try:
        Image.from_zarr(group)
    except Exception as ex:  # noqa: BLE001
        problems.append(f"ome-zarr-models rejects the image: {ex}")
    with tifffile.TiffFile(slide) as tif:
        # A pyramid series where tifffile recognises one, else the tiled pages of the main IFD
        # chain in order (how vips writes pyramids; the order slidestream numbers levels in).
        pyramid = tif.series[0].levels
        if len(pyramid) < 2:
            pyramid = [p for p in tif.pages if p.is_tiled]
        for i, level in enumerate(levels):
            want = pyramid[level].asarray()
            if want.ndim == 3 and want.shape[0] < 8 and want.shape[2] > 8:
                want = want.transpose(1, 2, 0)  # planar TIFF → interleaved
            got = np.asarray(group[str(i)][...])
            if got.ndim == 3:
                got = got.transpose(1, 2, 0)
            if got.shape != want.shape or not np.array_equal(got, want):
                diff = "shape" if got.shape != want.shape else int(np.abs(
                    got.astype(np.float64) - want.astype(np.float64)).max())
                problems.append(f"array {i} (level {level}) differs: {got.shape} vs {want.shape}, "
                                f"max diff {diff}")
    print("\n".join(problems) if problems else "OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
