"""Reads a `slidestream patches --out patches.zarr` array with zarr-python 3 and writes its bytes
(as (N, size, size, 3) uint8) to RAW; prints the count, size and the attributes' first corner.

Usage: patches_zarr_dump.py ZARR RAW
"""
import sys

import numpy as np
import zarr

array = zarr.open_array(sys.argv[1], mode="r")
meta = array.attrs["slidestream_patches"]
size = meta["size"]
pixels = np.asarray(array[:]).reshape(-1, size, size, 3)
pixels.tofile(sys.argv[2])
first = meta["level0_corners"][0] if meta["level0_corners"] else [-1, -1]
print(pixels.shape[0], size, first[0], first[1])
