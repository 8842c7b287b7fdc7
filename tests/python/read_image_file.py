#!/usr/bin/env python3
"""Decodes an image file written by `slidestream region` with independent readers (PIL for PNG,
tifffile for TIFF) and writes its pixels as tight host-order bytes to OUT; prints
"height width channels dtype"."""
import sys

import numpy as np

path, out = sys.argv[1], sys.argv[2]
if path.lower().endswith(".png"):
    from PIL import Image

    with Image.open(path) as im:
        data = np.array(im)
else:
    import tifffile

    data = tifffile.imread(path)
data = np.ascontiguousarray(data.astype(data.dtype.newbyteorder("=")))
data.tofile(out)
channels = data.shape[2] if data.ndim == 3 else 1
print(data.shape[0], data.shape[1], channels, data.dtype.name)
