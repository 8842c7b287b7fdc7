#!/usr/bin/env python3
"""How far our GPU JPEG decoders land from libjpeg-turbo (OpenCV), tile by tile, on jpeg.tif.

For each decoder setting (CPU decoders only; nvJPEG's engines alone; both, the default) reads the level with
`slidestream read --device cuda --dump` and compares every tile with cv2.imdecode of the same
bytes: max abs difference, samples that differ, tiles whose max exceeds 1, and a histogram of
per-tile maxima. A systematic decoder difference (chroma upsampling) shows up in almost every
tile; a placement or ordering bug in a few tiles with large errors.

usage: jpeg_accuracy.py --cli build/slidestream --slides DIR --out FILE.json
"""
import argparse
import collections
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from uc1 import jpeg_tile_bytes  # noqa: E402
import cli_backends  # noqa: E402  bench/cli_backends.py


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--slides", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--build")
    a, _ = ap.parse_known_args()
    import cv2
    jpeg = os.path.join(a.slides, "jpeg.tif")
    tiles, th, tw, H, W = jpeg_tile_bytes(jpeg)
    across = (W + tw - 1) // tw
    refs = {}
    settings = [("cpu decoders", {"SLIDESTREAM_NVJPEG": "0"}, 16),
                ("nvjpeg hardware, 1 thread", {"SLIDESTREAM_NVJPEG": "sync"}, 1),
                ("nvjpeg hardware + 16 CPU threads (default)", {"SLIDESTREAM_NVJPEG": "sync"}, 16)]
    results = []
    for name, env, threads in settings:
        dump = "/tmp/jpeg-accuracy.bin"
        env, flags = cli_backends.split(env)
        p = subprocess.run([a.cli, "read", jpeg, "--device", "cuda", "--threads", str(threads),
                            "--repeat", "2", "--dump", dump, "--json", *flags],
                           capture_output=True, text=True, env=dict(os.environ, **env))
        if p.returncode != 0:
            results.append({"setting": name, "error": p.stderr[-300:]})
            continue
        info = json.loads(p.stdout.strip().splitlines()[-1])
        ours = np.fromfile(dump, np.uint8).reshape(H, W, 3)
        hist = collections.Counter()
        worst, differing, over1 = 0, 0, 0
        for i, b in enumerate(tiles):
            if i not in refs:
                refs[i] = cv2.cvtColor(cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR),
                                       cv2.COLOR_BGR2RGB)
            ref = refs[i]
            y, x = divmod(i, across)
            h, w = min(th, H - y * th), min(tw, W - x * tw)
            d = np.abs(ours[y * th:y * th + h, x * tw:x * tw + w].astype(np.int16) -
                       ref[:h, :w].astype(np.int16))
            m = int(d.max())
            hist[min(m, 64)] += 1
            worst = max(worst, m)
            differing += int((d > 0).sum())
            over1 += m > 1
        r = {"setting": name, "decoder": info.get("decoder"), "seconds": info["seconds"],
             "max_abs": worst, "differing_samples": differing, "samples": H * W * 3,
             "tiles": len(tiles), "tiles_max_over_1": over1,
             "per_tile_max_histogram": dict(sorted(hist.items()))}
        results.append(r)
        print(json.dumps(r))
    with open(a.out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
