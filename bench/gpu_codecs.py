#!/usr/bin/env python3
"""GPU decoders (nvCOMP, nvJPEG2000) vs CPU decoding, whole level into GPU memory.

usage: gpu_codecs.py CLI FIXTURES_DIR WORK_DIR REPORT.txt  (libnvcomp / libnvjpeg2k on LD_LIBRARY_PATH)

Big slides are made by repeating the stored (compressed) tiles of small fixtures: 48 x 48 tiles
of 256^2 for deflate / zstd (12288^2 RGB, 453 MB decoded), 24 x 24 for JPEG 2000 (113 MB),
written by a minimal TIFF writer (no codecs needed).
Each configuration: `slidestream read --repeat 3` (median, warm page cache), the checksum of
the pixels (equal for every lossless path) and the decoder the read reports.
"""
import json
import os
import struct
import subprocess
import sys

import tifffile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_backends  # noqa: E402  bench/cli_backends.py

SHORT, LONG, ASCII = 3, 4, 2


def write_tiff(path, width, height, tile, spp, bps, compression, photometric, predictor,
               description, tiles):
    with open(path, "wb") as f:
        f.write(b"II*\0" + struct.pack("<I", 0))
        offsets, counts = [], []
        for b in tiles:
            offsets.append(f.tell())
            f.write(b)
            counts.append(len(b))
        extra = {}

        def blob(data):
            if f.tell() % 2:
                f.write(b"\0")
            at = f.tell()
            f.write(data)
            return at

        entries = [(256, LONG, 1, width), (257, LONG, 1, height),
                   (258, SHORT, spp, blob(struct.pack("<%dH" % spp, *[bps] * spp)) if spp > 2 else bps),
                   (259, SHORT, 1, compression), (262, SHORT, 1, photometric)]
        if description:
            d = description.encode() + b"\0"
            entries.append((270, ASCII, len(d), blob(d)))
        entries += [(277, SHORT, 1, spp), (284, SHORT, 1, 1), (317, SHORT, 1, predictor),
                    (322, LONG, 1, tile), (323, LONG, 1, tile),
                    (324, LONG, len(offsets), blob(struct.pack("<%dI" % len(offsets), *offsets))),
                    (325, LONG, len(counts), blob(struct.pack("<%dI" % len(counts), *counts)))]
        if f.tell() % 2:
            f.write(b"\0")
        ifd = f.tell()
        f.write(struct.pack("<H", len(entries)))
        for tag, typ, count, value in entries:
            if typ == SHORT and count == 1:
                f.write(struct.pack("<HHIHH", tag, typ, count, value, 0))
            else:
                f.write(struct.pack("<HHII", tag, typ, count, value))
        f.write(struct.pack("<I", 0))
        f.seek(4)
        f.write(struct.pack("<I", ifd))


def make_big(src, dst, across):
    with tifffile.TiffFile(src) as t:
        p = t.pages[0]
        fh = t.filehandle
        stored = []
        for off, n in zip(p.dataoffsets, p.databytecounts):
            fh.seek(off)
            stored.append(fh.read(n))
        tile = p.tilewidth
        size = tile * across
        desc = p.description if p.description.startswith("Aperio") else ""
        if desc:
            desc = (f"Aperio Image Library v11.2.1 \r\n{size}x{size} [0,0 {size}x{size}] "
                    f"({tile}x{tile}) J2K/YUV16 Q=70|AppMag = 20|MPP = 0.4990")
        tiles = (stored[k % len(stored)] for k in range(across * across))
        write_tiff(dst, size, size, tile, p.samplesperpixel, p.bitspersample[0]
                   if isinstance(p.bitspersample, tuple) else p.bitspersample,
                   int(p.compression), int(p.photometric), int(p.predictor), desc, tiles)


def read(cli, slide, device, threads, env):
    env, flags = cli_backends.split(env)
    e = dict(os.environ, **env)
    out = subprocess.run([cli, "read", slide, "--device", device, "--threads", str(threads),
                          "--repeat", "3", "--json", *flags], capture_output=True, text=True, env=e)
    if out.returncode != 0:
        return {"error": (out.stderr or out.stdout).strip()[-300:]}
    return json.loads(out.stdout)


def main():
    cli, fixtures, work, report = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    nv, j2 = "SLIDESTREAM_NVCOMP", "SLIDESTREAM_NVJPEG2K"
    nw, jw = "SLIDESTREAM_NVCOMP_WORKERS", "SLIDESTREAM_NVJPEG2K_WORKERS"
    lossless = [("cpu, all threads (host memory)", "cpu", 0, {}),
                ("cuda, CPU decode + copy (switch off)", "cuda", 0, {nv: "0"}),
                ("cuda, nvCOMP x2 + CPU helpers", "cuda", 0, {nv: "1", nw: "2"}),
                ("cuda, nvCOMP x4 + CPU helpers", "cuda", 0, {nv: "1", nw: "4"}),
                ("cuda, nvCOMP x2 alone (--threads 1)", "cuda", 1, {nv: "1", nw: "2"}),
                ("cuda, nvCOMP x4 alone (--threads 1)", "cuda", 1, {nv: "1", nw: "4"})]
    j2k = [("cpu, all threads (host memory)", "cpu", 0, {}),
           ("cuda, CPU decode + copy (switch off)", "cuda", 0, {j2: "0"}),
           ("cuda, nvJPEG2000 x4 + CPU helpers", "cuda", 0, {}),
           ("cuda, nvJPEG2000 x8 + CPU helpers", "cuda", 0, {jw: "8"}),
           ("cuda, nvJPEG2000 x4 alone (--threads 1)", "cuda", 1, {}),
           ("cuda, nvJPEG2000 x8 alone (--threads 1)", "cuda", 1, {jw: "8"}),
           ("cuda, nvJPEG2000 x16 alone (--threads 1)", "cuda", 1, {jw: "16"})]
    cases = [("deflate-pred2", "tf-deflate-pred-256.tif", 48, lossless),
             # libvips' frames carry no content checksum: nvCOMP may not take them (issue 16),
             # so this row is the CPU decoding them; the checksummed frames show nvCOMP.
             ("zstd", "vips-zstd-256.tif", 48, lossless),
             ("zstd-checksum", "gc-zstd-checksum-256.tif", 48, lossless),
             ("j2k-ycbcr-33003", "tf-aperio-j2k-ycbcr-256.svs", 24, j2k),
             ("j2k-rgb-33005", "tf-aperio-j2k-rgb-256.svs", 24, j2k[:4])]
    lines = []
    for name, src, across, configs in cases:
        if not os.path.exists(os.path.join(fixtures, src)):
            print(f"## {name}: {src} absent (tests/fixtures/make_gpu_codec_fixtures.py)")
            continue
        big = os.path.join(work, name + (".svs" if src.endswith(".svs") else ".tif"))
        make_big(os.path.join(fixtures, src), big, across)
        lines.append(f"## {name}: {across * 256}^2 RGB, "
                     f"{os.path.getsize(big) / 1e6:.0f} MB on disk")
        print(lines[-1], flush=True)
        for label, device, threads, env in configs:
            r = read(cli, big, device, threads, env)
            if "error" in r:
                lines.append(f"  {label:42s} ERROR {r['error']}")
            else:
                lines.append(f"  {label:42s} {r.get('median_seconds', 0):.4f} s  "
                             f"(best {r.get('best_seconds', 0):.4f})  decoder={r.get('decoder')}  "
                             f"checksum={r.get('checksum')}")
            print(lines[-1], flush=True)
    with open(report, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
