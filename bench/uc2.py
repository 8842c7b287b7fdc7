#!/usr/bin/env python3
"""Use case 2 driver: array in GPU memory -> uncompressed Zarr on disk, durable, ours vs peers.

Runs bench_uc2 (ours: posix with N and 1 threads, cufile requested -> honest fallback; plus the
raw parallel O_DIRECT write limit of the disk, several times, before and after), then the peers
on the same shapes, each timed from data in memory to data durable on disk (os.sync()):
  - tensorstore (zarr3 driver),
  - zarr-python 3 (skipped with a note where it is not installed; carry wheels to the device),
  - zarr-python 3 on kvikio's GDSStore from cupy (where kvikio and cupy import).
Peers get the array from the GPU through cupy where cupy is installed (the device->host copy is
inside their timing, as ours is); without cupy they start from host memory, which favours them,
and the table says so. All writers produce the same Zarr v3 layout: shape (3, H, W), chunks
(3, c, c), codecs [transpose [1,2,0], bytes] (sharded: the same inside sharding_indexed with a
crc32c index).

  python3 bench/uc2.py --build build --out bench/results/uc2 [--dir SCRATCH] [--size-mb 1600]
                       [--device cuda|cpu] [--threads N] [--quick] [--skip-peers]
Writes OUT/uc2.json, OUT/uc2.md and (if matplotlib is there) OUT/uc2.png. Keep SCRATCH on the
disk being measured; everything written there is deleted between cases.
"""
import argparse
import json
import math
import os
import pathlib
import shutil
import subprocess
import sys
import time


def side_for(size_mb, itemsize):
    # Same arithmetic as bench_uc2: a square 3-channel array of about size_mb.
    return int(math.sqrt(size_mb * 1e6 / (3.0 * itemsize)))


def make_host(side, dtype):
    import numpy as np
    rng = np.random.default_rng(1)
    if dtype == "uint8":
        return rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8)
    return rng.random((side, side, 3), dtype=np.float32)


def v3_codecs(shard, chunk):
    inner = [{"name": "transpose", "configuration": {"order": [1, 2, 0]}},
             {"name": "bytes", "configuration": {"endian": "little"}}]
    if not shard:
        return inner
    return [{"name": "sharding_indexed", "configuration": {
        "chunk_shape": [3, chunk, chunk], "codecs": inner,
        "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                         {"name": "crc32c"}],
        "index_location": "end"}}]


def write_tensorstore(path, data, dtype, chunk, shard):
    import tensorstore as ts
    side = data.shape[0]
    grid = shard or chunk
    store = ts.open({
        "driver": "zarr3",
        "kvstore": {"driver": "file", "path": str(path)},
        "metadata": {"shape": [3, side, side], "data_type": dtype,
                     "chunk_grid": {"name": "regular",
                                    "configuration": {"chunk_shape": [3, grid, grid]}},
                     "chunk_key_encoding": {"name": "default"},
                     "codecs": v3_codecs(shard, chunk), "fill_value": 0},
        "create": True, "delete_existing": True}).result()
    store.write(data.transpose(2, 0, 1)).result()


def write_zarr_python(path, data, dtype, chunk, shard):
    import zarr
    from zarr.codecs import BytesCodec, TransposeCodec
    side = data.shape[0]
    a = zarr.create_array(store=str(path), shape=(3, side, side), chunks=(3, chunk, chunk),
                          shards=(3, shard, shard) if shard else None, dtype=dtype,
                          filters=[TransposeCodec(order=(1, 2, 0))], serializer=BytesCodec(),
                          compressors=None, fill_value=0, zarr_format=3, overwrite=True)
    a[...] = data.transpose(2, 0, 1)


def write_zarr_kvikio(path, data, dtype, chunk, shard):
    # zarr-python 3 on kvikio's GDSStore with GPU buffers: data stays a cupy array.
    import zarr
    from kvikio.zarr import GDSStore
    from zarr.codecs import BytesCodec, TransposeCodec
    side = data.shape[0]
    with zarr.config.enable_gpu():
        a = zarr.create_array(store=GDSStore(str(path)), shape=(3, side, side),
                              chunks=(3, chunk, chunk),
                              shards=(3, shard, shard) if shard else None, dtype=dtype,
                              filters=[TransposeCodec(order=(1, 2, 0))], serializer=BytesCodec(),
                              compressors=None, fill_value=0, zarr_format=3, overwrite=True)
        a[...] = data.transpose(2, 0, 1)


PEERS = {"tensorstore": write_tensorstore, "zarr-python": write_zarr_python,
         "zarr-python+kvikio": write_zarr_kvikio}


def peer_available(name, have_cupy):
    modules = {"tensorstore": ["tensorstore"], "zarr-python": ["zarr"],
               "zarr-python+kvikio": ["zarr", "kvikio.zarr"]}[name]
    if name == "zarr-python+kvikio" and not have_cupy:
        return False, f"{name} skipped: needs cupy"
    try:
        for m in modules:
            __import__(m)
        return True, ""
    except ImportError as ex:
        return False, f"{name} not installed ({ex}); carry its wheels to run it"


def run_peers(args, scratch, cases, notes):
    results = []
    cupy = None
    if args.device == "cuda":
        try:
            import cupy  # noqa: F401
        except ImportError:
            cupy = None
            notes.append("no cupy here: peers start from host memory (their device->host copy "
                         "is NOT timed; ours is)")
    for dtype in sorted({c["dtype"] for c in cases}):
        import numpy as np
        side = side_for(args.size_mb, np.dtype(dtype).itemsize)
        host = make_host(side, dtype)
        source = cupy.asarray(host) if cupy is not None else host
        for name, fn in PEERS.items():
            ok, why = peer_available(name, cupy is not None)
            if not ok:
                notes.append(why)
                continue
            for c in [c for c in cases if c["dtype"] == dtype]:
                path = scratch / f"peer-{name}.zarr"
                shutil.rmtree(path, ignore_errors=True)
                os.sync()
                t0 = time.perf_counter()
                try:
                    if name == "zarr-python+kvikio":
                        data = source  # stays on the GPU
                    else:
                        data = cupy.asnumpy(source) if cupy is not None else source
                    fn(path, data, dtype, c["chunk"], c["shard"])
                    os.sync()
                    seconds = time.perf_counter() - t0
                    gb = host.nbytes / 1e9
                    results.append({"who": name, "dtype": dtype, "chunk": c["chunk"],
                                    "shard": c["shard"], "seconds": seconds, "gb": gb,
                                    "gb_per_s": gb / seconds, "from_gpu": cupy is not None})
                    print(f"{name:12s} {dtype:7s} chunk {c['chunk']:4d} shard {c['shard']:4d}: "
                          f"{seconds:.3f} s {gb / seconds:.2f} GB/s", file=sys.stderr)
                except Exception as ex:  # noqa: BLE001 - a failing peer is a result, not a crash
                    results.append({"who": name, "dtype": dtype, "chunk": c["chunk"],
                                    "shard": c["shard"], "error": f"{type(ex).__name__}: {ex}"})
                    print(f"{name} failed: {ex}", file=sys.stderr)
                shutil.rmtree(path, ignore_errors=True)
    return results


def table(ours, peers, raw_limit, notes, device):
    def pick(who, dtype, chunk, shard, fmt=3, threads=None, io=None):
        for r in ours if who == "ours" else peers:
            if r.get("dtype") != dtype or r.get("chunk") != chunk or r.get("shard") != shard:
                continue
            if who == "ours":
                if r["zarr_format"] != fmt or (threads and r["threads"] != threads) or \
                        (io and r["io_requested"] != io):
                    continue
            elif r.get("who") != who:
                continue
            return r
        return None

    def gbps(r):
        if r is None:
            return "—"
        return "error" if "error" in r else f"{r['gb_per_s']:.2f}"

    nthreads = max((r["threads"] for r in ours), default=1)
    lines = [f"Device: {device}. Raw parallel O_DIRECT durable-write limit (best median, same "
             f"run): **{raw_limit:.2f} GB/s**. GB/s from data in memory to durable on disk.", "",
             f"| dtype | chunk | shard | ours posix {nthreads} thr | ours 1 thr | ours cufile→? | "
             f"ours v2 | tensorstore | zarr-python | zarr+kvikio | ours / limit | ours / tensorstore |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["dtype"], r["chunk"], r["shard"]) for r in ours},
                  key=lambda k: (k[0], k[2] != 0, k[1]))
    for dtype, chunk, shard in keys:
        main = pick("ours", dtype, chunk, shard, threads=nthreads, io="posix")
        one = pick("ours", dtype, chunk, shard, threads=1, io="posix")
        cuf = pick("ours", dtype, chunk, shard, io="cufile")
        v2 = pick("ours", dtype, chunk, shard, fmt=2)
        ts_r = pick("tensorstore", dtype, chunk, shard)
        zp = pick("zarr-python", dtype, chunk, shard)
        kv = pick("zarr-python+kvikio", dtype, chunk, shard)
        frac = f"{main['gb_per_s'] / raw_limit:.0%}" if main and raw_limit else "—"
        ratio = (f"{main['gb_per_s'] / ts_r['gb_per_s']:.2f}×"
                 if main and ts_r and "error" not in ts_r else "—")
        lines.append(f"| {dtype} | {chunk}² | {shard or '—'} | {gbps(main)} | {gbps(one)} | "
                     f"{gbps(cuf)} | {gbps(v2)} | {gbps(ts_r)} | {gbps(zp)} | {gbps(kv)} | {frac} | "
                     f"{ratio} |")
    paths = sorted({r["io_path"] for r in ours})
    lines += ["", "I/O paths reported by our writer: " + "; ".join(f"`{p}`" for p in paths)]
    if notes:
        lines += [""] + [f"- {n}" for n in dict.fromkeys(notes)]
    return "\n".join(lines) + "\n"


def chart(path, ours, peers, raw_limit):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    nthreads = max((r["threads"] for r in ours), default=1)
    labels, series = [], {"ours": [], "tensorstore": [], "zarr-python": []}
    for r in ours:
        if r["threads"] != nthreads or r["io_requested"] != "posix" or r["zarr_format"] != 3:
            continue
        labels.append(f"{r['dtype']}\n{r['chunk']}²" + (f"\nshard {r['shard']}" if r["shard"] else ""))
        series["ours"].append(r["gb_per_s"])
        for peer in ("tensorstore", "zarr-python"):
            m = [p for p in peers if p["who"] == peer and p["dtype"] == r["dtype"] and
                 p["chunk"] == r["chunk"] and p["shard"] == r["shard"] and "error" not in p]
            series[peer].append(m[0]["gb_per_s"] if m else 0)
    fig, ax = plt.subplots(figsize=(max(6, len(labels) * 1.1), 4))
    width = 0.27
    for i, (name, values) in enumerate(series.items()):
        ax.bar([x + (i - 1) * width for x in range(len(labels))], values, width, label=name)
    ax.axhline(raw_limit, color="k", linestyle="--", linewidth=1, label="raw O_DIRECT limit")
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    ax.set_ylabel("GB/s, durable")
    ax.set_title("UC2: array -> uncompressed Zarr v3")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--out", default="bench/results/uc2",
                    help="results directory, or a .json path (scripts/device-check.sh style: the "
                    ".md and .png go next to it)")
    ap.add_argument("--cli", help="accepted for scripts/device-check.sh; unused")
    ap.add_argument("--slides", help="accepted for scripts/device-check.sh; unused")
    ap.add_argument("--dir", default=None, help="scratch directory on the disk under test")
    ap.add_argument("--size-mb", type=float, default=1600)
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--chunks", default="256,512,1024,2048")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: checks that it runs")
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--from-json", help="only redo uc2.md / uc2.png from an earlier uc2.json "
                    "(e.g. fetched from the GPU machine, which may lack matplotlib)")
    # Tolerant: scripts/device-check.sh passes the same BENCH_ARGS to every driver.
    args, unknown = ap.parse_known_args()
    if unknown:
        print(f"uc2.py: ignoring arguments {unknown}", file=sys.stderr)
    out = pathlib.Path(args.out)
    json_path = out if out.suffix == ".json" else out / "uc2.json"
    out = json_path.parent
    out.mkdir(parents=True, exist_ok=True)
    if args.from_json:
        doc = json.load(open(args.from_json))
        md = table(doc["ours"], doc["peers"], doc["raw_limit_gb_per_s"], doc["notes"],
                   doc["device"])
        (out / (json_path.stem + ".md")).write_text(md)
        chart(out / (json_path.stem + ".png"), doc["ours"], doc["peers"], doc["raw_limit_gb_per_s"])
        print(md)
        return 0
    if args.quick:
        args.size_mb = min(args.size_mb, 24)
    scratch = pathlib.Path(args.dir or (out / "uc2-scratch"))
    scratch.mkdir(parents=True, exist_ok=True)
    exe = pathlib.Path(args.build) / "bench" / "bench_uc2"
    cmd = [str(exe), "--dir", str(scratch), "--json", str(out / "uc2-ours.json"),
           "--size-mb", str(args.size_mb), "--device", args.device, "--chunks", args.chunks]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.quick:
        cmd += ["--quick"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    ours_doc = json.load(open(out / "uc2-ours.json"))
    ours = ours_doc["results"]
    raw_limit = max(r["median_gb_per_s"] for r in ours_doc["raw_disk"])
    notes = []
    if not any("cufile" in r["io_path"] for r in ours if r["io_requested"] == "cufile"):
        if args.device == "cuda":
            notes.append("cufile requested: our writer reports what it did in io_path (no GDS "
                         "write path is claimed)")
    cases = [{"dtype": d, "chunk": c, "shard": s}
             for (d, c, s) in sorted({(r["dtype"], r["chunk"], r["shard"]) for r in ours})]
    peers = [] if args.skip_peers else run_peers(args, scratch, cases, notes)
    shutil.rmtree(scratch, ignore_errors=True)
    doc = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "device": args.device,
           "size_mb": args.size_mb, "raw_limit_gb_per_s": raw_limit,
           "raw_disk": ours_doc["raw_disk"], "ours": ours, "peers": peers, "notes": notes,
           "wall_seconds": time.perf_counter() - t0}
    json.dump(doc, open(json_path, "w"), indent=2)
    md = table(ours, peers, raw_limit, notes, args.device)
    (out / (json_path.stem + ".md")).write_text(md)
    chart(out / (json_path.stem + ".png"), ours, peers, raw_limit)
    print(md)
    print(f"total {doc['wall_seconds']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
