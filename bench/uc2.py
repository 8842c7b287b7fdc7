#!/usr/bin/env python3
"""Use case 2 driver: array in GPU memory -> uncompressed Zarr on disk, durable, ours vs peers.

Runs bench_uc2 (ours with the library's defaults (io auto, N threads, the default in-flight
depth); 1 thread with 1 file in flight; io=cufile requested, which is an error where cuFile
cannot write and is recorded as such; v2; optionally a sweep of in-flight depths), and the disk's
durable direct-write limit as BENCH-ANCHORS.md measures it (parallel O_DIRECT pwrite of a 4 GiB
file, several threads x block configurations, rounds spread before / between / after our cases,
median and best), then the peers on the same shapes, each timed from data in memory to data
durable on disk (os.sync()):
  - tensorstore (zarr3 driver), every case,
  - zarr-python 3 (skipped with a note where it is not installed; carry wheels to the device),
  - zarr-python 3 on kvikio's GDSStore from cupy (where kvikio and cupy import);
the two zarr-python peers on the cases named by --zarr-cases (all with --all-peers): they are
slow, and device time is scarce.
Peers get the array from the GPU through cupy where cupy is installed (the device->host copy is
inside their timing, as ours is); without cupy they start from host memory, which favours them,
and the table says so. All writers produce the same Zarr v3 layout: shape (3, H, W), chunks
(3, c, c), codecs [transpose [1,2,0], bytes] (sharded: the same inside sharding_indexed with a
crc32c index).
A second table holds the seed's own layout, the interleaved (H, W, 3) array with (c, c, 3) chunks
and no transpose (ours: roles "v2-yxc" and "yxc", chunk sizes from --yxc), against kvikio writing
the same v2 array chunk by chunk (one kvikio.CuFile write per chunk file from the GPU array, the
seed's own way of writing it), with the disk's limit from the same call.

  python3 bench/uc2.py --build build --out bench/results/uc2 [--dir SCRATCH] [--size-mb 1600]
                       [--device cuda|cpu] [--threads N] [--sweep 8,16,32,64,128] [--quick]
                       [--skip-peers] [--all-peers]
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


def write_kvikio_chunks(path, data, dtype, chunk):
    """The seed's own writer: a Zarr v2 (H, W, 3) array, (chunk, chunk, 3) chunks, uncompressed,
    each chunk one file written by kvikio.CuFile from a contiguous copy of the (GPU) array."""
    import kvikio
    try:
        import cupy as xp
    except ImportError:
        import numpy as xp
    side = data.shape[0]
    path.mkdir(parents=True)
    (path / ".zarray").write_text(json.dumps({
        "zarr_format": 2, "shape": [side, side, 3], "chunks": [chunk, chunk, 3],
        "dtype": "|u1" if dtype == "uint8" else "<f4", "compressor": None, "fill_value": 0,
        "order": "C", "filters": None, "dimension_separator": "."}))
    n = -(-side // chunk)
    for iy in range(n):
        for ix in range(n):
            block = data[iy * chunk:(iy + 1) * chunk, ix * chunk:(ix + 1) * chunk]
            if block.shape[:2] != (chunk, chunk):  # edge chunks are stored whole
                full = xp.zeros((chunk, chunk, 3), dtype=data.dtype)
                full[:block.shape[0], :block.shape[1]] = block
                block = full
            with kvikio.CuFile(path / f"{iy}.{ix}.0", "w") as f:
                f.write(xp.ascontiguousarray(block))


PEERS = {"tensorstore": write_tensorstore, "zarr-python": write_zarr_python,
         "zarr-python+kvikio": write_zarr_kvikio}


def peer_available(name, have_cupy):
    modules = {"tensorstore": ["tensorstore"], "zarr-python": ["zarr"],
               "zarr-python+kvikio": ["zarr", "kvikio.zarr"], "kvikio-chunks": ["kvikio"]}[name]
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
                if name != "tensorstore" and not args.all_peers and \
                        f"{c['chunk']}/{c['shard']}" not in args.zarr_cases.split(","):
                    continue
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


def run_kvikio_chunks(args, scratch, ours, notes):
    """kvikio's per-chunk v2 write of the interleaved array, on every (dtype, chunk) of our
    v2-yxc rows."""
    results = []
    rows = sorted({(r["dtype"], r["chunk"]) for r in ours if r.get("role") == "v2-yxc"})
    if not rows:
        return results
    try:
        import cupy
    except ImportError:
        cupy = None
    ok, why = peer_available("kvikio-chunks", cupy is not None)
    if not ok:
        notes.append(why)
        return results
    if cupy is None:
        notes.append("kvikio-chunks starts from host memory (no cupy)")
    import numpy as np
    for dtype in sorted({d for d, _ in rows}):
        host = make_host(side_for(args.size_mb, np.dtype(dtype).itemsize), dtype)
        source = cupy.asarray(host) if cupy is not None else host
        for chunk in sorted(c for d, c in rows if d == dtype):
            path = scratch / "peer-kvikio-chunks.zarr"
            shutil.rmtree(path, ignore_errors=True)
            os.sync()
            t0 = time.perf_counter()
            r = {"who": "kvikio-chunks", "dtype": dtype, "chunk": chunk, "shard": 0,
                 "layout": "yxc", "zarr_format": 2, "from_gpu": cupy is not None}
            try:
                write_kvikio_chunks(path, source, dtype, chunk)
                os.sync()
                seconds = time.perf_counter() - t0
                r.update({"seconds": seconds, "gb": host.nbytes / 1e9,
                          "gb_per_s": host.nbytes / 1e9 / seconds})
                print(f"kvikio-chunks {dtype} chunk {chunk}: {seconds:.3f} s "
                      f"{r['gb_per_s']:.2f} GB/s", file=sys.stderr)
            except Exception as ex:  # noqa: BLE001 - a failing peer is a result
                r["error"] = f"{type(ex).__name__}: {ex}"
                print(f"kvikio-chunks failed: {ex}", file=sys.stderr)
            results.append(r)
            shutil.rmtree(path, ignore_errors=True)
    return results


def yxc_table(ours, peers, raw):
    """The seed's own layout: ours (v2 and v3) against kvikio's per-chunk v2 write and the
    limit. Goal (issue 16): v2 at least 1.3x kvikio and at least 90% of the limit."""
    limit = raw["limit_median"]

    def find(rows, **want):
        m = [r for r in rows if all(r.get(k) == v for k, v in want.items()) and "gb_per_s" in r]
        return m[0] if m else None

    keys = sorted({(r["dtype"], r["chunk"]) for r in ours if r.get("role") == "v2-yxc"})
    if not keys:
        return []
    lines = ["", "Interleaved (H, W, 3) arrays, chunks (c, c, 3), no transpose (the seed's layout); "
             "kvikio-chunks: one kvikio.CuFile write per v2 chunk file, same call:", "",
             "| dtype | chunk | ours v2 | ours v3 | kvikio-chunks v2 | ours v2 × kvikio | "
             "ours v2 / limit | on disk / limit | goal (≥ 1.3×, ≥ 90%) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for dtype, chunk in keys:
        v2 = find(ours, dtype=dtype, chunk=chunk, role="v2-yxc")
        v3 = find(ours, dtype=dtype, chunk=chunk, role="yxc")
        kv = find(peers, who="kvikio-chunks", dtype=dtype, chunk=chunk)
        cell = (lambda r: f"{r['gb_per_s']:.2f}" if r else "—")
        x = v2["gb_per_s"] / kv["gb_per_s"] if v2 and kv else None
        frac = v2["gb_per_s"] / limit if v2 and limit else None
        disk = stored_bytes(v2) / v2["seconds"] / 1e9 / limit if v2 and limit else None
        goal = "—" if x is None or frac is None else (
            "met" if x >= 1.3 and frac >= 0.9 else "missed")
        lines.append(f"| {dtype} | {chunk}² | {cell(v2)} | {cell(v3)} | {cell(kv)} | "
                     f"{f'{x:.2f}×' if x else '—'} | {f'{frac:.0%}' if frac else '—'} | "
                     f"{f'{disk:.0%}' if disk else '—'} | {goal} |")
    return lines


def stored_bytes(r):
    """Bytes our writer put on disk for a case: bytes_written where bench_uc2 recorded it, else
    from the geometry (edge chunks are stored whole; a shard holds its present inner chunks and
    an index of 16 bytes per inner chunk plus a crc32c)."""
    if "bytes_written" in r:
        return r["bytes_written"]
    c, s = r["chunk"], r["shard"]
    h, w = sorted(r["shape"])[1:]  # (3, H, W) or (H, W, 3)
    chunk_bytes = c * c * 3 * (1 if r["dtype"] == "uint8" else 4)
    inner = math.ceil(h / c) * math.ceil(w / c)
    if not s:
        return inner * chunk_bytes
    return inner * chunk_bytes + math.ceil(h / s) * math.ceil(w / s) * (16 * (s // c) ** 2 + 4)


def limit_lines(raw):
    """The disk's limit, per configuration: every run, median, best."""
    lines = ["| threads × block | runs (GB/s) | median | best |", "|---|---|---|---|"]
    for c in raw["configs"]:
        runs = ", ".join(f"{r:.2f}" for r in c["runs"])
        lines.append(f"| {c['threads']} × {c['block_mb']} MiB | {runs} | "
                     f"{c['median_gb_per_s']:.2f} | {c['best_gb_per_s']:.2f} |")
    return lines


def table(ours, peers, raw, notes, device):
    limit = raw["limit_median"]

    def pick(who, dtype, chunk, shard, role=None):
        for r in ours if who == "ours" else peers:
            if r.get("dtype") != dtype or r.get("chunk") != chunk or r.get("shard") != shard:
                continue
            if who == "ours":
                if r.get("role", "main") != role:
                    continue
            elif r.get("who") != who:
                continue
            return r
        return None

    def ok(r):
        return r is not None and "error" not in r and "gb_per_s" in r

    def gbps(r):
        if r is None:
            return "—"
        if "error" in r:
            return "refused" if r.get("who") == "slidestream" else "error"
        return f"{r['gb_per_s']:.2f}"

    def ratio(a, b):
        return f"{a['gb_per_s'] / b['gb_per_s']:.2f}×" if ok(a) and ok(b) else "—"

    mains = [r for r in ours if r.get("role", "main") == "main" and ok(r)]
    nthreads = max((r["threads"] for r in mains), default=0) or "N"
    depth = max((r.get("io_depth", 0) for r in mains), default=0)
    lines = [f"Device: {device}. Durable direct-write limit of the disk, same call: best "
             f"configuration median **{limit:.2f} GB/s** (best single run "
             f"{raw['limit_best_run']:.2f} GB/s). GB/s: the array's bytes from memory to durable "
             f"on disk, for every writer alike; \"on disk / limit\" counts the bytes our writer "
             f"stored (edge chunks are stored whole), which is what the limit measures.",
             "", *limit_lines(raw), "",
             f"| dtype | chunk | shard | ours ({nthreads} thr, ≤{depth} in flight) | ours 1 thr, 1 in "
             f"flight | ours cufile asked | ours v2 | tensorstore | zarr-python | zarr+kvikio | "
             f"ours / limit | ours / best run | on disk / limit | × tensorstore | × zarr-python | "
             f"× zarr+kvikio |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["dtype"], r["chunk"], r["shard"]) for r in ours
                   if r.get("role", "main") == "main"},
                  key=lambda k: (k[0], k[2] != 0, k[1]))
    for dtype, chunk, shard in keys:
        main = pick("ours", dtype, chunk, shard, "main")
        one = pick("ours", dtype, chunk, shard, "serial")
        cuf = pick("ours", dtype, chunk, shard, "cufile")
        v2 = pick("ours", dtype, chunk, shard, "v2")
        ts_r = pick("tensorstore", dtype, chunk, shard)
        zp = pick("zarr-python", dtype, chunk, shard)
        kv = pick("zarr-python+kvikio", dtype, chunk, shard)
        frac = f"{main['gb_per_s'] / limit:.0%}" if ok(main) and limit else "—"
        frac_best = (f"{main['gb_per_s'] / raw['limit_best_run']:.0%}"
                     if ok(main) and raw["limit_best_run"] else "—")
        on_disk = (f"{stored_bytes(main) / main['seconds'] / 1e9 / limit:.0%}"
                   if ok(main) and limit else "—")
        lines.append(f"| {dtype} | {chunk}² | {shard or '—'} | {gbps(main)} | {gbps(one)} | "
                     f"{gbps(cuf)} | {gbps(v2)} | {gbps(ts_r)} | {gbps(zp)} | {gbps(kv)} | "
                     f"{frac} | {frac_best} | {on_disk} | {ratio(main, ts_r)} | "
                     f"{ratio(main, zp)} | {ratio(main, kv)} |")
    sweep = [r for r in ours if r.get("role") == "sweep" and ok(r)]
    if sweep:
        depths = sorted({r["io_depth_requested"] for r in sweep})
        lines += ["", "In-flight depth sweep (GB/s; depth asked, after the 1 GiB staging cap):", "",
                  "| dtype | chunk | " + " | ".join(str(d) for d in depths) + " |",
                  "|---|---|" + "---|" * len(depths)]
        for dtype, chunk in sorted({(r["dtype"], r["chunk"]) for r in sweep}):
            cells = []
            for d in depths:
                m = [r for r in sweep if r["dtype"] == dtype and r["chunk"] == chunk and
                     r["io_depth_requested"] == d]
                cells.append(f"{m[0]['gb_per_s']:.2f} ({m[0]['io_depth']})" if m else "—")
            lines.append(f"| {dtype} | {chunk}² | " + " | ".join(cells) + " |")
    lines += yxc_table(ours, peers, raw)
    paths = sorted({r["io_path"] for r in ours if "io_path" in r})
    lines += ["", "I/O paths reported by our writer: " + "; ".join(f"`{p}`" for p in paths)]
    refusals = sorted({r["error"] for r in ours if "error" in r})
    if refusals:
        lines += ["", "Refusals: " + "; ".join(f"`{e}`" for e in refusals)]
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
    labels, series = [], {"ours": [], "tensorstore": [], "zarr-python": []}
    for r in ours:
        if r.get("role", "main") != "main" or "gb_per_s" not in r:
            continue
        labels.append(f"{r['dtype']}\n{r['chunk']}²" + (f"\nshard {r['shard']}" if r["shard"] else ""))
        series["ours"].append(r["gb_per_s"])
        for peer in ("tensorstore", "zarr-python"):
            m = [p for p in peers if p["who"] == peer and p["dtype"] == r["dtype"] and
                 p["chunk"] == r["chunk"] and p["shard"] == r["shard"] and "error" not in p]
            series[peer].append(m[0]["gb_per_s"] if m else 0)
    fig, ax = plt.subplots(figsize=(max(6, len(labels) * 1.1), 4.6))
    width = 0.27
    for i, (name, values) in enumerate(series.items()):
        ax.bar([x + (i - 1) * width for x in range(len(labels))], values, width, label=name)
    ax.axhline(raw_limit, color="k", linestyle="--", linewidth=1,
               label="disk limit (best median, O_DIRECT 4 GiB)")
    ax.axhline(0.9 * raw_limit, color="grey", linestyle=":", linewidth=1, label="90% of it")
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    ax.set_ylabel("GB/s, durable")
    ax.set_title("UC2: array -> uncompressed Zarr v3")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=5)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def raw_summary(doc):
    """{"limit_median", "limit_best_run", "configs"} from bench_uc2's JSON (or an older uc2.json,
    whose raw_disk held per-measurement medians)."""
    if "raw_configs" in doc:
        return {"limit_median": doc["raw_limit_median_gb_per_s"],
                "limit_best_run": doc["raw_limit_best_run_gb_per_s"],
                "configs": doc["raw_configs"]}
    configs = {}
    for r in doc["raw_disk"]:
        runs = r["gb_per_s"] if isinstance(r["gb_per_s"], list) else [r["gb_per_s"]]
        configs.setdefault((r["threads"], r["block_mb"]), []).extend(runs)
    out = []
    for (threads, block), runs in sorted(configs.items()):
        ordered = sorted(runs)
        n = len(ordered)
        median = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
        out.append({"threads": threads, "block_mb": block, "runs": runs,
                    "median_gb_per_s": median, "best_gb_per_s": max(runs)})
    return {"limit_median": max(c["median_gb_per_s"] for c in out),
            "limit_best_run": max(c["best_gb_per_s"] for c in out), "configs": out}


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
    ap.add_argument("--sweep", default="", help="in-flight depths to try, e.g. 8,16,32,64,128")
    ap.add_argument("--yxc", default="512,1024,2048",
                    help="chunk sizes also written as interleaved (H, W, 3) arrays, v2 and v3, "
                    "against kvikio's per-chunk v2 write (empty: none)")
    ap.add_argument("--raw-rounds", type=int, default=3)
    ap.add_argument("--zarr-cases", default="512/0,2048/0,256/4096",
                    help="chunk/shard cases the two zarr-python peers run (tensorstore runs all)")
    ap.add_argument("--all-peers", action="store_true", help="every peer on every case")
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
        raw = doc.get("raw") or raw_summary(doc)
        md = table(doc["ours"], doc["peers"], raw, doc["notes"], doc["device"])
        (out / (json_path.stem + ".md")).write_text(md)
        chart(out / (json_path.stem + ".png"), doc["ours"], doc["peers"], raw["limit_median"])
        print(md)
        return 0
    if args.quick:
        args.size_mb = min(args.size_mb, 24)
    scratch = pathlib.Path(args.dir or (out / "uc2-scratch"))
    scratch.mkdir(parents=True, exist_ok=True)
    exe = pathlib.Path(args.build) / "bench" / "bench_uc2"
    cmd = [str(exe), "--dir", str(scratch), "--json", str(out / "uc2-ours.json"),
           "--size-mb", str(args.size_mb), "--device", args.device, "--chunks", args.chunks,
           "--raw-rounds", str(args.raw_rounds)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.sweep:
        cmd += ["--sweep", args.sweep]
    if args.yxc:
        cmd += ["--yxc", args.yxc]
    if args.quick:
        cmd += ["--quick"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    ours_doc = json.load(open(out / "uc2-ours.json"))
    ours = ours_doc["results"]
    raw = raw_summary(ours_doc)
    notes = []
    if any(r.get("io_requested") == "cufile" and "error" in r for r in ours):
        notes.append("cufile asked: refused by our writer where cuFile cannot register files "
                     "(no nvidia-fs); the main column (io auto) fell back to POSIX and says so in "
                     "its io_path. No GDS write is claimed.")
    cases = [{"dtype": d, "chunk": c, "shard": s}
             for (d, c, s) in sorted({(r["dtype"], r["chunk"], r["shard"]) for r in ours
                                      if r.get("role", "main") == "main"})]
    peers = [] if args.skip_peers else run_peers(args, scratch, cases, notes)
    if not args.skip_peers:
        peers += run_kvikio_chunks(args, scratch, ours, notes)
    shutil.rmtree(scratch, ignore_errors=True)
    doc = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "device": args.device,
           "size_mb": args.size_mb, "raw": raw, "raw_limit_gb_per_s": raw["limit_median"],
           "raw_disk": ours_doc["raw_disk"], "io_depth_default": ours_doc.get("io_depth_default"),
           "ours": ours, "peers": peers, "notes": notes,
           "wall_seconds": time.perf_counter() - t0}
    json.dump(doc, open(json_path, "w"), indent=2)
    md = table(ours, peers, raw, notes, args.device)
    (out / (json_path.stem + ".md")).write_text(md)
    chart(out / (json_path.stem + ".png"), ours, peers, raw["limit_median"])
    print(md)
    print(f"total {doc['wall_seconds']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
