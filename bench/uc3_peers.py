#!/usr/bin/env python3
"""UC3's peers for read + Sobel, one peer per process (cuCIM can abort a process; each peer keeps
its own CuPy memory pool, so its peak is its own):

  kvikio-cupy   the competent user's script (BENCH-ANCHORS): kvikio's per-tile preads into GPU
                tile buffers placed into the level (the seed's read_tiled, bench/uc1.py), then
                CuPy's cupyx.scipy.ndimage.sobel per channel, float32 (seed_pipeline.py's
                sobel_per_channel: scikit-image's definition)
  kvikio-cucim  the same read, then cuCIM's 2-D cucim.skimage.filters.sobel per channel, float32

Warm page cache. One untimed warm-up, then --repeats timed runs, each phase synchronised. Prints
one JSON object: read, sobel and read + sobel seconds (median and minimum), peak GPU memory (the
CuPy pool's bytes), and one output value, so that a peer computing something else shows.

usage: uc3_peers.py SLIDE --peer kvikio-cupy|kvikio-cucim [--repeats 3]
"""
import argparse
import json
import pathlib
import statistics
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("slide")
    ap.add_argument("--peer", required=True, choices=["kvikio-cupy", "kvikio-cucim"])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import cupy as cp
    from uc1 import kvikio_read_tiled  # the seed's read_tiled, shared with UC1

    if args.peer == "kvikio-cupy":
        from seed_pipeline import sobel_per_channel
    else:
        from cucim.skimage.filters import sobel as cucim_sobel

        def sobel_per_channel(img):
            out = cp.empty(img.shape, dtype=cp.float32)
            for c in range(img.shape[-1]):
                f = img[..., c].astype(cp.float32) / cp.float32(255)
                out[..., c] = cucim_sobel(f)
                del f
            return out

    # kvikio_read_tiled returns a run() that reads the level into its preallocated GPU array;
    # the array is its closure's, reached through the function's cells.
    read = kvikio_read_tiled(args.slide)
    level = next(c.cell_contents for c in read.__closure__
                 if isinstance(c.cell_contents, cp.ndarray) and c.cell_contents.ndim == 3)

    reads, sobels, totals = [], [], []
    spot = None
    for i in range(args.repeats + 1):
        t0 = time.perf_counter()
        read()
        cp.cuda.runtime.deviceSynchronize()
        t1 = time.perf_counter()
        out = sobel_per_channel(level)
        cp.cuda.runtime.deviceSynchronize()
        t2 = time.perf_counter()
        if i:
            reads.append(t1 - t0)
            sobels.append(t2 - t1)
            totals.append(t2 - t0)
        spot = float(out[1000, 1000, 0])
        del out
    pool = cp.get_default_memory_pool()
    print(json.dumps({
        "peer": args.peer, "slide": args.slide,
        "width": int(level.shape[1]), "height": int(level.shape[0]),
        "read_median": statistics.median(reads), "read_min": min(reads),
        "sobel_median": statistics.median(sobels), "sobel_min": min(sobels),
        "seconds_median": statistics.median(totals), "seconds_min": min(totals),
        "peak_gpu_bytes": int(pool.total_bytes()), "repeats": args.repeats,
        "value_at_1000_1000_0": spot}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
