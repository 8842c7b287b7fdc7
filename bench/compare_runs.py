#!/usr/bin/env python3
"""Before/after table for bench/before_after.sh: reads DIR/ba-<driver>-<side>-<round>.json (the
drivers' own JSON: uc1 and uc3 write {"results": [{case, what, seconds, ours}...]}, uc2 writes
{"ours": [{chunk, shard, zarr_format, dtype, seconds, gb_per_s, role}...]}), matches our rows of
the two versions by what they measure, and prints a Markdown table: the median over rounds of each
side, after / before as a time ratio (below 1 is faster), and whether it is within the tolerance
(default 3%). Peers and hardware limits are listed too, as a check that the machine stayed the same.

usage: compare_runs.py DIR [--tolerance 0.03]
"""
import argparse
import collections
import glob
import json
import os
import re
import statistics


def rows_of(driver, doc):
    """Yields (key, seconds, ours) for every timed row of one driver's JSON."""
    if driver == "uc2":
        for r in doc.get("ours", []):
            if "seconds" not in r or r.get("role", "main") != "main":
                continue
            key = (f"uc2 v{r.get('zarr_format')} {r.get('dtype')} chunk {r.get('chunk')}"
                   f" shard {r.get('shard')} io {r.get('io_requested', '')}"
                   # Before issue 16.1 every multi-channel chunk was planar: no "layout" key
                   # means (c, y, x), so those rows meet the "cyx" rows of a later version.
                   f" layout {r.get('layout', 'cyx')}")
            yield key, r["seconds"], True
        limit = (doc.get("raw") or {}).get("limit_median")
        if limit:
            yield "uc2 direct-write limit (GB/s, not s)", limit, False
        return
    for r in doc.get("results", []):
        if "seconds" in r and r["seconds"]:
            yield f"{r.get('case')} | {r.get('what')}", r["seconds"], bool(r.get("ours"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--tolerance", type=float, default=0.03)
    a = ap.parse_args()
    # table[key][side] = [seconds per round]
    table = collections.defaultdict(lambda: collections.defaultdict(list))
    ours = {}
    pattern = re.compile(r"ba-(\w+)-(before|after)-(\d+)\.json$")
    for path in sorted(glob.glob(os.path.join(a.dir, "ba-*.json"))):
        m = pattern.search(path)
        if not m:
            continue
        driver, side = m.group(1), m.group(2)
        try:
            doc = json.load(open(path))
        except (OSError, ValueError) as e:
            print(f"<!-- {path}: {e} -->")
            continue
        for key, seconds, is_ours in rows_of(driver, doc):
            table[key][side].append(seconds)
            ours[key] = ours.get(key, False) or is_ours
    print(f"| row | before (median s) | after (median s) | after / before | within "
          f"{a.tolerance:.0%} |")
    print("|---|---|---|---|---|")
    worst = None
    for key in sorted(table, key=lambda k: (not ours[k], k)):
        sides = table[key]
        if not sides["before"] or not sides["after"]:
            continue
        b, f = statistics.median(sides["before"]), statistics.median(sides["after"])
        ratio = f / b if b else float("nan")
        if "GB/s" in key:  # a rate: higher is better, shown as before / after
            ratio = b / f if f else float("nan")
        verdict = ("yes" if ratio <= 1 + a.tolerance else "**no**") if ours[key] else "(peer/limit)"
        if ours[key] and (worst is None or ratio > worst[1]):
            worst = (key, ratio)
        runs = f" ({len(sides['before'])}/{len(sides['after'])} rounds)"
        print(f"| {key}{runs} | {b:.4g} | {f:.4g} | {ratio:.3f} | {verdict} |")
    if worst:
        print(f"\nslowest of ours after the change: {worst[0]}: {worst[1]:.3f}x the time before")


if __name__ == "__main__":
    main()
