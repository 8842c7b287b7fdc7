#!/usr/bin/env python3
"""The Python package against the CLI and the Python peers (issue 12), all in this one run.

  python3 bench/python.py --cli build/slidestream --slides DIR --out python.json [--repeat 5]

DIR holds raw.tif and jpeg.tif (bench/make_bench_slides.py); --slide adds any other slide (e.g.
an Aperio SVS that every peer opens) for the region case. Cases:

  level:  a whole level 0 into a GPU array through Python (Slide.read_level(0, device="cuda"),
          fresh and into a preallocated CuPy / torch array with out=) against the CLI's
          `slidestream read --device cuda` of the same level (goal: within 5%);
  region: 256 x 256 read_region at level 0, random locations (one seed for all), one thread,
          against openslide-python, tiffslide, cuCIM (device="cpu") and fastslide;
  level-cpu: a whole level on the CPU against fastslide.

Every figure is the median of --repeat runs after one warm-up; pages stay cached (warm). Peers
that are not installed (or cannot open a slide) are recorded with the reason and skipped.
Writes JSON records for bench/plot.py and prints a Markdown table.
"""
import argparse
import datetime
import json
import os
import random
import statistics
import subprocess
import sys
import time

import numpy as np

RESULTS = []
META = {}
OUT_PATH = None


def note(msg):
    print(msg, flush=True)


def record(case, what, seconds=None, nbytes=None, ours=False, **extra):
    r = {"case": case, "what": what, "ours": ours}
    if seconds is not None:
        r["seconds"] = round(seconds, 6)
        if nbytes:
            r["gbps"] = round(nbytes / seconds / 1e9, 3)
    r.update(extra)
    RESULTS.append(r)
    if OUT_PATH:
        with open(OUT_PATH, "w") as f:
            json.dump({**META, "results": RESULTS}, f, indent=1)
    shown = {k: v for k, v in r.items() if k not in ("case", "what", "ours")}
    note(f"  [{case}] {what}: {shown}")
    return r


def timed(fn, repeat):
    times = []
    for i in range(repeat + 1):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        if i:
            times.append(dt)
    return statistics.median(times), times


def attempt(case, what, make, nbytes, repeat, **extra):
    """make() returns the function to time; any failure is recorded, not raised."""
    try:
        fn = make()
        med, runs = timed(fn, repeat)
        return record(case, what, med, nbytes, runs=[round(t, 5) for t in runs], **extra)
    except Exception as e:  # a peer missing or refusing the file
        return record(case, what, error=f"{type(e).__name__}: {e}"[:300], **extra)


# ---------------------------------------------------------------- level into GPU memory

def cli_read(cli, path, repeat):
    cmd = [cli, "read", path, "--device", "cuda", "--repeat", str(repeat + 1), "--json",
           "--no-checksum"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return record("level", f"CLI read --device cuda ({os.path.basename(path)})", ours=True,
                      error=(p.stderr or p.stdout).strip()[-300:])
    j = json.loads(p.stdout.strip().splitlines()[-1])
    runs = j["seconds"][1:]
    return record("level", f"CLI read --device cuda ({os.path.basename(path)})",
                  statistics.median(runs), j["bytes"], ours=True,
                  runs=[round(t, 5) for t in runs], io_path=j.get("io_path"))


def python_level(path, repeat, cli_seconds):
    import slidestream

    name = os.path.basename(path)
    slide = slidestream.open_slide(path)
    w, h = slide.dimensions
    nbytes = w * h * 3

    def ratio(r):
        if cli_seconds and r.get("seconds"):
            r["vs_cli"] = round(r["seconds"] / cli_seconds, 3)
        return r

    def fresh():
        def run():
            a = slide.read_level(0, device="cuda")
            del a
        return run
    ratio(attempt("level", f"Python read_level(0, device='cuda') ({name})", fresh, nbytes,
                  repeat, ours=True))

    def into_cupy():
        import cupy as cp
        out = cp.empty((h, w, 3), cp.uint8)
        return lambda: slide.read_level(0, device="cuda", out=out)
    ratio(attempt("level", f"Python read_level(0, out=cupy) ({name})", into_cupy, nbytes,
                  repeat, ours=True))

    def into_torch():
        import torch
        out = torch.empty((h, w, 3), dtype=torch.uint8, device="cuda")
        return lambda: slide.read_level(0, device="cuda", out=out)
    ratio(attempt("level", f"Python read_level(0, out=torch) ({name})", into_torch, nbytes,
                  repeat, ours=True))


# ---------------------------------------------------------------- 256^2 regions

def region_locations(w, h, count, size=256, seed=12):
    rng = random.Random(seed)
    return [(rng.randrange(0, w - size), rng.randrange(0, h - size)) for _ in range(count)]


def regions(path, count, repeat):
    name = os.path.basename(path)
    import slidestream

    with slidestream.open_slide(path) as s:
        w, h = s.dimensions
    locs = region_locations(w, h, count)
    nbytes = count * 256 * 256 * 3

    def per_second(r):
        if r.get("seconds"):
            r["patches_per_s"] = round(count / r["seconds"], 1)
        return r

    def ours():
        s = slidestream.open_slide(path)
        return lambda: [s.read_region(l, 0, (256, 256), threads=1) for l in locs]
    per_second(attempt("region", f"slidestream read_region 256² ({name})", ours, nbytes,
                       repeat, ours=True, patches=count))

    def ours_out():
        s = slidestream.open_slide(path)
        out = np.empty((256, 256, 3), np.uint8)
        return lambda: [s.read_region(l, 0, (256, 256), threads=1, out=out) for l in locs]
    per_second(attempt("region", f"slidestream read_region 256², out= ({name})", ours_out,
                       nbytes, repeat, ours=True, patches=count))

    def dropin():
        import slidestream.openslide as so
        s = so.OpenSlide(path)
        return lambda: [s.read_region(l, 0, (256, 256)) for l in locs]
    per_second(attempt("region", f"slidestream.openslide read_region (RGBA PIL) ({name})",
                       dropin, nbytes, repeat, ours=True, patches=count))

    def openslide_peer():
        import openslide
        s = openslide.OpenSlide(path)
        return lambda: [s.read_region(l, 0, (256, 256)) for l in locs]
    try:
        import openslide
        version = openslide.__library_version__
    except Exception:
        version = "?"
    per_second(attempt("region", f"openslide-python {version} read_region ({name})",
                       openslide_peer, nbytes, repeat, patches=count))

    def tiffslide_peer():
        import tiffslide
        s = tiffslide.TiffSlide(path)
        return lambda: [s.read_region(l, 0, (256, 256), as_array=True) for l in locs]
    per_second(attempt("region", f"tiffslide read_region ({name})", tiffslide_peer, nbytes,
                       repeat, patches=count))

    def fastslide_peer():
        import fastslide
        fs = fastslide.FastSlide.from_file_path(path, cache=None)
        return lambda: [fs.read_region(l, 0, (256, 256)).numpy() for l in locs]
    per_second(attempt("region", f"fastslide read_region ({name})", fastslide_peer, nbytes,
                       repeat, patches=count))

    def cucim_peer():
        from cucim import CuImage
        img = CuImage(path)
        return lambda: [np.asarray(img.read_region(l, (256, 256), 0)) for l in locs]
    per_second(attempt("region", f"cuCIM read_region device=cpu ({name})", cucim_peer, nbytes,
                       repeat, patches=count))


# ---------------------------------------------------------------- a level on the CPU

def level_cpu(path, repeat):
    import slidestream

    name = os.path.basename(path)
    s = slidestream.open_slide(path)
    w, h = s.dimensions
    nbytes = w * h * 3
    ours = attempt("level-cpu", f"slidestream read_level(0) CPU ({name})",
                   lambda: (lambda: s.read_level(0)), nbytes, repeat, ours=True)

    def fastslide_peer():
        import fastslide
        fs = fastslide.FastSlide.from_file_path(path)  # fastslide 0.8: level-native coords
        return lambda: fs.read_region((0, 0), 0, (w, h)).numpy()
    peer = attempt("level-cpu", f"fastslide read_region whole level ({name})", fastslide_peer,
                   nbytes, repeat)
    if ours.get("seconds") and peer.get("seconds"):
        peer["ours_speedup"] = round(peer["seconds"] / ours["seconds"], 2)


def device_name():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True).stdout.strip().splitlines()
        return out[0] if out else "no GPU"
    except OSError:
        return "no GPU"


def print_markdown():
    note("\n| case | what | seconds | GB/s | patches/s | vs CLI / note |")
    note("|---|---|---|---|---|---|")
    for r in RESULTS:
        extra = r.get("vs_cli", r.get("ours_speedup", r.get("error", "")))
        note(f"| {r['case']} | {r['what']} | {r.get('seconds', '')} | {r.get('gbps', '')} | "
             f"{r.get('patches_per_s', '')} | {extra} |")


def main():
    global OUT_PATH
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--build", default=None)
    ap.add_argument("--slides", required=True)
    ap.add_argument("--slide", action="append", default=[], help="more slides for 'region'")
    ap.add_argument("--out", required=True)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--patches", type=int, default=1000)
    ap.add_argument("--skip", default="", help="comma list: level,region,level-cpu")
    args = ap.parse_args()
    OUT_PATH = args.out
    skip = set(filter(None, args.skip.split(",")))
    META.update(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                device=device_name(), python=sys.version.split()[0], repeat=args.repeat)
    try:
        import slidestream
        META["slidestream"] = slidestream.__version__
        META["cuda_build"] = slidestream.has_cuda
    except ImportError as e:
        note(f"slidestream is not importable ({e}): pip install . first")
        return 1
    raw = os.path.join(args.slides, "raw.tif")
    jpeg = os.path.join(args.slides, "jpeg.tif")
    slides = [p for p in (raw, jpeg) if os.path.exists(p)]
    if not slides:
        note(f"no raw.tif / jpeg.tif in {args.slides} (bench/make_bench_slides.py)")
    if "level" not in skip:
        for path in slides:
            cli = cli_read(args.cli, path, args.repeat)
            python_level(path, args.repeat, cli.get("seconds"))
    if "region" not in skip:
        for path in slides + args.slide:
            regions(path, args.patches, args.repeat)
    if "level-cpu" not in skip:
        for path in slides:
            level_cpu(path, args.repeat)
    print_markdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
