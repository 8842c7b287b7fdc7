#!/usr/bin/env python3
"""Fits our nvJPEG-decoded pixels against libjpeg-turbo (OpenCV) per channel and prints the worst
pixels: tells a colour-matrix error from misplaced chroma. usage: nvjpeg_probe.py CLI jpeg.tif"""
import os, subprocess, sys, json
import numpy as np, cv2
sys.path.insert(0, "bench")
from uc1 import jpeg_tile_bytes
cli, jpeg = sys.argv[1], sys.argv[2]
tiles, th, tw, H, W = jpeg_tile_bytes(jpeg)
dump = "/tmp/probe.bin"
p = subprocess.run([cli, "read", jpeg, "--device", "cuda", "--threads", "1", "--gpu-jpeg", "--gpu-jpeg-wait",
                    "--repeat", "2", "--dump", dump, "--json"], capture_output=True, text=True)
print(p.stdout[-300:], p.stderr[-300:])
ours = np.fromfile(dump, np.uint8).reshape(H, W, 3)
across = (W + tw - 1) // tw
xs, ys = [], []
for i in range(0, len(tiles), 7):
    ref = cv2.cvtColor(cv2.imdecode(np.frombuffer(tiles[i], np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    y, x = divmod(i, across)
    h, w = min(th, H - y * th), min(tw, W - x * tw)
    o = ours[y*th:y*th+h, x*tw:x*tw+w].reshape(-1, 3).astype(float)
    r = ref[:h, :w].reshape(-1, 3).astype(float)
    xs.append(r); ys.append(o)
r = np.concatenate(xs); o = np.concatenate(ys)
for c in range(3):
    m = (r[:, c] > 20) & (r[:, c] < 235)
    A = np.vstack([r[m, c], np.ones(m.sum())]).T
    sl, off = np.linalg.lstsq(A, o[m, c], rcond=None)[0]
    print("channel", c, "ours ~ %.4f * ref + %.2f" % (sl, off), "mean diff", float((o[:, c] - r[:, c]).mean()))
# Is ours a permutation of channels?
for perm in [(0,1,2),(2,1,0),(1,0,2),(0,2,1)]:
    print(perm, float(np.abs(o[:, list(perm)] - r).mean()))
idx = np.argsort(-np.abs(o - r).max(1))[:8]
for k in idx: print("ref", r[k], "ours", o[k])
