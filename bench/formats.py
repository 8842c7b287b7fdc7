#!/usr/bin/env python3
"""Slide formats that are not TIFF (issue 18): DICOM WSI and 3DHISTECH MIRAX, slidestream
against OpenSlide 4.0.1 and each format's own reader, in one call, with bench/ndpi.py's cases.

  python3 bench/formats.py --slides /tmp/bench-slides --out formats.json [--cli build/slidestream]
      [--source .carry/cmu-1-small-region.svs] [--patches 4000] [--peer-patches 1000]
      [--only dicom] [--scale N]

The slides (made once in --slides from the real scan, tiled to 8192 x 6144 at scale 1):
  dicom:  a generic tiled TIFF (tifffile, 512 px JPEG tiles) converted by wsidicomizer (its
          OpenSlide source, JPEG baseline 512 px frames, Basic Offset Table, every level down to
          one tile); frames the converter crops at the edges padded as make_dicom_fixtures.py
          does. Opened by its level-0 file (OpenSlide needs a file; we read the same series).
  mirax:  the same tissue laid out as MIRAX by tests/fixtures/make_mirax_fixtures.py (256 px
          JPEG images, 2 x 2 per camera photo, photos overlapping by 32 px with jitter, 5
          levels, 4 data files); OpenSlide is its only other reader.
Cases per slide (the runners of bench/ndpi.py, imported): first (open + one centre patch, 5
times, goal 50 ms), random (random 256^2 level-0 patches: slidestream read_regions cpu/cuda,
OpenSlide 1/N threads, the format's reader N threads, each checked against OpenSlide on the
first 64 patches; goal 3x OpenSlide), level (whole level 0: `slidestream read` cpu/cuda,
OpenSlide and the format's reader in 4096^2 pieces; goal GPU 10x). DICOM's own reader is
wsidicom; MIRAX has none but OpenSlide. A slide that cannot be made here is recorded as skipped.
Writes JSON after every row. Each format runs in a child process: one that dies of a signal is
recorded as a crash (Python's stack from faulthandler on stderr) and run again under cuda-gdb
where it is installed (the device image's debugger), its backtrace in the JSON and its whole log
in OUT-FORMAT-backtrace.log beside --out.
"""
import argparse
import os
import pathlib
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "fixtures"))
import ndpi as bench  # noqa: E402  (record / first_pixel / timed / random_patches / whole_level)
import patches_peers as peers  # noqa: E402


def tissue_tiles(source, scale):
    # The scan's level 0 as bench/make_bench_slides.py decodes it (Pillow): tifffile would need
    # imagecodecs for JPEG tiles, which the GPU machine lacks unless carried (27 MB).
    from make_bench_slides import decode_svs_level0

    tissue = np.ascontiguousarray(decode_svs_level0(source)[:2048 // scale, :2048 // scale])
    return np.ascontiguousarray(np.tile(tissue, (3, 4, 1)))  # 6144 x 8192 at scale 1


# ---- DICOM ----

def make_dicom(source, directory, scale):
    """A DICOM series in `directory`; returns the level-0 file."""
    import make_dicom_fixtures as mdf  # also sets up pyturbojpeg's library lookup
    import tifffile
    from wsidicom.codec import settings
    from wsidicomizer import WsiDicomizer
    from wsidicomizer.wsidicomizer import SourceIdentifier

    mdf.import_writers()
    big = tissue_tiles(source, scale)
    tile = 512 // scale
    tif = directory.with_name(directory.name + ".src.tif")
    with tifffile.TiffWriter(tif, bigtiff=False) as w:
        w.write(big, tile=(tile, tile), compression="jpeg", photometric="rgb",
                subifds=0, resolution=(1e4 / 0.25, 1e4 / 0.25), resolutionunit="CENTIMETER")
    WsiDicomizer.convert(tif, directory, tile_size=tile, include_label=False,
                         include_overview=False, include_thumbnail=False, add_missing_levels=True,
                         workers=os.cpu_count(), offset_table="bot",
                         encoding=settings.JpegSettings(quality=90),
                         preferred_source=SourceIdentifier.OPENSLIDE)
    tif.unlink()
    mdf.pad_edge_frames(directory)
    return mdf.first_volume_name(directory)


def wsidicom_first(directory):
    from wsidicom import WsiDicom

    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        with WsiDicom.open(str(directory)) as s:
            w, h = s.size.width, s.size.height
            s.read_region((w // 2, h // 2), 0, (peers.SIZE, peers.SIZE))
        times.append(1e3 * (time.perf_counter() - t0))
    bench.record("first", "wsidicom", first_ms=round(times[0], 2),
                 median_ms=round(statistics.median(times), 2))


def wsidicom_threads(directory, locs, threads, batch=256):
    from wsidicom import WsiDicom

    local = threading.local()
    opened = []
    lock = threading.Lock()

    def read(loc):
        if not hasattr(local, "slide"):
            local.slide = WsiDicom.open(str(directory))
            with lock:
                opened.append(local.slide)
        return np.asarray(local.slide.read_region((int(loc[0]), int(loc[1])), 0,
                                                  (peers.SIZE, peers.SIZE)).convert("RGB"))

    kept = {}
    try:
        with ThreadPoolExecutor(threads) as pool:
            t0 = time.perf_counter()
            for first in range(0, len(locs), batch):
                part = locs[first:first + batch]
                patches = list(pool.map(read, part)) if threads > 1 else [read(l) for l in part]
                peers._keep(kept, first, np.stack(patches))
            return time.perf_counter() - t0, kept
    finally:
        for s in opened:
            s.close()


def wsidicom_level(directory):
    from wsidicom import WsiDicom

    with WsiDicom.open(str(directory)) as s:
        w, h = s.size.width, s.size.height
        t0 = time.perf_counter()
        for y in range(0, h, 4096):
            for x in range(0, w, 4096):
                s.read_region((x, y), 0, (min(4096, w - x), min(4096, h - y)))
        bench.record("level", "wsidicom read_region, 4096^2 pieces, 1 thread",
                     seconds=round(time.perf_counter() - t0, 3))


def bench_dicom(directory, first_file, args):
    path = str(directory / first_file)
    bench.first_pixel(path)
    try:
        wsidicom_first(directory)
    except Exception as e:
        bench.record("first", "wsidicom", skipped=f"{type(e).__name__}: {e}"[:300])
    bench.random_patches(path, args)
    # wsidicom on the same patches, checked against OpenSlide's (bench.random_patches's seed).
    import openslide

    s = openslide.OpenSlide(path)
    w, h = s.dimensions
    rng = np.random.default_rng(12)
    locs = np.stack([rng.integers(0, w - peers.SIZE, args.patches),
                     rng.integers(0, h - peers.SIZE, args.patches)], 1)
    ref = {i: np.asarray(s.read_region((int(x), int(y)), 0, (peers.SIZE, peers.SIZE)))[..., :3]
           for i, (x, y) in enumerate(locs[:peers.CHECK])}
    few = locs[:args.peer_patches]
    n = args.workers
    bench.timed(f"wsidicom {n} threads", lambda: wsidicom_threads(directory, few, n), len(few), ref)
    bench.whole_level(path, args.cli)
    try:
        wsidicom_level(directory)
    except Exception as e:
        bench.record("level", "wsidicom", skipped=f"{type(e).__name__}: {e}"[:300])


# ---- MIRAX ----

def make_mirax(source, directory, scale, jitter=None):
    """A MIRAX slide (directory/slide.mrxs + directory/slide/) laid out by
    tests/fixtures/make_mirax_fixtures.py from the tiled scan: 256 px JPEG images, 2 x 2 per
    camera photo, photos overlapping by 32 px with jitter (multiples of 16, so that all 5
    levels place them on whole pixels), 4 data files; returns "slide.mrxs"."""
    import make_mirax_fixtures as mmf

    src = tissue_tiles(source, scale)
    h, w = src.shape[:2]
    size, div, overlap, q = 256, 2, 32, 16
    step = size * div - overlap
    across = (w - size * div - 2 * q) // step + 1
    down = (h - size * div - 2 * q) // step + 1
    directory.mkdir(parents=True)
    mmf.write_slide(directory, "slide", src, divisions=div, images_x=across * div,
                    images_y=down * div, image_size=size, overlap=overlap,
                    concat_exponents=[0, 1, 1, 1, 1], level_overlaps=[32, 16, 8, 4, 2],
                    missing0=set(), missing1=set(), datafiles=4, page_size=256, seed=3,
                    jitter=jitter)
    mmf.check_openslide(directory / "slide.mrxs")
    return "slide.mrxs"


def bench_mirax(directory, first_file, args):
    for p in (directory / "slide").iterdir():
        p.read_bytes()  # pages cached, as main() does for the directory's own files
    path = str(directory / first_file)
    bench.first_pixel(path)
    bench.random_patches(path, args)
    bench.whole_level(path, args.cli)


# Each format: how its slide is made (returns the file to open, inside the slide's path) and
# how it is measured.
FORMATS = {
    "dicom": {"name": "bench-dicom", "make": make_dicom, "bench": bench_dicom},
    "mirax": {"name": "bench-mirax", "make": make_mirax, "bench": bench_mirax},
    # As real scanners place them: camera positions on odd pixels, so that levels 1-4 paint
    # their images between pixels (composed with OpenSlide's bilinear arithmetic, docs/mirax.md).
    "mirax-frac": {"name": "bench-mirax-frac",
                   "make": lambda src, d, sc: make_mirax(src, d, sc, jitter=[-3, -1, 0, 1, 3]),
                   "bench": bench_mirax},
}


def slide_directory(kind, args):
    """Where a format's slide is made (once) and read: --slides/NAME, or s<scale>-NAME."""
    name = FORMATS[kind]["name"]
    return pathlib.Path(args.slides) / (name if args.scale == 1 else f"s{args.scale}-{name}")


def run_isolated(kind, args):
    """Runs one format's cases in a child process (this script with --in-process), so that a crash
    in one format (MIRAX's open died of SIGSEGV on the device, twice, and nowhere else) costs only
    that format's rows and leaves a native backtrace: the child is run again under cuda-gdb, the
    device image's only debugger (it debugs host code too), and its log lands beside --out."""
    import json
    import shutil
    import subprocess

    out = pathlib.Path(args.out) if args.out else pathlib.Path(args.slides) / "formats.json"
    child_out = out.with_name(f"{out.stem}-{kind}.json")
    child_out.unlink(missing_ok=True)
    cmd = [sys.executable, "-X", "faulthandler", str(pathlib.Path(__file__).resolve()),
           "--in-process", "--only", kind,
           "--slides", args.slides, "--out", str(child_out), "--cli", args.cli,
           "--source", args.source, "--patches", str(args.patches),
           "--peer-patches", str(args.peer_patches), "--workers", str(args.workers),
           "--scale", str(args.scale)]
    done = subprocess.run(cmd)
    if child_out.exists():
        child = json.loads(child_out.read_text())
        bench.META.setdefault("slides", {}).update(child.get("slides", {}))
        bench.RESULTS.extend(child["results"])
    if done.returncode >= 0:
        return
    # The quick probes first, recorded (the JSON is written per row) before the slow debugger run.
    bench.record("crash", kind, signal=-done.returncode, **crash_probes(kind, args, out))
    fields = {"signal": -done.returncode}
    debugger = shutil.which("cuda-gdb")
    if debugger:
        log = out.with_name(f"{out.stem}-{kind}-backtrace.log")
        try:
            traced = subprocess.run([debugger, "-q", "-batch", "-ex", "run", "-ex", "bt 60",
                                     "-ex", "info sharedlibrary", "--args", *cmd],
                                    capture_output=True, text=True, timeout=150)
            log.write_text(traced.stdout + traced.stderr)
            frames = [line for line in traced.stdout.splitlines() if line.startswith("#")]
            fields.update(backtrace_log=str(log), backtrace=frames[:25])
        except subprocess.TimeoutExpired:
            fields["backtrace"] = "cuda-gdb run timed out after 150 s"
    else:
        fields["backtrace"] = "no cuda-gdb on PATH"
    bench.record("crash-backtrace", kind, **fields)


def crash_probes(kind, args, out):
    """After a crash: which part of the process it needs. The same slide opened by the CLI (no
    Python, no OpenSlide) and by a Python process that never imports OpenSlide (its libraries
    stay out of the process), each in a child of its own; and the slide's small files (the
    index, the key file, the data files' sizes) packed beside --out, to replay the open here."""
    import subprocess
    import tarfile

    directory = slide_directory(kind, args)
    marker = directory / ".made"
    if not marker.exists():
        return {"probes": "the slide was not made"}
    path = str(directory / marker.read_text())
    probes = {}
    runs = {
        "cli_info": [args.cli, "info", path],
        "python_without_openslide": [
            sys.executable, "-X", "faulthandler", "-c",
            "import sys, slidestream; s = slidestream.Slide(sys.argv[1]); "
            "w, h = s.dimensions; s.read_region((w // 2, h // 2), 0, (256, 256)); print('ok')",
            path],
    }
    for name, cmd in runs.items():
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            probes[name] = {"returncode": done.returncode,
                            "tail": (done.stdout + done.stderr)[-1500:]}
        except (OSError, subprocess.TimeoutExpired) as e:
            probes[name] = {"error": f"{type(e).__name__}: {e}"[:300]}
    pack = out.with_name(f"{out.stem}-{kind}-slide.tar.gz")
    with tarfile.open(pack, "w:gz") as tar:
        for p in sorted(directory.rglob("*")):
            if p.is_file() and p.stat().st_size <= (4 << 20):
                tar.add(p, arcname=str(p.relative_to(directory)))
    probes["slide_files"] = {str(p.relative_to(directory)): p.stat().st_size
                             for p in sorted(directory.rglob("*")) if p.is_file()}
    probes["slide_pack"] = str(pack)
    return {"probes": probes}


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
    ap.add_argument("--only", default=",".join(FORMATS))
    ap.add_argument("--scale", type=int, default=1, help="divide the slides' sides (quick runs)")
    ap.add_argument("--in-process", action="store_true",
                    help="run the formats in this process (default: each in a child process)")
    args = ap.parse_args()
    bench.OUT = args.out
    bench.META.update({"cpus": os.cpu_count(), "slides": {}})
    if not args.in_process:
        for kind in args.only.split(","):
            run_isolated(kind, args)
        if args.out:
            import json

            pathlib.Path(args.out).write_text(
                json.dumps({**bench.META, "results": bench.RESULTS}, indent=1))
        return 0
    for kind in args.only.split(","):
        spec = FORMATS[kind]
        directory = slide_directory(kind, args)
        marker = directory / ".made"
        if not marker.exists():
            import shutil

            pathlib.Path(args.slides).mkdir(parents=True, exist_ok=True)
            if directory.exists():
                shutil.rmtree(directory)
            try:
                t0 = time.perf_counter()
                first = spec["make"](args.source, directory, args.scale)
                marker.write_text(first)
                bench.record("make", kind, seconds=round(time.perf_counter() - t0, 1))
            except Exception as e:
                bench.record("make", kind, skipped=f"{type(e).__name__}: {e}"[:300])
                continue
        first = marker.read_text()
        files = [p for p in directory.iterdir() if p.is_file()]
        bench.META["slides"][kind] = {"path": str(directory / first),
                                      "bytes": sum(p.stat().st_size for p in files)}
        for p in files:
            p.read_bytes()  # pages cached
        bench.RESULTS.append({"case": "slide", "what": kind})
        spec["bench"](directory, first, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
