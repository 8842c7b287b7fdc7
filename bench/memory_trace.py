#!/usr/bin/env python3
"""When does `slidestream process --mode tiled` hold its device memory (issue 16.4)? NVML's
device-wide count every 2 ms while the CLI runs, against a bare CUDA context measured in the same
call (bench/gpu_memory.py), for the raw and the JPEG bench slide: the peak above the bare context,
when in the run it came (0 = start, 1 = end), and the run in 25 equal pieces (each piece's
highest count above the bare context, MiB), so that a peak at the start (context, modules,
libraries' set-up), in the bands, or at the end (writer, pyramid) shows itself.

  python3 bench/memory_trace.py --cli build/slidestream --slides DIR --out trace.json \
      [--op sobel] [--extra-args "--io posix"]

A scripts/device-check.sh driver (BENCHES=bench/memory_trace.py): DIR holds raw.tif and jpeg.tif
(bench/make_bench_slides.py)."""
import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import gpu_memory  # bench/gpu_memory.py, next to this file

MIB = 1 << 20
PIECES = 25


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--slides", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--build", help="ignored (device-check passes it to every driver)")
    ap.add_argument("--op", default="sobel")
    ap.add_argument("--gpu", type=int, default=0)
    ap.add_argument("--scratch", default="/tmp/memory-trace")
    ap.add_argument("--extra-args", default="", help="more `process` arguments, one string")
    a = ap.parse_args()
    bare = gpu_memory.bare_context_mib(a.gpu)
    out = {"bare_context_mib": round(bare, 1), "op": a.op, "extra_args": a.extra_args, "runs": []}
    for name in ("raw", "jpeg"):
        slide = Path(a.slides) / f"{name}.tif"
        if not slide.exists():
            out["runs"].append({"slide": name, "skipped": f"{slide} is missing"})
            continue
        cmd = [a.cli, "process", str(slide), str(Path(a.scratch) / f"{name}.zarr"), "--op", a.op,
               "--mode", "tiled", "--device", f"cuda:{a.gpu}", "--overwrite",
               "--json", *shlex.split(a.extra_args)]
        with gpu_memory.DevicePeak(a.gpu) as watch:
            t0 = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True)
            t1 = time.perf_counter()
        series, idle = watch.samples, watch.idle_bytes
        run = {"slide": name, "seconds": round(t1 - t0, 3), "returncode": done.returncode}
        if done.returncode != 0 or not series:
            run["error"] = done.stderr[-800:]
        else:
            peak_t = max(series, key=lambda s: s[1])[0]
            pieces = []
            for k in range(PIECES):
                lo, hi = t0 + (t1 - t0) * k / PIECES, t0 + (t1 - t0) * (k + 1) / PIECES
                vals = [u for t, u in series if lo <= t < hi]
                pieces.append(round((max(vals) - idle) / MIB - bare, 1) if vals else None)
            rec = json.loads(done.stdout)
            run.update(peak_above_bare_mib=round(watch.above_idle_mib - bare, 1),
                       peak_at=round((peak_t - t0) / (t1 - t0), 3), above_bare_by_piece=pieces,
                       executor=rec.get("executor"), own_peak_bytes=rec.get("peak_gpu_bytes"),
                       pipeline_delta_bytes=rec.get("gpu_memory_delta_bytes"),
                       write_io_path=rec.get("write_io_path"))
        out["runs"].append(run)
        print(json.dumps(run), flush=True)
    Path(a.out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
