#!/usr/bin/env python3
"""OpenSlide 4.0.1 (openslide-bin + openslide-python) on one slide: what the NDPI tests compare
with. Writes into OUT: info.json (vendor, levels, properties, associated image sizes) and, for
every level and associated image, its whole read_region / associated image as raw RGBA bytes
(level_N.rgba, associated_NAME.rgba). Exits 2 where OpenSlide does not open the file.
usage: ndpi_reference.py SLIDE OUT"""
import json
import pathlib
import sys

import numpy as np
import openslide


def main():
    slide_path, out = sys.argv[1], pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    try:
        slide = openslide.OpenSlide(slide_path)
    except openslide.OpenSlideError as e:
        print(f"OpenSlide {openslide.__library_version__}: {e}")
        return 2
    info = {"library": openslide.__library_version__,
            "vendor": slide.properties.get("openslide.vendor"),
            "properties": dict(slide.properties), "levels": [], "associated": {}}
    for i in range(slide.level_count):
        w, h = slide.level_dimensions[i]
        info["levels"].append({"width": w, "height": h, "downsample": slide.level_downsamples[i]})
        rgba = np.asarray(slide.read_region((0, 0), i, (w, h)))
        (out / f"level_{i}.rgba").write_bytes(np.ascontiguousarray(rgba).tobytes())
    for name, image in slide.associated_images.items():
        info["associated"][name] = list(image.size)
        rgba = np.asarray(image.convert("RGBA"))
        (out / f"associated_{name}.rgba").write_bytes(np.ascontiguousarray(rgba).tobytes())
    (out / "info.json").write_text(json.dumps(info, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
