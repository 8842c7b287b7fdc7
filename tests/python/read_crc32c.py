#!/usr/bin/env python3
"""Prints the CRC-32C (google_crc32c) of level LEVEL of series 0 of SLIDE as decoded by tifffile,
laid out tightly (row-major, samples interleaved): the user's way to check `slidestream read`."""
import sys

import google_crc32c
import numpy as np
import tifffile

path, level = sys.argv[1], int(sys.argv[2])
with tifffile.TiffFile(path) as tif:
    data = tif.series[0].levels[level].asarray()
data = np.ascontiguousarray(data.astype(data.dtype.newbyteorder("=")))
print(f"crc32c:{google_crc32c.value(data.tobytes()):08x}")
