#!/usr/bin/env python3
"""Patches for training and inference (issue 15): slidestream against its peers in one call.

  python3 bench/patches.py --slides /tmp/slides --out patches.json [--patches 20000]
      [--peer-patches 4000] [--source ../shared/testdata/cmu-1-small-region.svs]
  (or BENCHES=bench/patches.py scripts/device-check.sh, which passes --cli/--build/--slides)

The slide is an Aperio SVS of the seed's shape (26420 x 19920, 256^2 JPEG tiles, levels 1/4 and
1/16; bench/make_patches_slide.py makes it in --slides from the real scan, or --slide names one).
Cases, all on the same slide, pages cached (one warm-up pass first):

  random: random 256^2 level-0 patches (seed 12) into GPU memory: slidestream read_regions
          (batches of --batch on "cuda", and on "cpu"), the PatchLoader (cuda, prefetch), against
          OpenSlide 1 and --workers threads, cuCIM's batch read_region (device cpu and cuda,
          --workers workers, each batch copied before the next), tiffslide and fastslide
          (--workers threads) and a torch DataLoader over OpenSlide (--workers workers); peers'
          host batches are copied into GPU memory with torch when it is there. Every row checks
          its first 64 patches against OpenSlide's read_region (RGB): max difference.
  grid:   the tissue grid at mpp 0.5 (tissue_mask, patch_grid with min_tissue 0.5) read with
          read_regions_at_mpp on the GPU, its level-0 pixels per second against the whole-level
          GPU read (read_level(0, device="cuda")) of the same slide (goal: 80 % or more).
  vit:    when torch and a GPU are there, a ViT-B/16-shaped stack (plain torch: conv patch
          embedding, 12 pre-norm encoder layers of width 768, 12 heads, MLP 3072; torchvision is
          not needed) in float16 fed by the PatchLoader (float16, ImageNet normalization): the
          share of wall time the GPU spends in the forward passes, against the same forward passes
          on one resident batch.

Peers that are not installed are recorded as skipped with the reason. Prints a Markdown table and
writes JSON (--out) after every row.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import patches_peers as peers  # noqa: E402

RESULTS, META = [], {}
OUT = None
SIZE = peers.SIZE


def note(msg):
    print(msg, flush=True)


def record(case, what, ours=False, **fields):
    r = {"case": case, "what": what, "ours": ours, **fields}
    RESULTS.append(r)
    if OUT:
        with open(OUT, "w") as f:
            json.dump({**META, "results": RESULTS}, f, indent=1)
    note(f"  [{case}] {what}: { {k: v for k, v in fields.items() if k != 'runs'} }")
    return r


def reference(path, locs):
    try:
        import openslide
    except ImportError as e:
        note(f"no OpenSlide ({e}): pixels are not checked")
        return {}
    s = openslide.OpenSlide(path)
    return {i: np.asarray(s.read_region((int(x), int(y)), 0, (SIZE, SIZE)))[..., :3]
            for i, (x, y) in enumerate(locs[:peers.CHECK])}


def pixel_check(kept, ref):
    kept = {i: p for i, p in kept.items() if i in ref}
    if not kept:
        return {"checked": 0}
    worst = max(int(np.abs(kept[i].astype(int) - ref[i].astype(int)).max()) for i in kept)
    differ = sum(int(not np.array_equal(kept[i], ref[i])) for i in kept)
    return {"checked": len(kept), "max_diff": worst, "patches_differing": differ}


def run_peer(what, fn, count, ref, repeat=1, **extra):
    try:
        fn()  # warm-up (and imports)
        best, kept = None, {}
        for _ in range(repeat):
            seconds, kept = fn()
            best = seconds if best is None else min(best, seconds)
        return record("random", what, seconds=round(best, 4), patches=count,
                      patches_per_s=round(count / best, 1), **pixel_check(kept, ref), **extra)
    except ImportError as e:
        return record("random", what, skipped=f"not importable: {e}", **extra)
    except Exception as e:  # a peer refusing the file or failing: recorded, not fatal
        return record("random", what, error=f"{type(e).__name__}: {e}"[:300], **extra)


def ours_random(path, locs, batch, ref, repeat):
    import slidestream

    slide = slidestream.open_slide(path)
    n = len(locs)

    def batches(device):
        def run():
            kept = {}
            t0 = time.perf_counter()
            for i in range(0, n, batch):
                out = slide.read_regions(locs[i:i + batch], 0, (SIZE, SIZE), device=device)
                if i < peers.CHECK:
                    host = out.get() if device != "cpu" else out
                    peers._keep(kept, i, host)
            return time.perf_counter() - t0, kept
        return run

    def loader(cache_bytes=0, reuse=None):
        kept = {}
        it = reuse or slidestream.PatchLoader([slide], locs, size=SIZE, batch_size=batch,
                                              device="cuda", prefetch=4, cache_bytes=cache_bytes)
        t0 = time.perf_counter()
        first = 0
        for b in it:
            if first < peers.CHECK:
                peers._keep(kept, first, b.patches.get())
            first += len(b.slides)
        return time.perf_counter() - t0, kept

    run_peer(f"slidestream read_regions cuda (batch {batch})", batches("cuda"), n, ref, repeat,
             ours=True)
    run_peer(f"slidestream PatchLoader cuda (batch {batch}, prefetch 4)", loader, n, ref, repeat,
             ours=True)
    # With a TileCache of 2 GiB in GPU memory (the whole level 0 of the slide fits): a fresh
    # cache per run (its first epoch: every tile decoded once, then reused), and a warm one
    # (later epochs of training on the same slide).
    run_peer(f"slidestream PatchLoader cuda (batch {batch}), 2 GiB GPU TileCache, first epoch",
             lambda: loader(2 << 30), n, ref, repeat, ours=True)
    warm = slidestream.PatchLoader([slide], locs, size=SIZE, batch_size=batch, device="cuda",
                                   prefetch=4, cache_bytes=2 << 30)
    run_peer(f"slidestream PatchLoader cuda (batch {batch}), 2 GiB GPU TileCache, warm",
             lambda: loader(reuse=warm), n, ref, repeat, ours=True,
             note="later epochs: tiles already decoded in GPU memory")
    run_peer(f"slidestream read_regions cpu (batch {batch})", batches("cpu"), n, ref, repeat,
             ours=True)


def peers_random(path, locs, workers, ref):
    n = len(locs)
    few = locs[:max(1, n // 8)]
    run_peer("OpenSlide read_region, 1 thread", lambda: peers.openslide_threads(path, few, 1),
             len(few), ref)
    run_peer(f"OpenSlide read_region, {workers} threads",
             lambda: peers.openslide_threads(path, locs, workers), n, ref)
    for device in ("cpu", "cuda"):
        run_peer(f"cuCIM batch read_region device={device}, {workers} workers, batch 64",
                 lambda d=device: peers.cucim_batch(path, locs, d, workers), n, ref)
    run_peer(f"tiffslide read_region, {workers} threads",
             lambda: peers.tiffslide_threads(path, locs, workers), n, ref)
    run_peer(f"fastslide read_region, {workers} threads",
             lambda: peers.fastslide_threads(path, locs, workers), n, ref)
    run_peer(f"torch DataLoader over OpenSlide, {workers} workers",
             lambda: peers.torch_dataloader(path, locs, workers), n, ref)


def grid_case(path, batches, repeat, device):
    """The tissue grid read in batches of each size in `batches` (0: the whole grid in one call),
    with and without a fresh TileCache, against the whole level's read in the same process."""
    import slidestream

    slide = slidestream.open_slide(path)
    t0 = time.perf_counter()
    mask = slidestream.tissue_mask(slide)
    grid = slidestream.patch_grid(slide, SIZE, mpp=0.5, mask=mask, min_tissue=0.5)
    plan_s = time.perf_counter() - t0
    footprint = (SIZE * 0.5 / slide.mpp[0]) ** 2  # level-0 pixels per patch

    def read_grid(batch, cache_bytes=0):
        # A fresh cache each run (never warm from the last one): a tile under two batches'
        # patches is decoded once instead of once per batch.
        cache = slidestream.TileCache(cache_bytes) if cache_bytes else None
        step = batch or len(grid)
        for i in range(0, len(grid), step):
            slide.read_regions_at_mpp(grid[i:i + step], 0.5, (SIZE, SIZE), device=device,
                                      cache=cache)

    def read_level():
        slide.read_level(0, device=device)

    def best(fn):
        fn()
        return min(_timed(fn) for _ in range(repeat))

    level_s = best(read_level)
    w, h = slide.dimensions
    level_px_s = w * h / level_s
    record("grid", f"whole-level read read_level(0, {device})", seconds=round(level_s, 4),
           level0_px_per_s=round(level_px_s))
    cached = 512 << 20
    for batch in batches:
        for cache_bytes, what in ((0, ""), (cached, ", a fresh 512 MiB TileCache each run")):
            seconds = best(lambda: read_grid(batch, cache_bytes))
            grid_px_s = len(grid) * footprint / seconds
            record("grid", f"tissue grid at mpp 0.5 read_regions_at_mpp {device}, batches of "
                   f"{batch or len(grid)}{what}", ours=True, batch=batch or len(grid),
                   seconds=round(seconds, 4), patches=len(grid),
                   patches_per_s=round(len(grid) / seconds, 1),
                   mask_and_grid_s=round(plan_s, 4), level0_px_per_s=round(grid_px_s),
                   vs_whole_level=round(grid_px_s / level_px_s, 3))
    # The level again: a level time that moved over the case is not a ratio to trust.
    record("grid", f"whole-level read read_level(0, {device}), again",
           seconds=round(best(read_level), 4))


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def device_name():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True).stdout.strip().splitlines()
        return out[0] if out else "no GPU"
    except OSError:
        return "no GPU"


def print_markdown():
    note("\n| case | what | patches/s | seconds | max diff vs OpenSlide | note |")
    note("|---|---|---|---|---|---|")
    for r in RESULTS:
        extra = r.get("vs_whole_level", r.get("gpu_busy", r.get("skipped", r.get(
            "error", r.get("note", "")))))
        note(f"| {r['case']} | {r['what']} | {r.get('patches_per_s', '')} | "
             f"{r.get('seconds', '')} | {r.get('max_diff', '')} | {extra} |")


def main():
    global OUT
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", help="the scan the slide is made from (default: "
                    ".carry/ or ../shared/testdata/cmu-1-small-region.svs)")
    ap.add_argument("--cli", help="ignored (scripts/device-check.sh passes it to every driver)")
    ap.add_argument("--build", help="ignored (as --cli)")
    ap.add_argument("--slides", help="where patches.svs is (made if absent)")
    ap.add_argument("--slide", help="use this slide instead")
    ap.add_argument("--out", required=True)
    ap.add_argument("--patches", type=int, default=20000)
    ap.add_argument("--peer-patches", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--vit-batches", type=int, default=40)
    ap.add_argument("--grid-device", default="cuda")
    ap.add_argument("--grid-batch", default="1024",
                    help="grid patches per read, a comma list (0: the whole grid at once): rows "
                         "of patches share tile rows (257-px footprints on 256-px tiles), so a "
                         "batch of several grid rows decodes each tile about once")
    ap.add_argument("--skip", default="", help="comma list: ours,peers,grid,vit")
    a = ap.parse_args()
    OUT = a.out
    skip = set(filter(None, a.skip.split(",")))
    path = a.slide
    if path is None and a.source is None:
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        for candidate in (os.path.join(here, ".carry", "cmu-1-small-region.svs"),
                          os.path.join(here, "..", "shared", "testdata", "cmu-1-small-region.svs")):
            if os.path.exists(candidate):
                a.source = candidate
                break
    if path is None:
        if a.source is None or a.slides is None:
            ap.error("give --slide, or --slides (and --source where the scan is not found)")
        import make_patches_slide

        path = str(make_patches_slide.make(a.source, a.slides))
    import slidestream

    META.update(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                device=device_name(), slide=path, slidestream=slidestream.__version__,
                patches=a.patches, batch=a.batch, workers=a.workers)
    s = slidestream.open_slide(path)
    w, h = s.dimensions
    rng = np.random.default_rng(12)
    locs = np.stack([rng.integers(0, w - SIZE, a.patches), rng.integers(0, h - SIZE, a.patches)],
                    axis=1).astype(np.int64)
    ref = reference(path, locs)
    if "ours" not in skip:
        ours_random(path, locs, a.batch, ref, a.repeat)
    if "peers" not in skip:
        peers_random(path, locs[:a.peer_patches], a.workers, ref)
    if "grid" not in skip:
        grid_case(path, [int(b) for b in a.grid_batch.split(",")], a.repeat, a.grid_device)
    if "vit" not in skip:
        import patches_vit

        patches_vit.run(path, locs, a.batch, a.vit_batches, record)
    print_markdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
