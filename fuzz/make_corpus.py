#!/usr/bin/env python3
"""Writes the fuzzer's seed corpus: copies of the small public test slides plus tiny slides from
tifffile covering each layout the parser and decoders handle (byte orders, BigTIFF, SubIFDs,
OME-XML, Aperio layout with stripped associated images, every compression, planar, 16-bit and
float samples). Every file stays a few KB so the fuzzer mutates structure, not pixels.
Usage: make_corpus.py [OUT_DIR]   (default: fuzz/corpus next to this script)
"""
import pathlib
import shutil
import sys

import numpy as np
import tifffile

HERE = pathlib.Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "testdata"


def image(h, w, c=3, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    base = np.add.outer(np.arange(h), np.arange(w)).astype(np.float64)
    img = (base[..., None] * (1 + np.arange(c)) + rng.integers(0, 8, (h, w, c))) % 256
    img = img.astype(dtype)
    return img if c > 1 else img[..., 0]


def pyramid(path, levels, tile=16, subifds=False, **kw):
    byteorder = kw.pop("byteorder", "<")
    bigtiff = kw.pop("bigtiff", False)
    with tifffile.TiffWriter(path, byteorder=byteorder, bigtiff=bigtiff) as w:
        if subifds:
            w.write(levels[0], tile=(tile, tile), subifds=len(levels) - 1, metadata=None, **kw)
            for l in levels[1:]:
                w.write(l, tile=(tile, tile), subfiletype=1, metadata=None, **kw)
        else:
            for i, l in enumerate(levels):
                w.write(l, tile=(tile, tile), subfiletype=1 if i else 0, metadata=None, **kw)


def main(out):
    out.mkdir(parents=True, exist_ok=True)
    for name in ("small.svs", "boxes.tiff", "unreadable.svs", "unopenable.tiff"):
        if (SHARED / name).exists():
            shutil.copy(SHARED / name, out / name)
    rgb = [image(40, 50), image(20, 25)]
    grey16 = [image(40, 50, 1, np.uint16), image(20, 25, 1, np.uint16)]
    f32 = [image(33, 17, 1, np.float32)]
    pyramid(out / "none.tif", rgb, photometric="rgb")
    pyramid(out / "jpeg.tif", rgb, photometric="rgb", compression="jpeg")
    pyramid(out / "deflate-pred.tif", rgb, photometric="rgb", compression="zlib", predictor=True)
    pyramid(out / "lzw.tif", rgb, photometric="rgb", compression="lzw", predictor=True)
    pyramid(out / "zstd.tif", rgb, photometric="rgb", compression="zstd")
    pyramid(out / "j2k.tif", rgb[:1], photometric="rgb", compression="jpeg2000",
            compressionargs={"reversible": True})
    pyramid(out / "planar.tif", [np.ascontiguousarray(np.moveaxis(l, -1, 0)) for l in rgb],
            photometric="rgb", planarconfig="separate", compression="zlib")
    pyramid(out / "be-grey16.tif", grey16, photometric="minisblack", byteorder=">",
            compression="zlib", predictor=True)
    pyramid(out / "bigtiff-float.tif", f32, photometric="minisblack", bigtiff=True,
            compression="zlib", predictor=3)
    pyramid(out / "subifd-be-bigtiff.tif", rgb, subifds=True, photometric="rgb", byteorder=">",
            bigtiff=True)
    with tifffile.TiffWriter(out / "ome.ome.tif", ome=True) as w:
        w.write(rgb[0], tile=(16, 16), subifds=1, photometric="rgb",
                metadata={"axes": "YXS", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5})
        w.write(rgb[1], tile=(16, 16), subfiletype=1, photometric="rgb")
    # Aperio layout: tiled level, stripped thumbnail, LZW label, JPEG macro.
    desc = "Aperio Image Library v12.0.0\r\n50x40 (16x16) JPEG/RGB Q=30|AppMag = 20|MPP = 0.5"
    with tifffile.TiffWriter(out / "aperio.svs") as w:
        w.write(rgb[0], tile=(16, 16), photometric="rgb", compression="jpeg",
                description=desc, metadata=None)
        w.write(rgb[1], photometric="rgb", compression="jpeg", rowsperstrip=8,
                description="Aperio Image Library v12.0.0\n50x40 -> 25x20", metadata=None)
        w.write(rgb[1], photometric="rgb", compression="lzw", rowsperstrip=8, subfiletype=1,
                description="Aperio Image Library v12.0.0\nlabel 25x20", metadata=None)
        w.write(rgb[1], photometric="rgb", compression="jpeg", rowsperstrip=8, subfiletype=9,
                description="Aperio Image Library v12.0.0\nmacro 25x20", metadata=None)
    total = sum(p.stat().st_size for p in out.iterdir())
    print(f"{len(list(out.iterdir()))} seeds, {total} bytes in {out}")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "corpus")
