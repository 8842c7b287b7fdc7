#!/usr/bin/env python3
"""Issue 2's CPU read benchmark: a whole level of a JPEG slide and of an uncompressed slide read
into host memory with 1 and N threads by slidestream (bench_cpu_read), OpenSlide read_region
(single-threaded, the C library through /usr/bin/python3's openslide module; skipped where it is
absent) and tifffile (this Python, same thread counts), in the same run, warm page cache: each of
--repeats rounds times every reader once (after its own warm-up read), and each row is the median
over the rounds.

The slides are made here from a real scan (../shared/testdata/cmu-1-small-region.svs, tiled out
--scale × --scale times) with tifffile: jpeg.tif (256² JPEG tiles, Q90, YCbCr, one full stream per
tile, as in BENCH-ANCHORS) and raw.tif (512² uncompressed tiles, BigTIFF).

usage: bench/cpu_read.py [--build build | --bench PATH] [--slides DIR] [--scale 3]
                         [--threads N] [--repeats 3] [--out results.json]
--slides DIR: use DIR/jpeg.tif and DIR/raw.tif where they exist (bench/make_bench_slides.py makes
them on the GPU machine), else make them there. scripts/device-check.sh passes --cli, --build,
--slides and --out.
Prints a Markdown table with ratios; --out writes the records as JSON (bench/plot.py reads it).
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np
import tifffile

ROOT = pathlib.Path(__file__).resolve().parent.parent

OPENSLIDE_SCRIPT = r"""
import json, statistics, sys, time
import openslide
path, repeats = sys.argv[1], int(sys.argv[2])
s = openslide.OpenSlide(path)
w, h = s.level_dimensions[0]
step = 4096
def read_all():
    for y in range(0, h, step):
        for x in range(0, w, step):
            s.read_region((x, y), 0, (min(step, w - x), min(step, h - y)))
read_all()  # warm-up
runs = []
for _ in range(repeats):
    t0 = time.perf_counter(); read_all(); runs.append(time.perf_counter() - t0)
print(json.dumps({"seconds": statistics.median(runs), "runs": runs,
                  "version": openslide.__library_version__}))
"""


def make_slides(workdir, shared, scale):
    workdir.mkdir(parents=True, exist_ok=True)
    if (workdir / "jpeg.tif").exists() and (workdir / "raw.tif").exists():
        return {"jpeg": workdir / "jpeg.tif", "raw": workdir / "raw.tif"}
    jpeg = workdir / f"jpeg-x{scale}.tif"
    raw = workdir / f"raw-x{scale}.tif"
    if jpeg.exists() and raw.exists():
        return {"jpeg": jpeg, "raw": raw}
    source_path = shared / "cmu-1-small-region.svs"
    if not source_path.exists():
        source_path = ROOT / ".carry" / "cmu-1-small-region.svs"
    with tifffile.TiffFile(source_path) as tif:
        source = tif.pages[0].asarray()
    mosaic = np.ascontiguousarray(np.tile(source, (scale, scale, 1)))
    tifffile.imwrite(jpeg.with_suffix(".partial"), mosaic, tile=(256, 256), photometric="rgb",
                     compression="jpeg", compressionargs={"level": 90})
    tifffile.imwrite(raw.with_suffix(".partial"), mosaic, tile=(512, 512), photometric="rgb",
                     bigtiff=True)
    jpeg.with_suffix(".partial").rename(jpeg)
    raw.with_suffix(".partial").rename(raw)
    return {"jpeg": jpeg, "raw": raw}


def run_ours(bench, path, threads, repeats):
    out = subprocess.run([str(bench), str(path), "--threads", ",".join(map(str, threads)),
                          "--repeats", str(repeats)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"bench_cpu_read failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


def run_openslide(path, repeats):
    python = "/usr/bin/python3"
    if not os.path.exists(python):
        return {"error": "no /usr/bin/python3"}
    out = subprocess.run([python, "-c", OPENSLIDE_SCRIPT, str(path), str(repeats)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": f"OpenSlide unavailable: {last}"}
    return json.loads(out.stdout)


def run_tifffile(path, threads, repeats):
    """tifffile's whole-page read with `threads` workers; an error record where it cannot decode
    (the GPU machine's Python has tifffile but not imagecodecs, so no JPEG there)."""
    try:
        return time_tifffile(path, threads, repeats)
    except Exception as e:  # noqa: BLE001 - any failure of the peer is reported, not fatal
        return {"error": f"tifffile: {type(e).__name__}: {e}"[:200], "crc32c": None}


def time_tifffile(path, threads, repeats):
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        array = page.asarray(maxworkers=threads)  # warm-up
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            array = page.asarray(maxworkers=threads)
            runs.append(time.perf_counter() - t0)
    checksum = None
    try:
        import google_crc32c

        checksum = f"{google_crc32c.value(array.tobytes()):08x}"
    except ImportError:
        pass
    return {"seconds": statistics.median(runs), "runs": runs, "crc32c": checksum}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--bench", help="bench_cpu_read (default: BUILD/bench/bench_cpu_read)")
    ap.add_argument("--cli", help="unused (device-check.sh passes it to every driver)")
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "testdata"))
    ap.add_argument("--slides", "--workdir", dest="workdir",
                    default=str(ROOT / "build" / "bench-slides"))
    ap.add_argument("--scale", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out")
    ap.add_argument("--no-openslide", action="store_true", help="skip the OpenSlide peer")
    args = ap.parse_args()
    if args.bench is None:
        args.bench = str(pathlib.Path(args.build) / "bench" / "bench_cpu_read")

    slides = make_slides(pathlib.Path(args.workdir), pathlib.Path(args.shared), args.scale)
    thread_counts = sorted({1, args.threads})
    records = []
    for kind, path in slides.items():
        # Rounds: each round times every reader once, so a machine whose load changes during
        # the run (a shared 2-core VM) weighs on all of them alike; medians over the rounds.
        rounds_ours, rounds_osl, rounds_tf = [], [], {n: [] for n in thread_counts}
        for _ in range(args.repeats):
            rounds_ours.append(run_ours(args.bench, path, thread_counts, 1))
            for n in thread_counts:
                rounds_tf[n].append(run_tifffile(path, n, 1))
            if not args.no_openslide:
                rounds_osl.append(run_openslide(path, 1))
        ours = rounds_ours[0]
        for i, r in enumerate(ours["results"]):
            r["runs"] = [ro["results"][i]["seconds"] for ro in rounds_ours]
            r["seconds"] = statistics.median(r["runs"])
        osl = next((o for o in rounds_osl if "error" in o), None)
        if osl is None and rounds_osl:
            runs = [o["seconds"] for o in rounds_osl]
            osl = {"seconds": statistics.median(runs), "runs": runs,
                   "version": rounds_osl[0].get("version", "")}
        elif osl is None:
            osl = {"error": "not run (--no-openslide)"}
        osl_seconds = osl.get("seconds")
        tf = {}
        for n in thread_counts:
            failed = next((t for t in rounds_tf[n] if "error" in t), None)
            if failed:
                tf[n] = failed
            else:
                runs = [t["seconds"] for t in rounds_tf[n]]
                tf[n] = {"seconds": statistics.median(runs), "runs": runs,
                         "crc32c": rounds_tf[n][0]["crc32c"]}
        level_bytes = ours["results"][0]["bytes"]
        case = f"cpu_read-{kind}"
        size = f"{ours['width']}x{ours['height']}"
        for r in ours["results"]:
            n = r["threads"]
            rec = {"case": case, "slide": f"{kind} {size}", "what": "slidestream", "ours": True,
                   "threads": n, "seconds": r["seconds"], "gbps": level_bytes / r["seconds"] / 1e9,
                   "decoder": r["decoder"], "crc32c": r["crc32c"],
                   "same_pixels_as_tifffile": (tf[n]["crc32c"] == r["crc32c"]
                                               if tf[n]["crc32c"] else None)}
            if osl_seconds:
                rec["ratio"] = osl_seconds / r["seconds"]  # vs OpenSlide single-threaded
                rec["goal_vs_openslide"] = rec["ratio"] >= n
            if "seconds" in tf[n]:
                rec["ratio_vs_tifffile"] = tf[n]["seconds"] / r["seconds"]
            records.append(rec)
        if osl_seconds:
            records.append({"case": case, "slide": f"{kind} {size}",
                            "what": f"OpenSlide read_region {osl.get('version', '')}".strip(),
                            "threads": 1, "seconds": osl_seconds,
                            "gbps": level_bytes / osl_seconds / 1e9, "ratio": 1.0})
        else:
            records.append({"case": case, "slide": f"{kind} {size}", "what": "OpenSlide read_region",
                            "threads": 1, "error": osl.get("error")})
        for n in thread_counts:
            if "error" in tf[n]:
                records.append({"case": case, "slide": f"{kind} {size}",
                                "what": f"tifffile {tifffile.__version__}", "threads": n,
                                "error": tf[n]["error"]})
                continue
            records.append({"case": case, "slide": f"{kind} {size}",
                            "what": f"tifffile {tifffile.__version__}", "threads": n,
                            "seconds": tf[n]["seconds"],
                            "gbps": level_bytes / tf[n]["seconds"] / 1e9,
                            "ratio_vs_tifffile": 1.0})

    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.node()} ({os.cpu_count()} CPUs, {platform.processor() or platform.machine()})",
            "command": " ".join([pathlib.Path(sys.argv[0]).name] + sys.argv[1:]),
            "repeats": args.repeats, "scale": args.scale}
    print(f"- date: {meta['date']} · machine: {meta['machine']} · command: `{meta['command']}`\n")
    print("| slide | what | threads | seconds | GB/s (decoded) | vs. OpenSlide ×1 | "
          "vs. tifffile (same threads) |")
    print("|---|---|---|---|---|---|---|")
    for r in records:
        if "error" in r:
            print(f"| {r['slide']} | {r['what']} | {r['threads']} | — | — | {r['error']} | — |")
            continue
        ratio = f"{r['ratio']:.2f}" if "ratio" in r else "—"
        vs_tf = f"{r['ratio_vs_tifffile']:.2f}" if "ratio_vs_tifffile" in r else "—"
        print(f"| {r['slide']} | {r['what']} | {r['threads']} | {r['seconds']:.3f} | "
              f"{r['gbps']:.2f} | {ratio} | {vs_tf} |")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps({**meta, "results": records}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
