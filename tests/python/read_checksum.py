#!/usr/bin/env python3
"""Independent reference for `slidestream read`'s checksum: tifffile decodes the level, and
google_crc32c checksums its tight bytes (IO-NOTES "Conventions"). Prints crc32c:XXXXXXXX."""
import sys

import google_crc32c
import numpy as np
import tifffile

path, level = sys.argv[1], int(sys.argv[2])
with tifffile.TiffFile(path) as tif:
    pages = [p for p in tif.pages if p.is_tiled]
    pixels = np.ascontiguousarray(pages[level].asarray())
print("crc32c:%08x" % google_crc32c.value(pixels.tobytes()))
