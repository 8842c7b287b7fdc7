#!/usr/bin/env python3
"""Adds tiny vendor slides to the open_read seed corpus (fuzz/corpus/open_read/): Philips TIFF
(sparse, padded levels, XML label), Leica SCN (two regions; regions off the tile grid), Ventana
BIF (stitching XML; overlapping tiles) and a
libvips JPEG 2000 (33004) pyramid, made by the writers of tests/fixtures/make_vendor_fixtures.py
from a small synthetic image, each a few KB so that the fuzzer mutates structure and XML.
Usage: make_vendor_corpus.py [OUT_DIR]   (default: fuzz/corpus next to this script)
"""
import pathlib
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "fixtures"))
import make_vendor_fixtures as vf  # noqa: E402


def main():
    out = (pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "corpus") / "open_read"
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(17)
    base = np.add.outer(np.arange(128), np.arange(160)).astype(np.float64)
    img = ((base[..., None] * (1 + np.arange(3)) + rng.integers(0, 8, (128, 160, 3))) % 256)
    img = np.ascontiguousarray(img.astype(np.uint8))
    vf.write_philips(out / "philips.tiff", img[:48, :64], 16, {(0, 1)}, label_in_tiff=False,
                     macro_in_tiff=True, min_side=12)
    vf.write_leica(out / "leica.scn", img[:64, :64], 16, unit=64)
    vf.write_ventana(out / "ventana.bif", img[:32, :48], 16, [(0, 0, 3, 2, 0, 0)], 3)
    vf.write_vips_jp2k(out, img[:40, :56], "vips-jp2k.tif", "--Q", "30")
    # Composed levels: Leica regions off the tile grid (overlapping, one of 32 px tiles) and a
    # BIF whose tiles overlap.
    vf.write_leica_regions(out / "leica-off-grid.scn", img[:32, :32], 16, (96, 112),
                           [(img[:24, :24], (5, 7), 16), (img[40:72, 40:72], (21, 19), 32),
                            (img[:20, :32], (60, 80), 16)])
    vf.write_ventana_overlap(out / "ventana-overlap.bif", img, tile=16, overlap=(2, 1),
                             label_size=(16, 24))
    for name in ("philips.tiff", "leica.scn", "ventana.bif", "vips-jp2k.tif",
                 "leica-off-grid.scn", "ventana-overlap.bif"):
        print(name, (out / name).stat().st_size, "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
