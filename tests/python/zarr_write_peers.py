"""Writes arrays with zarr-python 3 and tensorstore in the layouts slidestream reads.

Usage: zarr_write_peers.py OUTDIR
Writes OUTDIR/<name>.zarr and OUTDIR/<name>.raw (the pixels, interleaved (y, x, c)) and
OUTDIR/manifest.json: [{"name", "path", "raw", "dtype", "height", "width", "channels", "layout"}]
("layout": "cyx" for (c, y, x) arrays, "yxc" for (y, x, c) ones, as the seed wrote them).
"""
import json
import pathlib
import sys

import numpy as np
import tensorstore as ts
import zarr
from numcodecs import Blosc, Zstd

H, W = 130, 170


def pixels(rng, dtype, channels):
    if dtype == "float32":
        return rng.uniform(-100, 100, size=(H, W, channels)).astype("<f4")
    hi = 256 if dtype == "uint8" else 65536
    return rng.integers(0, hi, size=(H, W, channels)).astype(np.dtype(dtype).newbyteorder("<"))


def logical(img):
    return img.transpose(2, 0, 1) if img.shape[2] > 1 else img[:, :, 0]


def main() -> int:
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1234)
    manifest = []

    def record(name, img, layout="cyx"):
        raw = out / f"{name}.raw"
        np.ascontiguousarray(img).tofile(raw)
        manifest.append({"name": name, "path": str(out / f"{name}.zarr"), "raw": str(raw),
                         "dtype": str(img.dtype.name), "height": H, "width": W,
                         "channels": int(img.shape[2]), "layout": layout})

    # zarr-python, Zarr v2: planar chunks, both key separators, each compressor.
    for name, comp, sep, dtype, c in [
        ("zp_v2_none_slash_u8_c3", None, "/", "uint8", 3),
        ("zp_v2_zstd_dot_u16_c3", Zstd(level=5), ".", "uint16", 3),
        ("zp_v2_blosc_slash_f32_c1", Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE), "/",
         "float32", 1),
    ]:
        img = pixels(rng, dtype, c)
        data = logical(img)
        chunks = (c, 64, 48) if c > 1 else (64, 48)
        a = zarr.create_array(str(out / f"{name}.zarr"), shape=data.shape, chunks=chunks,
                              dtype=data.dtype, zarr_format=2, compressors=comp,
                              chunk_key_encoding={"name": "v2", "separator": sep},
                              fill_value=3)
        a[...] = data
        record(name, img)

    # zarr-python, Zarr v3: planar (no transpose), sharded and not.
    for name, shards, dtype, c in [("zp_v3_zstd_u16_c3", None, "uint16", 3),
                                   ("zp_v3_shard_u8_c3", (3, 128, 96), "uint8", 3),
                                   ("zp_v3_shard_f32_c1", (128, 96), "float32", 1)]:
        img = pixels(rng, dtype, c)
        data = logical(img)
        chunks = (c, 64, 48) if c > 1 else (64, 48)
        a = zarr.create_array(str(out / f"{name}.zarr"), shape=data.shape, chunks=chunks,
                              shards=shards, dtype=data.dtype, zarr_format=3,
                              compressors=zarr.codecs.ZstdCodec(level=3), fill_value=0)
        a[...] = data
        record(name, img)

    # tensorstore, Zarr v3: interleaved bytes through a transpose codec, sharded, crc32c index.
    img = pixels(rng, "uint8", 3)
    name = "ts_v3_transpose_shard_u8_c3"
    spec = {
        "driver": "zarr3",
        "kvstore": {"driver": "file", "path": str(out / f"{name}.zarr")},
        "metadata": {
            "shape": [3, H, W], "data_type": "uint8",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [3, 128, 128]}},
            "codecs": [{"name": "sharding_indexed", "configuration": {
                "chunk_shape": [3, 64, 64],
                "codecs": [{"name": "transpose", "configuration": {"order": [1, 2, 0]}},
                           {"name": "bytes", "configuration": {}},
                           {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5,
                                                               "shuffle": "shuffle",
                                                               "typesize": 1}}],
                "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                                 {"name": "crc32c"}],
                "index_location": "end"}}],
            "fill_value": 9,
        },
        "create": True, "delete_existing": True,
    }
    t = ts.open(spec).result()
    t.write(logical(img)).result()
    record(name, img)

    # tensorstore, Zarr v2 with zstd.
    img = pixels(rng, "uint16", 3)
    name = "ts_v2_zstd_u16_c3"
    t = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(out / f"{name}.zarr")},
                 "metadata": {"shape": [3, H, W], "chunks": [3, 50, 60], "dtype": "<u2",
                              "compressor": {"id": "zstd", "level": 1},
                              "dimension_separator": "/"},
                 "create": True, "delete_existing": True}).result()
    t.write(logical(img)).result()
    record(name, img)

    # (y, x, c) arrays, channels last and interleaved: zarr-python's own defaults for an (H, W, 3)
    # image (v2: "." keys, the seed's files; v3: "c/y/x/0" keys, no dimension names), and
    # tensorstore v3 sharded with dimension names.
    for name, fmt, dtype, comp in [("zp_v2_yxc_u8_c3", 2, "uint8", None),
                                   ("zp_v2_yxc_zstd_f32_c3", 2, "float32", Zstd(level=3)),
                                   ("zp_v3_yxc_u16_c3", 3, "uint16", None)]:
        img = pixels(rng, dtype, 3)
        a = zarr.create_array(str(out / f"{name}.zarr"), shape=img.shape, chunks=(64, 48, 3),
                              dtype=img.dtype, zarr_format=fmt, compressors=comp, fill_value=0)
        a[...] = img
        record(name, img, "yxc")
    img = pixels(rng, "uint8", 3)
    name = "ts_v3_yxc_shard_u8_c3"
    t = ts.open({"driver": "zarr3",
                 "kvstore": {"driver": "file", "path": str(out / f"{name}.zarr")},
                 "metadata": {
                     "shape": [H, W, 3], "data_type": "uint8", "dimension_names": ["y", "x", "c"],
                     "chunk_grid": {"name": "regular",
                                    "configuration": {"chunk_shape": [128, 128, 3]}},
                     "codecs": [{"name": "sharding_indexed", "configuration": {
                         "chunk_shape": [64, 64, 3],
                         "codecs": [{"name": "bytes", "configuration": {}}],
                         "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                                          {"name": "crc32c"}],
                         "index_location": "end"}}],
                     "fill_value": 0},
                 "create": True, "delete_existing": True}).result()
    t.write(img).result()
    record(name, img, "yxc")

    json.dump(manifest, open(out / "manifest.json", "w"), indent=1)
    print(f"wrote {len(manifest)} arrays")
    return 0


if __name__ == "__main__":
    sys.exit(main())
