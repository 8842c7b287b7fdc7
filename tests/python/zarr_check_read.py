"""Opens arrays slidestream wrote with zarr-python 3 and tensorstore, compares with raw pixels.

Usage: zarr_check_read.py MANIFEST.json
The manifest is a list of {"path", "raw", "format", "dtype", "height", "width", "channels",
"fill_value"} with optional "layout" ("yxc" or "cyx", default "cyx") and "chunk" ([h, w]); "raw"
holds the pixels slidestream was given, interleaved (y, x, c). Each array must read back, through
both libraries, as the (y, x, c) or (c, y, x) (or (y, x)) array of those pixels, with chunks
(h, w, c) or (c, h, w) where "chunk" is given.
Prints one line per array and library; exits 1 on any difference.
"""
import json
import sys

import numpy as np
import tensorstore as ts
import zarr


def expected_of(entry):
    h, w, c = entry["height"], entry["width"], entry["channels"]
    raw = np.fromfile(entry["raw"], dtype=entry["dtype"]).reshape(h, w, c)
    if c == 1:
        return raw[:, :, 0]
    return raw if entry.get("layout", "cyx") == "yxc" else raw.transpose(2, 0, 1)


def expected_chunks(entry):
    if "chunk" not in entry:
        return None
    ch, cw = entry["chunk"]
    c = entry["channels"]
    if c == 1:
        return (ch, cw)
    return (ch, cw, c) if entry.get("layout", "cyx") == "yxc" else (c, ch, cw)


def same(a, b):
    # Bitwise, so that float NaNs and -0.0 count as equal only when they are the same bits.
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def main() -> int:
    entries = json.load(open(sys.argv[1]))
    failures = 0
    for e in entries:
        want = expected_of(e)
        results = {}
        try:
            arr = zarr.open_array(e["path"], mode="r", zarr_format=e["format"])
            got = arr[...]
            chunks = expected_chunks(e)
            ok = same(got, want) and float(arr.fill_value) == float(e["fill_value"]) and \
                (chunks is None or tuple(arr.chunks) == chunks)
            results["zarr-python"] = "ok" if ok else \
                f"MISMATCH shape={got.shape} chunks={arr.chunks} fill={arr.fill_value}"
        except Exception as ex:  # noqa: BLE001 - report every failure, keep going
            results["zarr-python"] = f"ERROR {type(ex).__name__}: {ex}"
        try:
            driver = "zarr" if e["format"] == 2 else "zarr3"
            store = ts.open({"driver": driver, "kvstore": {"driver": "file", "path": e["path"]}},
                            read=True).result()
            got = store.read().result()
            chunks = expected_chunks(e)
            read_chunk = tuple(store.chunk_layout.read_chunk.shape)
            ok = same(got, want) and (chunks is None or read_chunk == chunks)
            results["tensorstore"] = "ok" if ok else \
                f"MISMATCH shape={got.shape} read chunk={read_chunk}"
        except Exception as ex:  # noqa: BLE001
            results["tensorstore"] = f"ERROR {type(ex).__name__}: {ex}"
        for lib, verdict in results.items():
            print(f"{e['path']} {lib}: {verdict}")
            if verdict != "ok":
                failures += 1
    print(f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
