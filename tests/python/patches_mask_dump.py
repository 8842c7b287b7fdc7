"""Reads a `slidestream patches --mask-out mask.zarr` array with zarr-python 3; prints its height,
width and tissue pixel count, after checking its attributes carry the scale.

Usage: patches_mask_dump.py ZARR
"""
import sys

import numpy as np
import zarr

array = zarr.open_array(sys.argv[1], mode="r")
meta = array.attrs["slidestream_tissue_mask"]
assert meta["scale_x"] > 0 and meta["scale_y"] > 0, meta
mask = np.asarray(array[:])
assert set(np.unique(mask)) <= {0, 1}, np.unique(mask)
print(mask.shape[0], mask.shape[1], int(mask.sum()))
