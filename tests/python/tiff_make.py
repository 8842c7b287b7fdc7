#!/usr/bin/env python3
"""Small TIFF variants for the slide-model tests, written by tifffile (an independent writer):
byte orders, BigTIFF, SubIFD pyramids, OME-XML metadata, resolution units, strips.
Usage: tiff_make.py OUT_DIR   (writes the files listed in CASES)
"""
import pathlib
import sys

import numpy as np
import tifffile


def pyramid(image, count):
    levels = [image]
    for _ in range(count - 1):
        levels.append(np.ascontiguousarray(levels[-1][::2, ::2]))
    return levels


def rng_image(h, w, c=3, dtype=np.uint8, seed=1):
    rng = np.random.default_rng(seed)
    shape = (h, w, c) if c > 1 else (h, w)
    return rng.integers(0, 255, size=shape).astype(dtype)


def main_chain(path, levels, tile, byteorder="<", bigtiff=False, **kw):
    with tifffile.TiffWriter(path, byteorder=byteorder, bigtiff=bigtiff) as w:
        for i, level in enumerate(levels):
            w.write(level, tile=(tile, tile), subfiletype=1 if i else 0, metadata=None, **kw)


def subifds(path, levels, tile, byteorder="<", bigtiff=False, **kw):
    with tifffile.TiffWriter(path, byteorder=byteorder, bigtiff=bigtiff) as w:
        w.write(levels[0], tile=(tile, tile), subifds=len(levels) - 1, metadata=None, **kw)
        for level in levels[1:]:
            w.write(level, tile=(tile, tile), subfiletype=1, metadata=None, **kw)


def ome(path, levels, tile):
    """OME-TIFF with a SubIFD pyramid, physical sizes in nm and µm, a 40x objective that the
    image references, and a label image."""
    label = rng_image(40, 60, seed=7)
    xml = tifffile.OmeXml()
    xml.addimage("uint8", levels[0].shape, (1, 1, 1) + levels[0].shape, axes="YXS", Name="slide",
                 PhysicalSizeX=250.0, PhysicalSizeXUnit="nm", PhysicalSizeY=0.26,
                 PhysicalSizeYUnit="µm")
    xml.addimage("uint8", label.shape, (1, 1, 1) + label.shape, axes="YXS", Name="label")
    text = xml.tostring()
    # tifffile's OmeXml writes no instrument: add one (objectives 10x and 40x, the image uses
    # the second) where the schema puts it, before the first Image.
    instrument = ('<Instrument ID="Instrument:0"><Objective ID="Objective:0:0" '
                  'NominalMagnification="10.0"/><Objective ID="Objective:0:1" '
                  'NominalMagnification="40.0"/></Instrument>')
    first_image = text.index("<Image ")
    text = text[:first_image] + instrument + text[first_image:]
    text = text.replace('Name="slide">', 'Name="slide"><InstrumentRef ID="Instrument:0"/>'
                        '<ObjectiveSettings ID="Objective:0:1"/>', 1)
    with tifffile.TiffWriter(path, bigtiff=True) as w:
        w.write(levels[0], tile=(tile, tile), subifds=len(levels) - 1, photometric="rgb",
                compression="zlib", description=text.encode("utf-8"), metadata=None)
        for level in levels[1:]:
            w.write(level, tile=(tile, tile), subfiletype=1, photometric="rgb",
                    compression="zlib", metadata=None)
        w.write(label, photometric="rgb", metadata=None)


def main(out):
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rgb = rng_image(300, 410)
    grey16 = rng_image(260, 333, c=1, dtype=np.uint16)
    main_chain(out / "be-classic-rgb.tif", pyramid(rgb, 3), 64, byteorder=">",
               photometric="rgb", compression="zlib",
               resolution=(4000.0, 4000.0), resolutionunit="CENTIMETER")
    main_chain(out / "le-bigtiff-rgb.tif", pyramid(rgb, 3), 128, bigtiff=True,
               photometric="rgb", resolution=(50800.0, 50800.0), resolutionunit="INCH")
    main_chain(out / "be-bigtiff-grey16.tif", pyramid(grey16, 2), 64, byteorder=">",
               bigtiff=True, photometric="minisblack", compression="zstd")
    subifds(out / "le-subifd-rgb.tif", pyramid(rgb, 3), 64, photometric="rgb",
            compression="zlib")
    subifds(out / "be-bigtiff-subifd-rgb.tif", pyramid(rgb, 3), 64, byteorder=">", bigtiff=True,
            photometric="rgb")
    main_chain(out / "le-lzw-rgb.tif", pyramid(rgb, 2), 64, photometric="rgb",
               compression="lzw")
    ome(out / "ome-pyramid.ome.tif", pyramid(rgb, 3), 64)
    # Three channels as separate planes: a multi-plane OME image, not one slide plane.
    tifffile.imwrite(out / "unsupported-ome-channels.ome.tif",
                     rng_image(3 * 64, 80, c=1, dtype=np.uint16).reshape(3, 64, 80),
                     tile=(32, 32), ome=True, metadata={"axes": "CYX"})
    # A stripped image: not a slide (no tiled level).
    tifffile.imwrite(out / "stripped.tif", rgb, photometric="rgb", rowsperstrip=16)


if __name__ == "__main__":
    main(sys.argv[1])
