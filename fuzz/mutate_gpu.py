#!/usr/bin/env python3
"""Mutated slides through `slidestream read` on two devices: GPU and CPU must agree.

Takes slides (the test fixtures and ../shared/testdata by default), makes mutants of each
(bytes flipped inside tiles, at several places at once; files cut short; TIFF tile/strip
offsets and byte counts that lie: pointing past the end, into other tiles, counts of 0, too
long or too short), and reads every level of every mutant with `slidestream read --device A`
and `--device B` (default cuda and cpu), each under a timeout. A finding is
  - a crash: death by a signal, or a sanitizer report in the output;
  - a hang: a read past --timeout seconds;
  - a disagreement: different checksums, one device reading what the other refuses, or two
    different errors: a tile's error against another kind of error, or against a tile error of
    another level or codec (parallel reads may meet another damaged tile first, so which tile
    and what was wrong with it may differ); other errors by their text with numbers masked.
    --exact-errors compares every error verbatim.
Each finding's mutant is kept in --keep (default build/mutate-gpu-findings) with a note. Ends
with one summary line; the exit status is 1 when there was any finding.

  fuzz/mutate_gpu.py --slidestream build/slidestream                 # on the GPU machine
  fuzz/mutate_gpu.py --device-pair cpu,cpu --count 20                 # dry run anywhere
"""
import argparse
import concurrent.futures
import dataclasses
import json
import os
import pathlib
import random
import re
import shutil
import subprocess
import sys
import tempfile

import tifffile

ROOT = pathlib.Path(__file__).resolve().parent.parent
SLIDE_SUFFIXES = {".tif", ".tiff", ".svs", ".ndpi", ".scn", ".bif", ".btf"}
# Tags whose values point at or size pixel data: the ones a lie hurts.
DATA_TAGS = {273: "StripOffsets", 279: "StripByteCounts", 324: "TileOffsets",
             325: "TileByteCounts"}
TILE_ERROR = re.compile(r"level (\d+), tile \d+, offset \d+: ([^:]+):")
SANITIZER = re.compile(r"AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:|LeakSanitizer")


@dataclasses.dataclass
class Outcome:
    kind: str  # ok, error, crash, hang
    detail: str  # checksum, error message, or what killed it

    def key(self, exact):
        if self.kind != "error" or exact:
            return (self.kind, self.detail)
        # A tile's error names the tile; where several tiles are damaged, a parallel read may
        # meet another one first. Such errors compare by level and codec, the rest (open,
        # structure) by their text with numbers masked.
        tile = TILE_ERROR.search(self.detail)
        if tile:
            return (self.kind, "tile", tile.group(1), tile.group(2))
        return (self.kind, re.sub(r"\d+", "#", self.detail))


def slides_in(paths, max_bytes):
    found = []
    for p in paths:
        p = pathlib.Path(p)
        files = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())
        for f in files:
            if f.suffix.lower() in SLIDE_SUFFIXES and f.stat().st_size <= max_bytes:
                found.append(f)
    return found


def data_ranges(path):
    """(offset, count) of every tile/strip, and (file position, byte width, name) of every
    offset/count value in the IFDs; empty where tifffile cannot parse the file."""
    ranges, fields, byteorder = [], [], "<"
    try:
        with tifffile.TiffFile(path) as tif:
            byteorder = tif.byteorder
            pages = list(tif.pages)
            for page in pages:
                pages += list(getattr(page, "pages", None) or [])
            for page in pages:
                ranges += [(o, n) for o, n in zip(page.dataoffsets, page.databytecounts) if n]
                for tag in page.tags.values():
                    if tag.code not in DATA_TAGS:
                        continue
                    width = {3: 2, 4: 4, 16: 8}.get(int(tag.dtype), 4)
                    # valueoffset: where the values are, inside the entry when they fit there.
                    for i in range(min(tag.count, 64)):
                        fields.append((tag.valueoffset + i * width, width, DATA_TAGS[tag.code]))
    except Exception:  # noqa: BLE001 -- an unparseable seed still gets byte flips and cuts
        pass
    return ranges, fields, byteorder


def mutate(data, ranges, fields, byteorder, rng):
    """One mutant of `data` and a line saying what was done."""
    b = bytearray(data)
    choice = rng.random()
    if choice < 0.45 and ranges:
        # Damage inside compressed tiles, at a few places of a few tiles.
        notes = []
        for _ in range(rng.randint(1, 3)):
            off, n = rng.choice(ranges)
            end = min(off + n, len(b))
            if end <= off:
                continue
            for _ in range(rng.randint(1, 4)):
                at = rng.randrange(off, end)
                how = rng.choice(("flip", "zero", "ff", "run"))
                if how == "flip":
                    b[at] ^= 1 << rng.randrange(8)
                elif how == "zero":
                    b[at] = 0
                elif how == "ff":
                    b[at] = 0xFF
                else:
                    for i in range(at, min(at + rng.randint(2, 64), end)):
                        b[i] = rng.randrange(256)
                notes.append(f"{how}@{at}")
        return bytes(b), "tile bytes " + ",".join(notes)
    if choice < 0.65 and fields:
        pos, width, name = rng.choice(fields)
        if pos + width > len(b):
            return bytes(b), "no-op"
        old = int.from_bytes(b[pos:pos + width], "little" if byteorder == "<" else "big")
        lie = rng.choice((0, 1, old + 1, max(old - 1, 0), old * 2, old // 2, len(b),
                          len(b) - 1, len(b) + 4096, (1 << (8 * width)) - 1,
                          rng.randrange(len(b) + 1)))
        lie %= 1 << (8 * width)
        b[pos:pos + width] = lie.to_bytes(width, "little" if byteorder == "<" else "big")
        return bytes(b), f"{name} value at {pos}: {old} -> {lie}"
    if choice < 0.8:
        cut = rng.randrange(8, len(b)) if len(b) > 8 else len(b)
        return bytes(b[:cut]), f"truncated to {cut}"
    notes = []
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(len(b))
        b[at] ^= 1 << rng.randrange(8)
        notes.append(str(at))
    return bytes(b), "bits flipped anywhere at " + ",".join(notes)


def run(cmd, timeout):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           errors="replace")
    except subprocess.TimeoutExpired:
        return None, "", ""
    return p.returncode, p.stdout, p.stderr


def read_outcome(exe, path, level, device, threads, timeout):
    cmd = [exe, "read", str(path), "--level", str(level), "--device", device, "--json"]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    rc, out, err = run(cmd, timeout)
    if rc is None:
        return Outcome("hang", f"over {timeout} s")
    if rc < 0:
        return Outcome("crash", f"signal {-rc}: {err.strip()[-400:]}")
    if SANITIZER.search(err) or SANITIZER.search(out):
        return Outcome("crash", f"sanitizer: {err.strip()[-400:]}")
    if rc == 0:
        try:
            return Outcome("ok", json.loads(out)["checksum"])
        except (ValueError, KeyError):
            return Outcome("crash", f"exit 0 without a JSON result: {out[-200:]}")
    message = err.strip().splitlines()[-1] if err.strip() else f"exit {rc}"
    return Outcome("error", message.replace(str(path), "SLIDE"))


def levels_of(exe, path, timeout, max_level_bytes):
    rc, out, err = run([exe, "info", str(path), "--json"], timeout)
    if rc is None:
        return None, Outcome("hang", f"info over {timeout} s")
    if rc < 0 or SANITIZER.search(err):
        return None, Outcome("crash", f"info: signal {-rc if rc < 0 else 0}: {err[-400:]}")
    if rc != 0:
        return [0], None  # read reports the open error itself (on both devices)
    try:
        levels = json.loads(out)["levels"]
    except (ValueError, KeyError):
        return [0], None
    sizes = {"uint8": 1, "uint16": 2, "uint32": 4, "float32": 4}
    keep = [lv["index"] for lv in levels
            if lv["width"] * lv["height"] * lv["channels"] * sizes.get(lv["dtype"], 4)
            <= max_level_bytes]
    return keep or [len(levels) - 1], None


def check_mutant(args, devices, source, index, data, note, workdir):
    path = workdir / f"{index:05d}-{source.stem}{source.suffix}"
    path.write_bytes(data)
    findings, reads = [], 0
    levels, failed = levels_of(args.slidestream, path, args.timeout, args.max_level_bytes)
    if failed:
        findings.append(f"{failed.kind}: {failed.detail}")
        levels = []
    outcomes = []
    for level in levels:
        a = read_outcome(args.slidestream, path, level, devices[0], args.threads, args.timeout)
        b = read_outcome(args.slidestream, path, level, devices[1], args.threads_b, args.timeout)
        reads += 1
        outcomes.append((a.kind, b.kind))
        for o, d in ((a, devices[0]), (b, devices[1])):
            if o.kind in ("crash", "hang"):
                findings.append(f"level {level} {d}: {o.kind}: {o.detail}")
        if a.kind not in ("crash", "hang") and b.kind not in ("crash", "hang") and \
                a.key(args.exact_errors) != b.key(args.exact_errors):
            findings.append(f"level {level} disagreement: {devices[0]} {a.kind} {a.detail!r}"
                            f" vs {devices[1]} {b.kind} {b.detail!r}")
    if findings:
        keep = pathlib.Path(args.keep)
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, keep / path.name)
        (keep / (path.name + ".txt")).write_text(
            f"source: {source}\nmutation: {note}\n" + "\n".join(findings) + "\n")
    path.unlink()
    return findings, reads, outcomes


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="*",
                    default=[ROOT / "build" / "tests" / "fixtures", ROOT.parent / "shared" /
                             "testdata"], help="slides or folders of slides")
    ap.add_argument("--slidestream", default=str(ROOT / "build" / "slidestream"))
    ap.add_argument("--device-pair", default="cuda,cpu",
                    help="the two devices to compare (cpu,cpu for a dry run without a GPU)")
    ap.add_argument("--count", type=int, default=300, help="mutants in total")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per command")
    ap.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    ap.add_argument("--threads", type=int, default=None, help="--threads of the first device")
    ap.add_argument("--threads-b", type=int, default=None,
                    help="--threads of the second device (a cpu,cpu dry run: try 1)")
    ap.add_argument("--max-file-bytes", type=int, default=64 << 20)
    ap.add_argument("--max-level-bytes", type=int, default=512 << 20)
    ap.add_argument("--exact-errors", action="store_true")
    ap.add_argument("--keep", default=str(ROOT / "build" / "mutate-gpu-findings"))
    args = ap.parse_args()
    devices = args.device_pair.split(",")
    if len(devices) != 2:
        ap.error("--device-pair takes two devices, e.g. cuda,cpu")
    if not os.access(args.slidestream, os.X_OK):
        ap.error(f"{args.slidestream}: not an executable (build the CLI, or --slidestream)")
    sources = slides_in(args.inputs, args.max_file_bytes)
    if not sources:
        ap.error("no slides found in " + ", ".join(map(str, args.inputs)))
    rng = random.Random(args.seed)
    parsed = {s: data_ranges(s) for s in sources}
    jobs = []
    for i in range(args.count):
        source = sources[i % len(sources)]
        data = source.read_bytes()
        mutant, note = mutate(data, *parsed[source], rng)
        jobs.append((source, i, mutant, note))

    findings_total, reads_total, counts = 0, 0, {}
    with tempfile.TemporaryDirectory(prefix="mutate-gpu-") as tmp, \
            concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(check_mutant, args, devices, s, i, m, n, pathlib.Path(tmp))
                   for s, i, m, n in jobs]
        for (source, i, _, note), f in zip(jobs, futures):
            findings, reads, outcomes = f.result()
            reads_total += reads
            for pair in outcomes:
                counts[pair] = counts.get(pair, 0) + 1
            if findings:
                findings_total += 1
                print(f"FINDING {i:05d} {source.name} ({note}):", file=sys.stderr)
                for line in findings:
                    print("   ", line, file=sys.stderr)
    both_ok = counts.get(("ok", "ok"), 0)
    both_err = counts.get(("error", "error"), 0)
    print(f"mutate_gpu: {len(jobs)} mutants of {len(sources)} slides, {reads_total} level reads "
          f"per device ({'/'.join(devices)}): both read {both_ok}, both refused {both_err}, "
          f"mutants with findings {findings_total} (kept in {args.keep})")
    return 1 if findings_total else 0


if __name__ == "__main__":
    sys.exit(main())
