#!/usr/bin/env python3
"""Reference decoder: writes level LEVEL of series 0 of SLIDE, decoded by tifffile + imagecodecs,
as tight interleaved host-order bytes to OUT, and prints "height width"."""
import sys

import numpy as np
import tifffile

path, level, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with tifffile.TiffFile(path) as tif:
    data = tif.series[0].levels[level].asarray()
data = np.ascontiguousarray(data.astype(data.dtype.newbyteorder("=")))
data.tofile(out)
print(data.shape[0], data.shape[1])
