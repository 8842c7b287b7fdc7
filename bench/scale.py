#!/usr/bin/env python3
"""Batches of slides over Dask (issue 13): slides per hour on 1 worker and on N, ours against the
seed's route in the same call.

The batch: --slides copies of one slide of the seed's shape (bench/make_bench_slides.py's raw.tif:
26420 x 19920 x 3 uint8, 512^2 uncompressed tiles; --width/--height make smaller ones for a local
try), each a file of its own. Two jobs, each over the whole batch, one task per slide:

  sobel    slide level 0 -> per-channel Sobel magnitude, float32 -> Zarr v3 (512^2 x 3 chunks)
  sobel-u8 the same, stored as uint8 (our op sobel-u8: rint(clamp(sobel, 0, 1) * 255)); a
           quarter of the bytes, for disks that cannot hold eight float32 outputs (6.3 GB each)
  convert  slide -> OME-Zarr (uint8, 512^2 chunks)

Routes:
  ours  slidestream.dask.process_slides (ops=["sobel"] / ops=None): our tiled pipeline per task
  seed  the seed's route, per task: the level read whole (kvikio's per-tile preads into a CuPy
        array on a GPU, the seed's read_tiled; tifffile into NumPy on the CPU), dask.array over
        it, map_overlap(per-channel Sobel, depth 1, boundary "reflect") (cupyx / scipy.ndimage),
        dask.array.to_zarr (zarr-python); convert: the same without the Sobel

Workers: LocalCluster (CPU: --workers 1,2; each worker gets cores / N threads) or dask-cuda's
LocalCUDACluster (--device cuda: one worker per GPU, N <= GPUs). Scaling efficiency =
(slides/hour on N) / (N x slides/hour on 1). Prints a Markdown table; --json writes the rows.

usage: bench/scale.py --source ../shared/testdata/cmu-1-small-region.svs --work /tmp/scale
           [--slides 8] [--width 26420 --height 19920] [--device cpu|cuda] [--workers 1,2]
           [--jobs sobel,convert] [--routes ours,seed] [--threads-per-task T] [--json scale.json]
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def make_batch(source, work, count, width, height):
    base = work / "base"
    if not (base / "raw.tif").exists():
        subprocess.run([sys.executable, str(HERE / "make_bench_slides.py"), "--source", str(source),
                        "--out", str(base), "--width", str(width), "--height", str(height)],
                       check=True)
    slides = []
    for i in range(count):
        path = work / "slides" / f"slide-{i:02d}.tif"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            shutil.copyfile(base / "raw.tif", path)  # a file of its own: no shared page cache
        slides.append(path)
    return slides


# ---- the seed's route, one slide per task ---------------------------------------------------

def _seed_read(slide, device):
    if device == "cuda":
        sys.path.insert(0, str(HERE))
        from uc1 import kvikio_read_tiled
        return kvikio_read_tiled(str(slide))()  # the seed's read_tiled, as UC1 runs it
    import tifffile
    return tifffile.imread(slide)


def _seed_sobel_block(block, as_uint8=False):
    import numpy as np
    if type(block).__module__.startswith("cupy"):
        import cupy as xp
        import cupyx.scipy.ndimage as ndi
    else:
        xp = np
        import scipy.ndimage as ndi
    out = xp.empty(block.shape, dtype=xp.float32)
    for c in range(block.shape[-1]):
        f = block[..., c].astype(xp.float32) / xp.float32(255)
        gx = ndi.sobel(f, axis=1, mode="reflect")
        gy = ndi.sobel(f, axis=0, mode="reflect")
        out[..., c] = xp.sqrt((gx * gx + gy * gy) * xp.float32(0.5)) * xp.float32(0.25)
    if as_uint8:  # our sobel-u8: rint(clamp(sobel, 0, 1) * 255), half to even
        return xp.rint(xp.clip(out, 0, 1) * xp.float32(255)).astype(xp.uint8)
    return out


def seed_one(slide, output, job, device, threads):
    import dask
    import dask.array as da
    import numpy as np
    start = time.perf_counter()
    shutil.rmtree(output, ignore_errors=True)
    level = _seed_read(slide, device)
    arr = da.from_array(level, chunks=(512, 512, 3), asarray=False)
    if job in ("sobel", "sobel-u8"):
        out_type = np.uint8 if job == "sobel-u8" else np.float32
        arr = arr.map_overlap(_seed_sobel_block, depth=(1, 1, 0), boundary="reflect",
                              dtype=out_type, as_uint8=job == "sobel-u8")
    if device == "cuda":
        import cupy
        arr = arr.map_blocks(cupy.asnumpy, dtype=arr.dtype, meta=np.empty((0, 0, 0), arr.dtype))
    with dask.config.set(scheduler="threads", num_workers=threads):
        da.to_zarr(arr, str(output), overwrite=True, zarr_format=3)
    return {"slide": str(slide), "seconds": time.perf_counter() - start, "status": "done"}


# ---- one measurement ------------------------------------------------------------------------

def run_batch(client, route, job, slides, out_dir, device, threads):
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    start = time.perf_counter()
    if route == "ours":
        from slidestream.dask import process_slides
        ops = None if job == "convert" else [job]
        results = process_slides(slides, out_dir, ops=ops, client=client, device=device,
                                 progress=False, summary=False, threads=threads)
        failed = [r for r in results if r.status != "done"]
        if failed:
            raise SystemExit(f"ours {job}: {failed[0].slide}: {failed[0].error}")
    else:
        futures = [client.submit(seed_one, s, out_dir / (s.stem + ".zarr"), job, device, threads,
                                 pure=False) for s in slides]
        client.gather(futures)
    return time.perf_counter() - start


def make_cluster(device, workers, threads):
    from distributed import Client, LocalCluster
    if device == "cuda":
        try:
            from dask_cuda import LocalCUDACluster
            cluster = LocalCUDACluster(n_workers=workers, threads_per_worker=1)
        except ImportError:  # by hand for one worker: a process that sees GPU 0 only
            if workers != 1:
                raise SystemExit("more than one GPU worker needs dask-cuda (LocalCUDACluster)")
            cluster = LocalCluster(n_workers=1, threads_per_worker=1,
                                   env={"CUDA_VISIBLE_DEVICES": "0"})
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)
    return cluster, Client(cluster)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", required=True, help="the scan make_bench_slides.py mirrors")
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--slides", type=int, default=8)
    ap.add_argument("--width", type=int, default=26420)
    ap.add_argument("--height", type=int, default=19920)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--jobs", default="sobel,convert", help="comma list: sobel, sobel-u8, convert")
    ap.add_argument("--routes", default="ours,seed")
    ap.add_argument("--threads-per-task", type=int, default=0,
                    help="threads each task uses (default: cores / N, so every N fills the "
                         "machine); a fixed value measures scaling: N workers x T threads "
                         "against 1 x T, while N x T <= cores")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    slides = make_batch(a.source, a.work, a.slides, a.width, a.height)
    cores = os.cpu_count() or 1
    rows = []
    for n in [int(v) for v in a.workers.split(",")]:
        threads = a.threads_per_task or max(1, cores // n)
        cluster, client = make_cluster(a.device, n, threads)
        try:
            for job in a.jobs.split(","):
                # Ours and the seed's in turns, the same files, the same cluster.
                for route in a.routes.split(","):
                    out_dir = a.work / "out" / f"{route}-{job}-{n}"
                    seconds = run_batch(client, route, job, slides, out_dir, a.device, threads)
                    written = sum(f.stat().st_size for f in out_dir.rglob("*") if f.is_file())
                    # Each batch's outputs go before the next: eight float32 Sobel outputs of the
                    # seed's shape (50 GB) beside the slides fill the lent machine's 64 GiB disk.
                    shutil.rmtree(out_dir, ignore_errors=True)
                    row = {"route": route, "job": job, "workers": n, "threads_per_task": threads,
                           "slides": len(slides), "seconds": seconds, "bytes_written": written,
                           "slides_per_hour": len(slides) * 3600 / seconds}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    if a.json:  # after every row: a call stopped at its limit keeps the rows so far
                        a.json.parent.mkdir(parents=True, exist_ok=True)
                        a.json.write_text(json.dumps({"device": a.device, "partial": True,
                                                      "rows": rows}, indent=1))
        finally:
            client.close()
            cluster.close()
    one = {(r["route"], r["job"]): r["slides_per_hour"] for r in rows if r["workers"] == 1}
    for r in rows:
        base = one.get((r["route"], r["job"]))
        r["efficiency"] = r["slides_per_hour"] / (r["workers"] * base) if base else None
        seed = next((s for s in rows if s["route"] == "seed" and s["job"] == r["job"]
                     and s["workers"] == r["workers"]), None)
        r["vs_seed"] = r["slides_per_hour"] / seed["slides_per_hour"] if seed else None
    w, h = a.width, a.height
    print(f"\n{len(slides)} slides of {w} x {h} x 3 uint8 ({a.device}, {cores} cores, "
          f"{socket.gethostname()})\n")
    print("| job | route | workers | seconds | slides/hour | efficiency | vs seed |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        eff = f"{r['efficiency']:.2f}" if r["efficiency"] is not None else "-"
        vs = f"{r['vs_seed']:.2f}x" if r["vs_seed"] is not None else "-"
        print(f"| {r['job']} | {r['route']} | {r['workers']} | {r['seconds']:.2f} | "
              f"{r['slides_per_hour']:.0f} | {eff} | {vs} |")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({"device": a.device, "cores": cores, "width": w, "height": h,
                                      "host": socket.gethostname(),
                                      "date": time.strftime("%Y-%m-%d"), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
