#!/usr/bin/env python3
"""Sweeps the GPU read path's tunables on the bench slides, our CLI only (bench/uc1.py has the
peers): nvJPEG workers × batch on jpeg.tif (warm), and coalesced read size × O_DIRECT reads in
flight on raw.tif (cold), next to the cold-read limit measured the same way as uc1.py's.

usage: uc1_sweep.py --cli build/slidestream --slides DIR --out FILE.json
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from uc1 import limit_pread, warm  # noqa: E402
import cli_backends  # noqa: E402  bench/cli_backends.py


def read(cli, path, threads, env, cold, repeat, task_bytes=0):
    cmd = [cli, "read", path, "--device", "cuda", "--threads", str(threads), "--repeat",
           str(repeat + 1), "--json", "--no-checksum"]
    if cold:
        cmd.append("--drop-cache")
    if task_bytes:
        cmd += ["--task-bytes", str(task_bytes)]
    env, flags = cli_backends.split(env)
    cmd += flags
    p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, **env))
    if p.returncode != 0:
        return {"error": (p.stderr or p.stdout)[-300:]}
    j = json.loads(p.stdout.strip().splitlines()[-1])
    runs = j["seconds"][1:]
    return {"seconds": statistics.median(runs), "runs": [round(t, 4) for t in runs],
            "gbps": j["bytes"] / statistics.median(runs) / 1e9, "decoder": j["decoder"],
            "io_path": j["io_path"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--slides", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--build")
    a, _ = ap.parse_known_args()
    rows = []
    jpeg = os.path.join(a.slides, "jpeg.tif")
    raw = os.path.join(a.slides, "raw.tif")
    threads = os.cpu_count()
    warm(jpeg)
    for workers in (1, 2, 3, 4, 6):
        for batch in (32, 64, 128):
            env = {"SLIDESTREAM_NVJPEG": "sync", "SLIDESTREAM_NVJPEG_WORKERS": str(workers),
                   "SLIDESTREAM_NVJPEG_BATCH": str(batch)}
            r = read(a.cli, jpeg, threads, env, False, a.repeat)
            rows.append({"case": "jpeg-warm", "workers": workers, "batch": batch, **r})
            print(json.dumps(rows[-1]), flush=True)
    r = read(a.cli, jpeg, threads, {"SLIDESTREAM_NVJPEG": "0"}, False, a.repeat)
    rows.append({"case": "jpeg-warm", "workers": 0, "batch": 0, **r})
    print(json.dumps(rows[-1]), flush=True)
    for t, block in ((4, 16 << 20), (8, 16 << 20), (8, 32 << 20), (4, 64 << 20)):
        sec, size = limit_pread(raw, t, block, a.repeat, True)
        rows.append({"case": "raw-cold-limit", "threads": t, "block": block, "seconds": sec,
                     "gbps": size / sec / 1e9})
        print(json.dumps(rows[-1]), flush=True)
    for task in (8 << 20, 16 << 20, 32 << 20):
        for in_flight in (4, 8, 16):
            r = read(a.cli, raw, threads, {"SLIDESTREAM_DIRECT_IN_FLIGHT": str(in_flight)}, True,
                     a.repeat, task)
            rows.append({"case": "raw-cold", "task_bytes": task, "in_flight": in_flight, **r})
            print(json.dumps(rows[-1]), flush=True)
    with open(a.out, "w") as f:
        json.dump({"rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
