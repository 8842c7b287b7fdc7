#!/usr/bin/env python3
"""OpenSlide 4.0.1's read_region for a list of regions:
    openslide4_regions.py SLIDE OUTDIR LEVEL,X,Y,W,H [...]
(X, Y in the level's own pixels; multiplied by the level's downsample for OpenSlide, which
takes level-0 coordinates) writes OUTDIR/region-I.rgba for the I-th region (un-premultiplied
RGBA, row-major).
"""
import pathlib
import sys

import numpy as np
import openslide


def main():
    path, out = sys.argv[1], pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    with openslide.OpenSlide(path) as s:
        for i, spec in enumerate(sys.argv[3:]):
            level, x, y, w, h = (int(v) for v in spec.split(","))
            ds = s.level_downsamples[level]
            assert ds == int(ds), "integer downsamples only"
            rgba = np.asarray(s.read_region((x * int(ds), y * int(ds)), level, (w, h)), np.uint8)
            (out / f"region-{i}.rgba").write_bytes(np.ascontiguousarray(rgba).tobytes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
