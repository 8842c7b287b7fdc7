#!/usr/bin/env python3
"""OpenSlide 4.0.1 (openslide-bin through openslide-python) as the reference for a slide:
    openslide4_dump.py SLIDE OUTDIR
writes OUTDIR/meta.json (detected vendor, library version, properties, levels' sizes and
downsamples, associated images' sizes), OUTDIR/level-N.rgba (read_region of the whole level N,
un-premultiplied RGBA, 8 bits per sample, row-major) and OUTDIR/associated-NAME.rgba.
"""
import json
import pathlib
import sys

import numpy as np
import openslide


def main():
    path, out = sys.argv[1], pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    meta = {"library_version": openslide.__library_version__,
            "vendor": openslide.OpenSlide.detect_format(path)}
    with openslide.OpenSlide(path) as s:
        meta["properties"] = dict(s.properties)
        meta["levels"] = [{"width": w, "height": h, "downsample": d}
                          for (w, h), d in zip(s.level_dimensions, s.level_downsamples)]
        for i, (w, h) in enumerate(s.level_dimensions):
            rgba = np.asarray(s.read_region((0, 0), i, (w, h)), dtype=np.uint8)
            (out / f"level-{i}.rgba").write_bytes(np.ascontiguousarray(rgba).tobytes())
        meta["associated"] = {}
        for name, image in s.associated_images.items():
            rgba = np.asarray(image.convert("RGBA"), dtype=np.uint8)
            meta["associated"][name] = {"width": image.size[0], "height": image.size[1]}
            (out / f"associated-{name}.rgba").write_bytes(np.ascontiguousarray(rgba).tobytes())
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
