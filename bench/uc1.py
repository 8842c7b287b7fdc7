#!/usr/bin/env python3
"""Use case 1 (issue 3): a whole level into a preallocated GPU array, against the peers and the
hardware limits, all measured in this one run (BENCH-ANCHORS.md: ratios only count within a run).

  python3 bench/uc1.py --cli build/slidestream --slides DIR --out uc1.json [--repeat 3]

DIR holds raw.tif and jpeg.tif (bench/make_bench_slides.py). Every figure is the median of
--repeat runs after one warm-up run; "cold" drops the file's pages first (posix_fadvise
DONTNEED, as the seed's scripts do). Peers that are not installed are skipped with a note;
cuCIM runs in a subprocess (its GPU loader aborts the process on uncompressed tiles).
Our GPU reads are watched device-wide (bench/gpu_memory.py) against a bare CUDA context measured
at the start: device_peak_mib, above_bare_mib, and over_output_mib (the goal: <= 256).
Writes JSON records for bench/plot.py and prints a Markdown table.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import gpu_memory  # bench/gpu_memory.py, next to this file

RESULTS = []
META = {}
BARE_CONTEXT_MIB = None  # device-wide MiB of a bare CUDA context, measured at the start
OUT_PATH = None  # rewritten after every record, so a run cut short still leaves its numbers


def note(msg):
    print(msg, flush=True)


def record(case, what, seconds=None, nbytes=None, ours=False, **extra):
    r = {"case": case, "what": what, "ours": ours}
    if seconds is not None:
        r["seconds"] = round(seconds, 5)
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


def drop(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def warm(path):
    with open(path, "rb") as f:
        while f.read(64 << 20):
            pass


def timed(fn, repeat, cold_path=None):
    """Median seconds of `repeat` runs after one warm-up; cold drops the page cache each time."""
    times = []
    for i in range(repeat + 1):
        if cold_path:
            drop(cold_path)
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        if i > 0:
            times.append(dt)
    return statistics.median(times), times


# ---------------------------------------------------------------- ours (the CLI)

def ours(cli, path, case, what, repeat, threads=0, io="auto", cold=False, env=None,
         dump=None, device="cuda", flags=()):
    cmd = [cli, "read", path, "--device", device, "--threads", str(threads), "--io", io,
           "--repeat", str(repeat + 1), "--json", *flags]
    if cold:
        cmd.append("--drop-cache")
    if dump:
        cmd += ["--dump", dump]
    run_env = dict(os.environ, **(env or {}))
    memory = {}
    if device == "cuda" and BARE_CONTEXT_MIB is not None:
        # Device-wide, against a bare CUDA context measured in this call (issue 16.4: a read's
        # overhead beyond its output at most 256 MiB).
        with gpu_memory.DevicePeak() as peak:
            p = subprocess.run(cmd, capture_output=True, text=True, env=run_env)
        memory = {"device_peak_mib": round(peak.above_idle_mib, 1),
                  "above_bare_mib": round(peak.above_idle_mib - BARE_CONTEXT_MIB, 1)}
    else:
        p = subprocess.run(cmd, capture_output=True, text=True, env=run_env)
    if p.returncode != 0:
        return record(case, what, ours=True, error=(p.stderr or p.stdout).strip()[-300:])
    j = json.loads(p.stdout.strip().splitlines()[-1])
    if memory:
        memory["over_output_mib"] = round(memory["above_bare_mib"] - j["bytes"] / (1 << 20), 1)
    runs = j["seconds"][1:]  # the first run also fills the process-wide staging pool
    return record(case, what, statistics.median(runs), j["bytes"], ours=True,
                  runs=[round(t, 4) for t in runs], io_path=j["io_path"], io_note=j["io_note"],
                  decoder=j["decoder"], checksum=j["checksum"], **memory)


# ---------------------------------------------------------------- limits

def limit_pread(path, threads, block, repeat, cold):
    size = os.path.getsize(path)
    buf = np.empty(size, np.uint8)
    mv = memoryview(buf)

    def run():
        fd = os.open(path, os.O_RDONLY)
        try:
            offsets = list(range(0, size, block))
            def one(off):
                n = min(block, size - off)
                got = os.preadv(fd, [mv[off:off + n]], off)
                assert got == n
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(one, offsets))
        finally:
            os.close(fd)
    med, runs = timed(run, repeat, path if cold else None)
    return med, size


def limit_h2d(nbytes=1 << 30, repeat=5):
    import cupy as cp
    host = cp.cuda.alloc_pinned_memory(nbytes)
    dev = cp.empty(nbytes, cp.uint8)
    stream = cp.cuda.Stream(non_blocking=True)
    times = []
    for i in range(repeat + 1):
        t0 = time.perf_counter()
        cp.cuda.runtime.memcpyAsync(dev.data.ptr, host.ptr, nbytes, 1, stream.ptr)
        stream.synchronize()
        if i:
            times.append(time.perf_counter() - t0)
    return statistics.median(times), nbytes


# ---------------------------------------------------------------- peers

def tifffile_cupy(path):
    import cupy as cp
    import tifffile

    def run():
        a = cp.asarray(tifffile.imread(path))
        cp.cuda.runtime.deviceSynchronize()
        return a
    return run


def kvikio_read_tiled(path, tiles_in_flight=128):
    """The seed's read_tiled: aligned per-tile pread into GPU tile buffers, then each tile
    copied to its place in the preallocated level array."""
    import cupy as cp
    import kvikio
    import kvikio.defaults
    import tifffile
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        th, tw = page.tilelength, page.tilewidth
        H, W = page.imagelength, page.imagewidth
        offsets = list(page.dataoffsets)
        counts = list(page.databytecounts)
    across = (W + tw - 1) // tw
    out = cp.empty((H, W, 3), cp.uint8)
    bufs = [cp.empty((th, tw, 3), cp.uint8) for _ in range(tiles_in_flight)]

    def run():
        with kvikio.CuFile(path, "r") as f:
            for start in range(0, len(offsets), tiles_in_flight):
                idx = range(start, min(start + tiles_in_flight, len(offsets)))
                futs = [f.pread(bufs[k], counts[i], offsets[i]) for k, i in enumerate(idx)]
                for fu in futs:
                    fu.get()
                for k, i in enumerate(idx):
                    y, x = divmod(i, across)
                    h = min(th, H - y * th)
                    w = min(tw, W - x * tw)
                    out[y * th:y * th + h, x * tw:x * tw + w] = bufs[k][:h, :w]
        cp.cuda.runtime.deviceSynchronize()
        return out
    return run


CUCIM_CHILD = r"""
import sys, time, statistics, os, json
import cupy as cp
from cucim import CuImage
path, device, workers, repeat, cold = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
img = CuImage(path)
W, H = img.resolutions["level_dimensions"][0]
times = []
for i in range(repeat + 1):
    if cold:
        fd = os.open(path, os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)
    t0 = time.perf_counter()
    r = img.read_region((0, 0), (W, H), level=0, device=device, num_workers=workers)
    a = cp.asarray(r)
    cp.cuda.runtime.deviceSynchronize()
    if i: times.append(time.perf_counter() - t0)
print(json.dumps({"seconds": statistics.median(times), "bytes": int(a.nbytes)}))
"""


def cucim_peer(path, case, device, workers, repeat, cold=False):
    what = f"cuCIM read_region(device={device!r}, num_workers={workers})" + (
        "" if device == "cuda" else " + cupy")
    try:
        import cucim  # noqa: F401
    except Exception as e:
        return record(case, what, skipped=f"cucim not importable: {e}")
    p = subprocess.run([sys.executable, "-c", CUCIM_CHILD, path, device, str(workers),
                        str(repeat), "1" if cold else "0"], capture_output=True, text=True,
                       timeout=300)
    if p.returncode != 0:
        return record(case, what, error=f"exit {p.returncode}: " + (p.stderr or p.stdout)[-300:])
    j = json.loads(p.stdout.strip().splitlines()[-1])
    return record(case, what, j["seconds"], j["bytes"])


def jpeg_tile_bytes(path):
    import tifffile
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        fh = tif.filehandle
        tiles = []
        for off, n in zip(page.dataoffsets, page.databytecounts):
            fh.seek(off)
            tiles.append(fh.read(n))
        return tiles, page.tilelength, page.tilewidth, page.imagelength, page.imagewidth


_FLOOR_TILES = None


def _cv2_floor_init(tiles):
    global _FLOOR_TILES
    import cv2
    cv2.setNumThreads(1)
    _FLOOR_TILES = tiles


def _cv2_decode_range(bounds):
    import cv2
    start, stop = bounds
    for b in _FLOOR_TILES[start:stop]:
        cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR)
    return stop - start


def cv2_floor(tiles, procs, repeat):
    """libjpeg-turbo through OpenCV in `procs` processes that already hold the tile bytes (sent
    once, before timing), as BENCH-ANCHORS' floor was measured."""
    import multiprocessing as mp
    step = (len(tiles) + procs - 1) // procs
    ranges = [(i, min(i + step, len(tiles))) for i in range(0, len(tiles), step)]
    with mp.get_context("fork").Pool(procs, initializer=_cv2_floor_init,
                                     initargs=(tiles,)) as pool:
        pool.map(_cv2_decode_range, [(0, 1)] * procs)  # every worker started and initialised
        def run():
            pool.map(_cv2_decode_range, ranges, chunksize=1)
        return timed(run, repeat)[0]


def nvimgcodec_batch(tiles, repeat):
    from nvidia import nvimgcodec
    dec = nvimgcodec.Decoder()
    def run():
        imgs = dec.decode(tiles)
        import cupy as cp
        cp.cuda.runtime.deviceSynchronize()
        return imgs
    return timed(run, repeat)[0]


def max_abs_vs_libjpeg(dump, tiles, th, tw, H, W):
    """Our GPU level (dumped) against OpenCV's libjpeg-turbo decode of every tile."""
    import cv2
    ours_px = np.fromfile(dump, np.uint8).reshape(H, W, 3)
    across = (W + tw - 1) // tw
    worst = 0
    differing = 0
    for i, b in enumerate(tiles):
        ref = cv2.cvtColor(cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR),
                           cv2.COLOR_BGR2RGB)
        y, x = divmod(i, across)
        h, w = min(th, H - y * th), min(tw, W - x * tw)
        d = np.abs(ours_px[y * th:y * th + h, x * tw:x * tw + w].astype(np.int16) -
                   ref[:h, :w].astype(np.int16))
        worst = max(worst, int(d.max()))
        differing += int((d > 0).sum())
    return worst, differing


# ---------------------------------------------------------------- main

def attempt(case, what, fn, nbytes, **extra):
    try:
        s = fn()
        return record(case, what, s, nbytes, **extra)
    except Exception as e:
        return record(case, what, error=f"{type(e).__name__}: {e}"[:300])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--build", default=None)
    ap.add_argument("--slides", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--skip", default="", help="comma list: tifffile,kvikio,cucim,cold,jpeg")
    a = ap.parse_args()
    global OUT_PATH
    OUT_PATH = a.out
    META.update({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds"), "device": device_name(), "threads": a.threads,
        "repeat": a.repeat})
    skip = set(filter(None, a.skip.split(",")))
    global BARE_CONTEXT_MIB
    try:
        BARE_CONTEXT_MIB = gpu_memory.bare_context_mib()
        META["bare_context_mib"] = round(BARE_CONTEXT_MIB, 1)
    except Exception as e:  # noqa: BLE001 - timings still count without the memory numbers
        note(f"device-wide memory not measured: {e}")
    raw = os.path.join(a.slides, "raw.tif")
    jpeg = os.path.join(a.slides, "jpeg.tif")
    N, R = a.threads, a.repeat
    raw_bytes = 26420 * 19920 * 3
    try:
        import tifffile
        with tifffile.TiffFile(raw) as t:
            p = t.pages[0]
            raw_bytes = p.imagelength * p.imagewidth * 3
    except Exception:
        pass

    # Hardware limits, in this run.
    note("== limits")
    warm(raw)
    attempt("uc1-limits", "pinned host->device copy (1 GiB)", lambda: limit_h2d()[0], 1 << 30)
    attempt("uc1-limits", f"pread {N} threads x 16 MiB, warm",
            lambda: limit_pread(raw, N, 16 << 20, R, False)[0], os.path.getsize(raw))
    if "cold" not in skip:
        for t in sorted({2, 8, N}):
            attempt("uc1-limits", f"pread {t} threads x 16 MiB, cold",
                    lambda t=t: limit_pread(raw, t, 16 << 20, R, True)[0], os.path.getsize(raw))

    note("== raw.tif warm")
    warm(raw)
    for t in (1, N):
        for io in ("posix", "auto", "cufile"):
            ours(a.cli, raw, "uc1-raw-warm", f"slidestream {t} thr, io={io}", R, t, io)
    ours(a.cli, raw, "uc1-raw-warm", f"slidestream {N} thr into host memory (CPU path)", R, N,
         device="cpu")
    if "tifffile" not in skip:
        attempt("uc1-raw-warm", "tifffile.imread + cupy.asarray",
                lambda: timed(tifffile_cupy(raw), R)[0], raw_bytes)
    if "kvikio" not in skip:
        attempt("uc1-raw-warm", "kvikio read_tiled (per-tile pread, POSIX)",
                lambda: timed(kvikio_read_tiled(raw), R)[0], raw_bytes)
    if "cucim" not in skip:
        cucim_peer(raw, "uc1-raw-warm", "cpu", N, R)
        cucim_peer(raw, "uc1-raw-warm", "cuda", N, 1)

    if "cold" not in skip:
        note("== raw.tif cold")
        for t, io in ((N, "posix"), (N, "auto"), (1, "posix")):
            ours(a.cli, raw, "uc1-raw-cold", f"slidestream {t} thr, io={io}", R, t, io, cold=True)
        if "tifffile" not in skip:
            attempt("uc1-raw-cold", "tifffile.imread + cupy.asarray",
                    lambda: timed(tifffile_cupy(raw), R, raw)[0], raw_bytes)
        if "kvikio" not in skip:
            attempt("uc1-raw-cold", "kvikio read_tiled (per-tile pread, POSIX)",
                    lambda: timed(kvikio_read_tiled(raw), R, raw)[0], raw_bytes)
        if "cucim" not in skip:
            cucim_peer(raw, "uc1-raw-cold", "cpu", N, R, cold=True)

    if "jpeg" not in skip and os.path.exists(jpeg):
        note("== jpeg.tif warm")
        warm(jpeg)
        dump = "/tmp/uc1-jpeg-ours.bin"
        # nvJPEG decoders are made once per process (about a second); --gpu-jpeg-wait makes them
        # in the warm-up read, which is not counted, as a long-running reader would have them.
        nv_flags = ["--gpu-jpeg-wait"]
        ours(a.cli, jpeg, "uc1-jpeg-warm", f"slidestream {N} thr (CPU + nvJPEG, one queue)", R,
             N, dump=dump, flags=nv_flags)
        ours(a.cli, jpeg, "uc1-jpeg-warm", f"slidestream {N} thr, CPU decoders only", R, N,
             flags=["--no-gpu-jpeg"])
        ours(a.cli, jpeg, "uc1-jpeg-warm", "slidestream 1 thr + nvJPEG", R, 1, flags=nv_flags)
        ours(a.cli, jpeg, "uc1-jpeg-warm", f"slidestream {N} thr into host memory (CPU path)", R,
             N, device="cpu")
        try:
            tiles, th, tw, H, W = jpeg_tile_bytes(jpeg)
            nbytes = H * W * 3
            worst, differing = max_abs_vs_libjpeg(dump, tiles, th, tw, H, W)
            record("uc1-jpeg-warm", "slidestream vs libjpeg-turbo (OpenCV)", max_abs=worst,
                   differing_samples=differing)
            attempt("uc1-jpeg-warm", "16-process cv2 floor (bytes in RAM, no GPU copy)",
                    lambda: cv2_floor(tiles, 16, R), nbytes)
            attempt("uc1-jpeg-warm", "nvImageCodec batch decode (bytes in RAM)",
                    lambda: nvimgcodec_batch(tiles, R), nbytes)
        except Exception as e:
            record("uc1-jpeg-warm", "reference decode", error=f"{type(e).__name__}: {e}"[:300])
        if "cucim" not in skip:
            cucim_peer(jpeg, "uc1-jpeg-warm", "cuda", N, R)
            cucim_peer(jpeg, "uc1-jpeg-warm", "cpu", N, R)
        if "cold" not in skip:
            ours(a.cli, jpeg, "uc1-jpeg-cold", f"slidestream {N} thr (CPU + nvJPEG)", R, N,
                 cold=True, flags=nv_flags)
            ours(a.cli, jpeg, "uc1-jpeg-cold", f"slidestream {N} thr, CPU decoders only", R, N,
                 cold=True, flags=["--no-gpu-jpeg"])
            if "cucim" not in skip:
                cucim_peer(jpeg, "uc1-jpeg-cold", "cuda", N, R, cold=True)

    # Ratios against the peers of the same case: peer seconds / our seconds.
    peers = (("tifffile", "tifffile"), ("kvikio", "kvikio"), ("cuCIM-cpu", "device='cpu'"),
             ("cuCIM-cuda", "device='cuda'"), ("cv2-floor", "16-process cv2"),
             ("nvImageCodec", "nvImageCodec"))
    for case_name in {r["case"] for r in RESULTS}:
        rows = [r for r in RESULTS if r["case"] == case_name and "seconds" in r]
        for label, needle in peers:
            peer = next((r for r in rows if not r.get("ours") and needle in r["what"]), None)
            if not peer:
                continue
            for r in rows:
                if r.get("ours"):
                    r.setdefault("ratios", {})[label] = round(peer["seconds"] / r["seconds"], 2)

    with open(a.out, "w") as f:
        json.dump({**META, "results": RESULTS}, f, indent=1)
    print_markdown(META)


def device_name():
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version",
                               "--format=csv,noheader"], capture_output=True,
                              text=True).stdout.strip()
    except Exception:
        return "unknown"


def print_markdown(meta):
    print(f"\n### uc1, {meta['date']}, {meta['device']}, {meta['threads']} threads, "
          f"median of {meta['repeat']}\n")
    print("| case | what | seconds | GB/s | ratios | path / decoder / note |")
    print("|---|---|---|---|---|---|")
    for r in RESULTS:
        ratios = ", ".join(f"{v}x vs {k}" for k, v in r.get("ratios", {}).items())
        extra = " ".join(str(r[k]) for k in ("io_path", "decoder", "io_note", "error", "skipped")
                         if r.get(k))
        if "max_abs" in r:
            extra = f"max abs {r['max_abs']}, {r['differing_samples']} samples differ"
        print(f"| {r['case']} | {r['what']} | {r.get('seconds', '')} | {r.get('gbps', '')} | "
              f"{ratios} | {extra[:160]} |")


if __name__ == "__main__":
    main()
