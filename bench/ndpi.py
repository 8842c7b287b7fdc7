#!/usr/bin/env python3
"""Hamamatsu NDPI (issue 17): slidestream against OpenSlide 4.0.1 and fastslide in one call.

  python3 bench/ndpi.py --slides /tmp/bench-slides --out ndpi.json [--cli build/slidestream]
      [--source .carry/cmu-1-small-region.svs] [--patches 4000] [--peer-patches 1000]

The slide (made once in --slides by tests/fixtures/make_ndpi_fixtures.py's layout from the real
scan, tiled): level 0 16384 x 12288 in restart intervals of 512 x 8 (recorded offsets), level 1
4096 x 3072 (same), level 2 1024 x 768 without restart markers, a macro; OpenSlide adds its
scaled levels. Pages cached (the file is read once first). Cases:
  first:  open a fresh slide and read one 256^2 patch at the centre (5 times; first and median).
          Goal: within 50 ms.
  random: random 256^2 level-0 patches (seed 12): slidestream read_regions (batches of 256, cpu
          and cuda), OpenSlide 1 and --workers threads, fastslide --workers threads; the first 64
          patches of every row checked against OpenSlide's (max difference). Goal: 3x OpenSlide.
  level:  the whole level 0: `slidestream read` (cpu; cuda, which decodes the pseudo-tiles with
          nvJPEG) against OpenSlide's read_region in 4096^2 pieces (1 thread). Goal: GPU 10x.
Peers that are missing or refuse the file are recorded as skipped. Writes JSON after every row.
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "fixtures"))
import patches_peers as peers  # noqa: E402

RESULTS, META, OUT = [], {}, None
SIZE = peers.SIZE


def record(case, what, **fields):
    RESULTS.append({"case": case, "what": what, **fields})
    if OUT:
        pathlib.Path(OUT).write_text(json.dumps({**META, "results": RESULTS}, indent=1))
    print(f"  [{case}] {what}: {fields}", flush=True)


def make_slide(source, path):
    import make_ndpi_fixtures as ndpi

    import tifffile

    with tifffile.TiffFile(source) as tif:
        src = tif.pages[0].asarray()
    tissue = np.ascontiguousarray(src[:2048, :2048])
    big = np.ascontiguousarray(np.tile(tissue, (6, 8, 1)))  # 12288 x 16384
    w = ndpi.NdpiWriter(path)
    ndpi.add_stream(w, big, 20, restart_mcus=64, extra=ndpi.FIRST_DIR_TAGS)
    ndpi.add_stream(w, ndpi.downsample(big, 4), 20, restart_mcus=64)
    ndpi.add_stream(w, ndpi.downsample(big, 16), 20)
    ndpi.add_stream(w, ndpi.downsample(tissue, 8), -1)
    w.close()


def first_pixel(path):
    import openslide

    def ours():
        import slidestream

        with slidestream.Slide(path) as s:
            w, h = s.dimensions
            s.read_region((w // 2, h // 2), 0, (SIZE, SIZE))

    def theirs():
        s = openslide.OpenSlide(path)
        w, h = s.dimensions
        s.read_region((w // 2, h // 2), 0, (SIZE, SIZE))
        s.close()

    for what, fn in (("slidestream", ours), ("OpenSlide " + openslide.__library_version__, theirs)):
        try:
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                fn()
                times.append(1e3 * (time.perf_counter() - t0))
            record("first", what, first_ms=round(times[0], 2),
                   median_ms=round(statistics.median(times), 2))
        except Exception as e:
            record("first", what, skipped=f"{type(e).__name__}: {e}"[:300])


def check(kept, ref):
    if not kept:
        return {}
    worst = max(int(np.abs(kept[i].astype(int) - ref[i].astype(int)).max()) for i in kept)
    return {"checked": len(kept), "max_diff": worst}


def timed(what, fn, count, ref, **extra):
    try:
        fn()  # warm-up
        seconds, kept = fn()
        record("random", what, patches=count, seconds=round(seconds, 4),
               patches_per_s=round(count / seconds, 1), **check(kept, ref), **extra)
    except ImportError as e:
        record("random", what, skipped=f"not importable: {e}", **extra)
    except Exception as e:
        record("random", what, error=f"{type(e).__name__}: {e}"[:300], **extra)


def ours_batches(path, locs, device):
    opened = []

    def run():
        import slidestream

        if not opened:
            opened.append(slidestream.Slide(path))
        slide = opened[0]
        kept, t0 = {}, time.perf_counter()
        for i in range(0, len(locs), 256):
            out = slide.read_regions(locs[i:i + 256], 0, (SIZE, SIZE), device=device)
            if i < peers.CHECK:
                peers._keep(kept, i, out if device == "cpu" else out.get())
        return time.perf_counter() - t0, kept
    return run


def random_patches(path, args):
    import openslide

    s = openslide.OpenSlide(path)
    w, h = s.dimensions
    rng = np.random.default_rng(12)
    locs = np.stack([rng.integers(0, w - SIZE, args.patches),
                     rng.integers(0, h - SIZE, args.patches)], 1)
    ref = {i: np.asarray(s.read_region((int(x), int(y)), 0, (SIZE, SIZE)))[..., :3]
           for i, (x, y) in enumerate(locs[:peers.CHECK])}
    few = locs[:args.peer_patches]
    for device in ("cpu", "cuda"):
        timed(f"slidestream read_regions ({device})", ours_batches(path, locs, device),
              len(locs), ref)
    timed("OpenSlide 1 thread", lambda: peers.openslide_threads(path, few, 1), len(few), ref)
    n = args.workers
    timed(f"OpenSlide {n} threads", lambda: peers.openslide_threads(path, few, n), len(few), ref)
    timed(f"fastslide {n} threads", lambda: peers.fastslide_threads(path, few, n), len(few), ref)


def whole_level(path, cli):
    import openslide

    for device in ("cpu", "cuda"):
        run = subprocess.run([cli, "read", path, "--level", "0", "--device", device, "--repeat",
                              "3", "--json", "--no-checksum"], capture_output=True, text=True)
        if run.returncode != 0:
            record("level", f"slidestream read ({device})", error=(run.stdout + run.stderr)[-300:])
            continue
        j = json.loads(run.stdout.strip().splitlines()[-1])
        record("level", f"slidestream read ({device})", seconds=j["median_seconds"],
               decoder=j["decoder"], io_path=j["io_path"])
    s = openslide.OpenSlide(path)
    w, h = s.dimensions
    t0 = time.perf_counter()
    for y in range(0, h, 4096):
        for x in range(0, w, 4096):
            s.read_region((x, y), 0, (min(4096, w - x), min(4096, h - y)))
    record("level", "OpenSlide read_region, 4096^2 pieces, 1 thread",
           seconds=round(time.perf_counter() - t0, 3))


def main():
    global OUT
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
    args = ap.parse_args()
    OUT = args.out
    path = pathlib.Path(args.slides) / "bench-ndpi.ndpi"
    if not path.exists():
        pathlib.Path(args.slides).mkdir(parents=True, exist_ok=True)
        make_slide(args.source, str(path) + ".tmp")
        os.replace(str(path) + ".tmp", path)
    META.update({"slide": str(path), "bytes": path.stat().st_size, "cpus": os.cpu_count()})
    path.read_bytes()  # pages cached
    path = str(path)
    first_pixel(path)
    random_patches(path, args)
    whole_level(path, args.cli)
    return 0


if __name__ == "__main__":
    sys.exit(main())
