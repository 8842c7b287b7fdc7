#!/usr/bin/env python3
"""Independent metadata reference (tifffile): levels, tile sizes, compression, resolution-based
and OME-XML microns per pixel and objective power of a slide, as JSON on stdout.

Levels follow the rule the tests check our reader against: the first page, tiled main-chain
pages marked reduced-resolution (NewSubfileType bit 0), and the tiled SubIFDs of the first page,
largest first. Usage: metadata_reference.py FILE
"""
import json
import sys
import xml.etree.ElementTree as ET

import tifffile

UNITS_UM = {"pm": 1e-6, "nm": 1e-3, "µm": 1.0, "um": 1.0, "mm": 1e3, "cm": 1e4, "m": 1e6,
            "in": 25400.0}


def level_of(page):
    return {"width": int(page.imagewidth), "height": int(page.imagelength),
            "tile_width": int(page.tilewidth), "tile_height": int(page.tilelength),
            "compression": int(page.compression),
            "samples_per_pixel": int(page.samplesperpixel),
            "bits_per_sample": int(page.bitspersample),
            "planar_configuration": int(page.planarconfig)}


def main(path):
    out = {}
    with tifffile.TiffFile(path) as tif:
        pages = tif.pages
        first = pages[0]
        out["big_endian"] = tif.byteorder == ">"
        out["bigtiff"] = bool(tif.is_bigtiff)
        desc = first.description or ""
        out["is_ome"] = desc.lstrip().startswith("<") and "<OME" in desc
        out["is_aperio"] = desc.startswith("Aperio")
        levels = [first]
        if not out["is_aperio"]:
            if not out["is_ome"]:
                for page in list(pages)[1:]:
                    if page.is_tiled and (int(page.subfiletype) & 1):
                        levels.append(page)
            for sub in (first.pages or []):
                if sub.is_tiled:
                    levels.append(sub)
            levels.sort(key=lambda p: -int(p.imagewidth))
        else:
            levels = [p for p in pages if p.is_tiled]
        out["levels"] = [level_of(p) for p in levels]
        mpp_x = mpp_y = objective = None
        if out["is_ome"]:
            root = ET.fromstring(desc)
            ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
            pixels = root.find(f"{ns}Image/{ns}Pixels")
            def size(axis):
                v = pixels.get(f"PhysicalSize{axis}")
                if v is None:
                    return None
                return float(v) * UNITS_UM[pixels.get(f"PhysicalSize{axis}Unit", "µm")]
            mpp_x, mpp_y = size("X"), size("Y")
            image = root.find(f"{ns}Image")
            settings = image.find(f"{ns}ObjectiveSettings")
            for obj in root.iter(f"{ns}Objective"):
                if settings is None or obj.get("ID") == settings.get("ID"):
                    if obj.get("NominalMagnification"):
                        objective = float(obj.get("NominalMagnification"))
                    break
            out["associated"] = {}
            for im in root.findall(f"{ns}Image")[1:]:
                name = (im.get("Name") or "").lower()
                td = im.find(f"{ns}Pixels/{ns}TiffData")
                if name in ("label", "macro", "thumbnail") and td is not None:
                    page = pages[int(td.get("IFD", "0"))]
                    out["associated"][name] = [int(page.imagewidth), int(page.imagelength)]
        elif not out["is_aperio"]:
            tags = first.tags
            unit = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2
            def mpp(name):
                if name not in tags:
                    return None
                num, den = tags[name].value
                res = float(num) / float(den) if den else 0.0
                import numpy as np
                res = float(np.float32(res))  # libtiff keeps resolutions as float
                if res <= 0:
                    return None
                return {3: 10000.0 / res, 2: 25400.0 / res}.get(unit)
            mpp_x, mpp_y = mpp("XResolution"), mpp("YResolution")
        out["mpp_x"], out["mpp_y"], out["objective_power"] = mpp_x, mpp_y, objective
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
