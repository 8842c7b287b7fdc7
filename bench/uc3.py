#!/usr/bin/env python3
"""UC3 on the GPU machine: read -> Sobel -> Zarr write of a whole level, in one call, against the
seed-style Python pipeline (bench/seed_pipeline.py: tifffile + CuPy + cupyx.scipy.ndimage.sobel
per channel + a tensorstore Zarr v3 write).

For each slide (the seed's 1.6 GB uncompressed raw.tif and the JPEG jpeg.tif, made by
bench/make_bench_slides.py), warm (file in the page cache), the parts --parts names (default all):
  read      read + Sobel without the write, for BENCH-ANCHORS' UC3 goal (<= 0.08 s): bench_uc3
            (pipeline::process_to_image: global; tiled = the band executor, uncompressed levels
            streamed by file ranges; tiled-rows = the band executor reading a tile-row at a time;
            tiled-slots = the per-tile executor);
  sweep     (raw) the streamed reader's range size (SLIDESTREAM_BAND_TASK_MIB 2 and 8; 4 is the
            default, measured under "read"); (jpeg) the row reader's tile-rows per read
            (SLIDESTREAM_BAND_ROW_TILES 1, as before, and 4; the default covers a band: 2 for
            256 tiles and tile 512) and its readers (SLIDESTREAM_BAND_READERS 4; default 2);
  peers     (raw) the competent user's script: kvikio read + CuPy ndimage.sobel per channel, and
            the same read + cuCIM's 2-D sobel per channel (bench/uc3_peers.py, one process each);
  seedread  seed_pipeline.py --no-write (tifffile + CuPy per channel);
  write     (raw) bench_uc3 --write: the Zarr write alone (our writer, the float32 result from a
            GPU array, chunk = tile, Zarr v3) against pipeline::process end to end, tiled and
            global, in turns, in one process;
  cli       slidestream process --mode global / --mode tiled, Zarr v3, chunk = tile, timed around
            the CLI; JPEG decoded on the CPU in both modes (bit-identical results); and with
            --read-into-device, through the GPU read path;
  seed      the seed-style pipeline with its write (tensorstore), and a spot check that tiled ==
            global bit for bit and against the seed-style output (a region of each written Zarr,
            read back with tensorstore).
Device memory (issue 16.4): with --device cuda every CLI run ("cli") is watched device-wide
(bench/gpu_memory.py: NVML polled every 2 ms in a thread, as nvidia-smi counts it), and a bare CUDA
context is measured on the same GPU in the same call (meta "bare_context_mib"). Each CLI record
gets device_peak_mib (peak - idle) and above_bare_mib (that minus the bare context): the goal is
above_bare_mib <= 512 for "slidestream tiled (CLI)". --parts memory runs only those CLI runs.
Writes DIR/uc3.json (records for bench/plot.py; rewritten after every record, so a run cut short
keeps what it measured) and DIR/uc3.md (a Markdown table). Stops starting new measurements once
--budget seconds have passed (default 220).

usage: uc3.py (--slides DIR | --raw RAW.tif --jpeg JPEG.tif) --out DIR|FILE.json [--build build]
              [--cli build/slidestream] [--scratch /tmp/uc3] [--device cuda|cpu] [--tile 512]
              [--threads 0] [--budget 220] [--only raw,jpeg] [--parts read,sweep,...]
              [--repeats 5]
(scripts/device-check.sh calls it as: uc3.py --cli B/slidestream --build B --slides D --out F.json)
Locally (no GPU): uc3.py --raw ../shared/testdata/cmu-1-small-region.svs --device cpu --out /tmp/u
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import time

import cli_backends  # bench/cli_backends.py, next to this file
import gpu_memory  # bench/gpu_memory.py, next to this file

HERE = pathlib.Path(__file__).resolve().parent


def warm(path):
    with open(path, "rb") as f:
        while f.read(16 << 20):
            pass


def gpu_name():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 else "no GPU"
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "no GPU"


def run_json(cmd, env=None, timeout=300):
    """Runs a command that prints one JSON line; returns (record, wall seconds) or raises."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))}: exit {proc.returncode}: "
                           f"{(proc.stderr or proc.stdout).strip()[-400:]}")
    line = [l for l in proc.stdout.splitlines() if l.startswith("{")][-1]
    return json.loads(line), wall


def region_of(path, ours, y0, x0, size):
    """A (size x size x C) float32 region of a written Zarr (ours: OME-Zarr level 0, (c, y, x))."""
    import numpy as np
    import tensorstore as ts
    store = ts.open({"driver": "zarr3" if (path / ("0" if ours else "") / "zarr.json").exists()
                     else "zarr",
                     "kvstore": {"driver": "file", "path": str(path / "0" if ours else path)}},
                    open=True).result()
    if ours:
        a = store[:, y0:y0 + size, x0:x0 + size].read().result()
        return np.moveaxis(np.asarray(a), 0, -1)
    return np.asarray(store[y0:y0 + size, x0:x0 + size, :].read().result())


ALL_PARTS = ["read", "sweep", "peers", "seedread", "write", "cli", "seed", "memory"]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", help="uncompressed slide (the seed's raw.tif)")
    ap.add_argument("--jpeg", help="JPEG slide (jpeg.tif)")
    ap.add_argument("--slides", help="folder with raw.tif and jpeg.tif (make_bench_slides.py)")
    ap.add_argument("--out", required=True,
                    help="folder for uc3.json + uc3.md, or a FILE.json (FILE.md next to it)")
    ap.add_argument("--build", default=str(HERE.parent / "build"))
    ap.add_argument("--cli", help="the slidestream CLI (default: BUILD/slidestream)")
    ap.add_argument("--scratch", default="/tmp/uc3")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--budget", type=float, default=220)
    ap.add_argument("--repeats", type=int, default=5, help="timed runs of each read + Sobel")
    ap.add_argument("--write-repeats", type=int, default=3,
                    help="timed runs of the write alone and of each mode end to end")
    ap.add_argument("--only", default="raw,jpeg", help="slides to run: raw, jpeg or both")
    ap.add_argument("--parts", default=",".join(ALL_PARTS),
                    help="comma list of: " + ", ".join(ALL_PARTS))
    ap.add_argument("--python", default=sys.executable, help="python for the Python peers")
    ap.add_argument("--gpu", type=int, default=0, help="the GPU (index) for the memory numbers")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    unknown = parts - set(ALL_PARTS)
    if unknown:
        ap.error(f"unknown parts: {', '.join(sorted(unknown))}")

    t0 = time.perf_counter()
    out = pathlib.Path(args.out)
    if out.suffix == ".json":
        json_path, md_path = out, out.with_suffix(".md")
    else:
        json_path, md_path = out / "uc3.json", out / "uc3.md"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    scratch = pathlib.Path(args.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    cli = pathlib.Path(args.cli) if args.cli else pathlib.Path(args.build) / "slidestream"
    if args.slides:
        folder = pathlib.Path(args.slides)
        args.raw = args.raw or str(folder / "raw.tif")
        args.jpeg = args.jpeg or str(folder / "jpeg.tif")
    wanted = set(args.only.split(","))
    bench_uc3 = pathlib.Path(args.build) / "bench" / "bench_uc3"
    slides = [(name, pathlib.Path(p)) for name, p in (("raw", args.raw), ("jpeg", args.jpeg))
              if p and name in wanted and pathlib.Path(p).exists()]
    records = []
    notes = [f"{name} slide {p} not found: skipped" for name, p in
             (("raw", args.raw), ("jpeg", args.jpeg))
             if p and name in wanted and not pathlib.Path(p).exists()]
    if not slides:
        print("\n".join(notes), file=sys.stderr)
        ap.error("no slide found: give --slides or --raw / --jpeg")
    meta = {"title": "UC3: read -> Sobel -> Zarr", "date": datetime.date.today().isoformat(),
            "device": gpu_name(), "host": platform.node(), "tile": args.tile,
            "parts": sorted(parts)}
    bare_mib = None
    if args.device == "cuda" and parts & {"cli", "memory"}:
        try:
            bare_mib = gpu_memory.bare_context_mib(args.gpu)
            meta["bare_context_mib"] = round(bare_mib, 1)
            meta["memory_source"] = gpu_memory.UsedMemory(args.gpu).source
        except Exception as e:  # noqa: BLE001 - the timings still count
            notes.append(f"device-wide memory not measured: {e}")

    def save():
        """Ratios, then uc3.json and uc3.md as they stand (after every record)."""
        for case in {r["case"] for r in records}:
            rows = [r for r in records if r["case"] == case and "seconds" in r]
            seed = next((r for r in rows if r["what"].startswith("seed-style")), None)
            glob = next((r for r in rows if r["what"] == "slidestream global"), None)
            competent = next((r for r in rows if r["what"].startswith("kvikio + CuPy")), None)
            alone = next((r for r in rows if r["what"] == "write alone (our writer, from GPU)"),
                         None)
            for r in rows:
                if seed and r["ours"]:
                    r["x_vs_seed"] = round(seed["seconds"] / r["seconds"], 2)
                if competent and r["ours"]:
                    r["x_vs_competent"] = round(competent["seconds"] / r["seconds"], 2)
                if glob and r["what"].startswith("slidestream tiled"):
                    r["x_vs_global"] = round(glob["seconds"] / r["seconds"], 3)
                if alone and r is not alone and r["ours"]:
                    r["over_write_alone"] = round(r["seconds"] / alone["seconds"], 3)
        meta["seconds_total"] = round(time.perf_counter() - t0, 1)
        json_path.write_text(json.dumps({**meta, "results": records, "notes": notes},
                                        indent=1) + "\n")
        lines = [f"UC3 ({meta['date']}, {meta['device']}, tile {args.tile}, warm page cache; "
                 "seconds: the minimum over the repeats unless noted; peak GPU memory: our own "
                 "allocations / CuPy's pool)", "",
                 "| case | what | seconds | Mpx/s | peak GPU GB | x vs seed | x vs competent "
                 "| x vs global | / write alone | notes |",
                 "|---|---|---|---|---|---|---|---|---|---|"]
        keys = ("median_seconds", "pipeline_seconds", "gpu_delta_gb", "device_peak_mib",
                "above_bare_mib", "out_gbps", "phases", "io", "slots", "executor", "streamed",
                "wall")
        for r in records:
            extra = r.get("error") or ", ".join(f"{k} {v}" for k, v in r.items() if k in keys)
            lines.append(f"| {r['case']} | {r['what']} | {r.get('seconds', '—')} | "
                         f"{r.get('mpx_per_s', '—')} | {r.get('peak_gpu_gb', '—')} | "
                         f"{r.get('x_vs_seed', '')} | {r.get('x_vs_competent', '')} | "
                         f"{r.get('x_vs_global', '')} | {r.get('over_write_alone', '')} | "
                         f"{extra} |")
        lines += [""] + [f"- {n}" for n in notes]
        md_path.write_text("\n".join(lines) + "\n")

    def over_budget(what):
        if time.perf_counter() - t0 > args.budget:
            notes.append(f"skipped {what}: over the {args.budget:.0f} s budget")
            return True
        return False

    def add(case, what, ours, seconds=None, peak=None, pixels=None, error=None, **extra):
        r = {"case": case, "what": what, "ours": ours}
        if error:
            r["error"] = error
        if seconds:
            r["seconds"] = round(seconds, 4)
            if pixels:
                r["mpx_per_s"] = round(pixels / seconds / 1e6, 1)
        if peak is not None:
            r["peak_gpu_gb"] = round(peak / 1e9, 3)
        r.update(extra)
        records.append(r)
        print(json.dumps(r), flush=True)
        save()
        return r

    def run_bench_uc3(slide, extra_args, env_extra=None, timeout=300):
        cmd = [str(bench_uc3), str(slide), "--device", args.device, "--tile", str(args.tile),
               "--threads", str(args.threads)] + extra_args
        rec, _ = run_json(cmd, env={**os.environ, **(env_extra or {})}, timeout=timeout)
        return rec

    for name, slide in slides:
        warm(slide)
        case_w = f"uc3-{name}-write"
        case_n = f"uc3-{name}-read+sobel"
        pixels = None
        try:
            import tifffile
            with tifffile.TiffFile(slide) as tif:
                page = tif.pages[0]
                pixels = page.imagewidth * page.imagelength
        except Exception:  # noqa: BLE001 - pixels only feed the Mpx/s column
            pass

        # --- read + Sobel, ours ---
        if "read" in parts and bench_uc3.exists() and not over_budget(f"{name} read"):
            try:
                rec = run_bench_uc3(slide, ["--repeats", str(args.repeats)])
                for r in rec["results"]:
                    add(case_n, f"slidestream {r['mode']}", True, r["seconds_min"],
                        r["peak_gpu_bytes"], pixels, median_seconds=round(r["seconds_median"], 4),
                        gpu_delta_gb=round(r["gpu_memory_delta_bytes"] / 1e9, 3),
                        slots=r.get("slots"), executor=r.get("executor"),
                        streamed=r.get("streamed"), io=r.get("io_path"),
                        wall=[round(w, 4) for w in r.get("wall_seconds", [])])
            except Exception as e:  # noqa: BLE001 - recorded, the run goes on
                add(case_n, "slidestream", True, error=str(e))
        if "sweep" in parts and name == "raw" and bench_uc3.exists():
            for mib in ("2", "8"):
                if over_budget(f"{name} sweep {mib} MiB"):
                    continue
                try:
                    rec = run_bench_uc3(slide, ["--repeats", str(args.repeats), "--modes",
                                                "tiled"], {"SLIDESTREAM_BAND_TASK_MIB": mib})
                    r = rec["results"][0]
                    add(case_n, f"slidestream tiled, {mib} MiB ranges", True, r["seconds_min"],
                        r["peak_gpu_bytes"], pixels,
                        median_seconds=round(r["seconds_median"], 4),
                        gpu_delta_gb=round(r["gpu_memory_delta_bytes"] / 1e9, 3),
                        streamed=r.get("streamed"))
                except Exception as e:  # noqa: BLE001
                    add(case_n, f"slidestream tiled, {mib} MiB ranges", True, error=str(e))
        if "sweep" in parts and name == "jpeg" and bench_uc3.exists():
            for label, env in (("1 tile-row per read", {"SLIDESTREAM_BAND_ROW_TILES": "1"}),
                               ("4 tile-rows per read", {"SLIDESTREAM_BAND_ROW_TILES": "4"}),
                               ("4 readers", {"SLIDESTREAM_BAND_READERS": "4"})):
                if over_budget(f"{name} sweep {label}"):
                    continue
                try:
                    rec = run_bench_uc3(slide, ["--repeats", str(args.repeats), "--modes",
                                                "tiled"], env)
                    r = rec["results"][0]
                    add(case_n, f"slidestream tiled, {label}", True, r["seconds_min"],
                        r["peak_gpu_bytes"], pixels,
                        median_seconds=round(r["seconds_median"], 4),
                        gpu_delta_gb=round(r["gpu_memory_delta_bytes"] / 1e9, 3))
                except Exception as e:  # noqa: BLE001
                    add(case_n, f"slidestream tiled, {label}", True, error=str(e))
        # --- read + Sobel, the peers ---
        if "peers" in parts and name == "raw":
            for peer, label in (("kvikio-cupy", "kvikio + CuPy ndimage.sobel per channel"),
                                ("kvikio-cucim", "kvikio + cuCIM sobel per channel")):
                if over_budget(f"{name} {peer}"):
                    continue
                try:
                    rec, _ = run_json([args.python, str(HERE / "uc3_peers.py"), str(slide),
                                       "--peer", peer, "--repeats", "3"])
                    add(case_n, label, False, rec["seconds_min"], rec["peak_gpu_bytes"], pixels,
                        median_seconds=round(rec["seconds_median"], 4),
                        phases={"read": round(rec["read_min"], 4),
                                "sobel": round(rec["sobel_min"], 4)})
                except Exception as e:  # noqa: BLE001
                    add(case_n, label, False, error=str(e))
        if "seedread" in parts and not over_budget(f"{name} seed no-write"):
            try:
                rec, wall = run_json([args.python, str(HERE / "seed_pipeline.py"), str(slide),
                                      "--no-write"])
                add(case_n, f"seed-style python ({rec['backend']})", False,
                    rec["phases"]["read"] + rec["phases"]["sobel"], rec["peak_gpu_bytes"], pixels,
                    phases={k: round(v, 3) for k, v in rec["phases"].items()})
            except Exception as e:  # noqa: BLE001
                add(case_n, "seed-style python", False, error=str(e))

        # --- with the write: the write alone against ours end to end, in one process ---
        if "write" in parts and name == "raw" and bench_uc3.exists() and \
                not over_budget(f"{name} write"):
            try:
                rec = run_bench_uc3(slide, ["--modes", "none", "--write",
                                            str(scratch / "bench-write"), "--write-repeats",
                                            str(args.write_repeats)],
                                    timeout=600)
                for w in rec["writes"]:
                    what = {"write alone": "write alone (our writer, from GPU)",
                            "process tiled": "slidestream tiled (in process)",
                            "process global": "slidestream global (in process)"}[w["what"]]
                    add(case_w, what, True, w["seconds_min"], w.get("peak_gpu_bytes"), pixels,
                        median_seconds=round(w["seconds_median"], 4),
                        wall=[round(x, 3) for x in w["wall_seconds"]],
                        out_gbps=round(w["bytes"] / w["seconds_min"] / 1e9, 3),
                        gpu_delta_gb=round(w.get("gpu_memory_delta_bytes", 0) / 1e9, 3),
                        io=w.get("write_io_path"), streamed=w.get("streamed"))
            except Exception as e:  # noqa: BLE001
                add(case_w, "write alone / in process", True, error=str(e))
            shutil.rmtree(scratch / "bench-write", ignore_errors=True)

        # --- ours through the CLI, with the write ---
        ours_zarr = {}
        if parts & {"cli", "memory"}:
            variants = [("global", {}), ("tiled", {})]
            if args.device == "cuda":
                # The GPU read path (nvJPEG for YCbCr JPEG: within a grey level of libjpeg-turbo,
                # so not bit-identical to the default host decode; for raw tiles, the same bytes).
                variants.append(("tiled", {"SLIDESTREAM_PIPELINE_READ": "device"}))
                if name == "jpeg":
                    variants.append(("global", {"SLIDESTREAM_PIPELINE_READ": "device"}))
            for mode, env_extra in variants:
                label = f"slidestream {mode}" + (" (GPU read path)" if env_extra else "")
                if over_budget(f"{name} {label}"):
                    continue
                dst = scratch / f"ours-{name}-{mode}{'-dev' if env_extra else ''}.zarr"
                cmd = [str(cli), "process", str(slide), str(dst), "--op", "sobel", "--mode",
                       mode, "--device", args.device, "--tile", str(args.tile), "--overwrite",
                       "--json", "--threads", str(args.threads)]
                run_env, flags = cli_backends.split(env_extra)
                cmd += flags
                try:
                    memory = {}
                    if bare_mib is not None:
                        with gpu_memory.DevicePeak(args.gpu) as peak:
                            rec, wall = run_json(cmd, env={**os.environ, **run_env})
                        memory = {"device_peak_mib": round(peak.above_idle_mib, 1),
                                  "above_bare_mib": round(peak.above_idle_mib - bare_mib, 1)}
                    else:
                        rec, wall = run_json(cmd, env={**os.environ, **run_env})
                    pixels = pixels or rec["width"] * rec["height"]
                    add(case_w, label + " (CLI)", True, wall, rec.get("peak_gpu_bytes"), pixels,
                        **memory,
                        pipeline_seconds=round(rec["seconds"], 4),
                        gpu_delta_gb=round(rec.get("gpu_memory_delta_bytes", 0) / 1e9, 3),
                        out_gbps=round(rec["bytes_written"] / rec["seconds"] / 1e9, 3),
                        slots=rec.get("slots"), io=rec.get("io_path"),
                        executor=rec.get("executor"), streamed=rec.get("streamed"))
                    if not env_extra and "seed" in parts:
                        ours_zarr[mode] = dst
                    else:
                        shutil.rmtree(dst, ignore_errors=True)
                except Exception as e:  # noqa: BLE001 - recorded, the run goes on
                    add(case_w, label + " (CLI)", True, error=str(e))
        # --- the seed-style pipeline, with the write, and the spot check ---
        seed_dst = scratch / f"seed-{name}.zarr"
        if "seed" in parts and not over_budget(f"{name} seed"):
            try:
                rec, wall = run_json([args.python, str(HERE / "seed_pipeline.py"), str(slide),
                                      "--out", str(seed_dst), "--chunk", str(args.tile)])
                pixels = pixels or rec["width"] * rec["height"]
                add(case_w, f"seed-style python ({rec['backend']})", False, wall,
                    rec["peak_gpu_bytes"], pixels,
                    phases={k: round(v, 3) for k, v in rec["phases"].items()})
            except Exception as e:  # noqa: BLE001
                add(case_w, "seed-style python", False, error=str(e))
            try:
                import numpy as np
                if "tiled" in ours_zarr and "global" in ours_zarr and pixels:
                    size = 1024
                    tiled = region_of(ours_zarr["tiled"], True, 1000, 1000, size)
                    glob = region_of(ours_zarr["global"], True, 1000, 1000, size)
                    check = {"tiled_equals_global": bool(np.array_equal(tiled, glob))}
                    if seed_dst.exists():
                        seed = region_of(seed_dst, False, 1000, 1000, size)
                        check["max_abs_diff_vs_seed"] = float(np.abs(tiled - seed).max())
                    notes.append(f"{name}: 1024² region at (1000, 1000): {json.dumps(check)}")
            except Exception as e:  # noqa: BLE001
                notes.append(f"{name}: spot check failed: {e}")
        for p in list(ours_zarr.values()) + [seed_dst]:
            shutil.rmtree(p, ignore_errors=True)

    save()
    print(md_path.read_text())
    return 0 if all("error" not in r for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
