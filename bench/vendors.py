#!/usr/bin/env python3
"""Philips TIFF, Leica SCN, Ventana BIF and libvips JPEG 2000 (issue 17): slidestream against
OpenSlide 4.0.1 and fastslide in one call, as bench/ndpi.py does for NDPI (its cases, per slide).

  python3 bench/vendors.py --slides /tmp/bench-slides --out vendors.json [--cli build/slidestream]
      [--source .carry/cmu-1-small-region.svs] [--patches 4000] [--peer-patches 1000]
      [--only philips,leica,ventana,jp2k]

The slides (made once in --slides by tests/fixtures/make_vendor_fixtures.py's writers from the
real scan, tiled to 8192 x 6144; tifffile + imagecodecs, and `vips` for JPEG 2000):
  philips:  512 px JPEG tiles, levels padded past the image, sizes from the XML's spacing;
  leica:    two 4096^2 regions of 512 px JPEG tiles on a 16384 x 20480 canvas;
  ventana:  a BIF of one 16 x 12 tile area (512 px JPEG tiles, no overlap), 3 levels;
  jp2k:     vips tiffsave --compression jp2k --lossless, 512 px tiles (OpenSlide cannot read it:
            only slidestream's rows, the GPU decoding with nvJPEG2000).
Cases per slide (bench/ndpi.py): first (open + one centre patch, goal 50 ms), random (random
256^2 level-0 patches, read_regions cpu/cuda, OpenSlide 1/N threads, fastslide N threads, pixel
check of the first 64 against OpenSlide), level (whole level 0: `slidestream read` cpu/cuda,
OpenSlide in 4096^2 pieces; goal GPU 10x). A slide that cannot be made here is recorded as
skipped. Writes JSON after every row.
"""
import argparse
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "fixtures"))
import ndpi as bench  # noqa: E402  (its record / first_pixel / random_patches / whole_level)


def make(kind, source, path, scale):
    import make_vendor_fixtures as vf
    import tifffile

    with tifffile.TiffFile(source) as tif:
        tissue = np.ascontiguousarray(tif.pages[0].asarray()[:2048 // scale, :2048 // scale])
    big = np.ascontiguousarray(np.tile(tissue, (3, 4, 1)))  # 6144 x 8192 at scale 1
    tile = 512 // scale
    if kind == "philips":
        vf.write_philips(path, big, tile, set(), label_in_tiff=False, macro_in_tiff=True,
                         min_side=256 // scale)
    elif kind == "leica":
        vf.write_leica(path, big, tile, unit=4096 // scale)
    elif kind == "ventana":
        vf.write_ventana(path, big, tile, [(0, 0, 16, 12, 0, 0)], 3)
    else:
        src = pathlib.Path(str(path) + ".src.tif")
        tifffile.imwrite(src, big, photometric="rgb")
        subprocess.run(["vips", "tiffsave", str(src), str(path), "--compression", "jp2k",
                        "--lossless", "--tile", "--tile-width", str(tile), "--tile-height",
                        str(tile), "--pyramid"], check=True)
        src.unlink()


def ours_only(path, args):
    """OpenSlide cannot read the slide: our rows only, the CPU read checking the GPU's."""
    import slidestream

    with slidestream.Slide(path) as s:
        w, h = s.dimensions
    rng = np.random.default_rng(12)
    locs = np.stack([rng.integers(0, w - bench.SIZE, args.patches),
                     rng.integers(0, h - bench.SIZE, args.patches)], 1)
    with slidestream.Slide(path) as s:
        ref = {i: np.asarray(s.read_region((int(x), int(y)), 0, (bench.SIZE, bench.SIZE)))[..., :3]
               for i, (x, y) in enumerate(locs[:bench.peers.CHECK])}
    for device in ("cpu", "cuda"):
        bench.timed(f"slidestream read_regions ({device})", bench.ours_batches(path, locs, device),
                    len(locs), ref)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slides", required=True)
    ap.add_argument("--out")
    ap.add_argument("--cli", default=str(HERE.parent / "build" / "slidestream"))
    ap.add_argument("--build")
    default_source = ".carry/cmu-1-small-region.svs"
    if not os.path.exists(default_source):
        default_source = str(HERE.parent.parent / "shared" / "testdata" / "cmu-1-small-region.svs")
    ap.add_argument("--source", default=default_source)
    ap.add_argument("--patches", type=int, default=4000)
    ap.add_argument("--peer-patches", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1))
    ap.add_argument("--only", default="philips,leica,ventana,jp2k")
    ap.add_argument("--scale", type=int, default=1, help="divide the slides' sides (quick runs)")
    args = ap.parse_args()
    bench.OUT = args.out
    bench.META.update({"cpus": os.cpu_count(), "slides": {}})
    names = {"philips": "bench-philips.tiff", "leica": "bench-leica.scn",
             "ventana": "bench-ventana.bif", "jp2k": "bench-vips-jp2k.tif"}
    for kind in args.only.split(","):
        path = pathlib.Path(args.slides) / names[kind]
        if args.scale != 1:
            path = path.with_name(f"s{args.scale}-" + path.name)
        if not path.exists():
            pathlib.Path(args.slides).mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp" + path.suffix)
            try:
                t0 = time.perf_counter()
                make(kind, args.source, tmp, args.scale)
                os.replace(tmp, path)
                bench.record("make", kind, seconds=round(time.perf_counter() - t0, 1))
            except Exception as e:
                bench.record("make", kind, skipped=f"{type(e).__name__}: {e}"[:300])
                continue
        bench.META["slides"][kind] = {"path": str(path), "bytes": path.stat().st_size}
        path.read_bytes()  # pages cached
        bench.RESULTS.append({"case": "slide", "what": kind})
        bench.first_pixel(str(path))
        if kind == "jp2k":
            try:
                ours_only(str(path), args)
            except Exception as e:
                bench.record("random", "slidestream", error=f"{type(e).__name__}: {e}"[:300])
        else:
            bench.random_patches(str(path), args)
        bench.whole_level(str(path), args.cli)
    return 0


if __name__ == "__main__":
    sys.exit(main())
