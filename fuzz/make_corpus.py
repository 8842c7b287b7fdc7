#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora, one folder per target under OUT_DIR:
  open_read/   copies of the small public test slides plus tiny slides from tifffile covering
               each layout the parser and decoders handle (byte orders, BigTIFF, SubIFDs,
               OME-XML, Aperio layout with stripped associated images, every compression,
               planar, 16-bit and float samples) and tiny Hamamatsu NDPIs;
  deflate/ lzw/ zstd/ jpeg/ jpeg2000/ predictor/
               real tiles of those slides (and imagecodecs' encoders) behind the 6-byte format
               header of fuzz/tile_fuzz.hpp;
  zarr_metadata/
               zarr-python's v2 and v3 arrays (each codec, sharded) as fuzz_zarr_metadata.cpp
               reads them: a flag byte, the metadata, NUL, the first chunk file.
Every file stays a few KB so the fuzzers mutate structure, not pixels.
Usage: make_corpus.py [OUT_DIR]   (default: fuzz/corpus next to this script)
"""
import pathlib
import shutil
import sys

import numpy as np
import tifffile

HERE = pathlib.Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "testdata"


def image(h, w, c=3, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    base = np.add.outer(np.arange(h), np.arange(w)).astype(np.float64)
    img = (base[..., None] * (1 + np.arange(c)) + rng.integers(0, 8, (h, w, c))) % 256
    img = img.astype(dtype)
    return img if c > 1 else img[..., 0]


def pyramid(path, levels, tile=16, subifds=False, **kw):
    byteorder = kw.pop("byteorder", "<")
    bigtiff = kw.pop("bigtiff", False)
    with tifffile.TiffWriter(path, byteorder=byteorder, bigtiff=bigtiff) as w:
        if subifds:
            w.write(levels[0], tile=(tile, tile), subifds=len(levels) - 1, metadata=None, **kw)
            for l in levels[1:]:
                w.write(l, tile=(tile, tile), subfiletype=1, metadata=None, **kw)
        else:
            for i, l in enumerate(levels):
                w.write(l, tile=(tile, tile), subfiletype=1 if i else 0, metadata=None, **kw)


def tile_header(page, jpeg_tables=b"", j2k_variant=0):
    """The 6-byte format header of fuzz/tile_fuzz.hpp for one of `page`'s tiles."""
    samples = page.samplesperpixel if page.planarconfig == 1 else 1
    bits = {8: 0, 16: 1, 32: 2}[page.bitspersample]
    if page.sampleformat == 3:
        bits = 3
    predictor = {1: 0, 2: 1, 3: 2}[int(page.predictor)]
    b2 = (samples - 1) | bits << 2 | predictor << 4 | (page.parent.byteorder == ">") << 6
    photometric = {1: 0, 2: 1, 6: 2}.get(int(page.photometric), 1)
    b3 = photometric | 1 << 2 | 1 << 4  # YCbCr subsampling 2 x 2
    width = page.tilewidth or page.imagewidth
    height = page.tilelength or page.rowsperstrip
    extra = len(jpeg_tables) if jpeg_tables else j2k_variant
    return bytes([width - 1, min(height, 256) - 1, b2, b3, extra & 255, extra >> 8])


def write_tile_seeds(slides, out):
    """fuzz_<codec> seeds: the first two tiles of each page of each slide, by compression."""
    target_of = {1: "predictor", 5: "lzw", 7: "jpeg", 8: "deflate", 32946: "deflate",
                 50000: "zstd", 34712: "jpeg2000", 33003: "jpeg2000", 33005: "jpeg2000"}
    counts = {}
    for path in slides:
        data = path.read_bytes()
        with tifffile.TiffFile(path) as tif:
            for p, page in enumerate(tif.pages):
                target = target_of.get(int(page.compression))
                if target is None or page.bitspersample not in (8, 16, 32):
                    continue
                tables = page.jpegtables or b"" if target == "jpeg" else b""
                variant = {34712: 0, 33003: 1, 33005: 2}.get(int(page.compression), 0)
                header = tile_header(page, tables, variant)
                for t, (o, n) in enumerate(zip(page.dataoffsets[:2], page.databytecounts[:2])):
                    (out / target).mkdir(parents=True, exist_ok=True)
                    seed = out / target / f"{path.stem}-p{p}-t{t}"
                    seed.write_bytes(header + bytes(tables) + data[o:o + n])
                    counts[target] = counts.get(target, 0) + 1
    return counts


def write_zarr_seeds(out):
    """fuzz_zarr_metadata seeds from zarr-python 3: v2 and v3, each codec we read, sharded."""
    import tempfile

    import numcodecs
    import zarr
    import zarr.codecs as zc

    target = out / "zarr_metadata"
    target.mkdir(parents=True, exist_ok=True)
    a = image(24, 20)
    grey = image(24, 20, 1, np.uint16)
    cases = {
        "v2-raw": dict(zarr_format=2, compressors=None),
        "v2-zstd": dict(zarr_format=2, compressors=numcodecs.Zstd(level=3)),
        "v2-blosc": dict(zarr_format=2,
                         compressors=numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE)),
        "v3-raw": dict(zarr_format=3, compressors=None),
        "v3-zstd": dict(zarr_format=3, compressors=zc.ZstdCodec(level=3, checksum=True)),
        "v3-blosc": dict(zarr_format=3, compressors=zc.BloscCodec(cname="lz4", clevel=5)),
        "v3-sharded": dict(zarr_format=3, compressors=zc.ZstdCodec(), shards=(32, 32, 3)),
    }
    for name, kw in cases.items():
        for arr, suffix in ((np.moveaxis(a, -1, 0), "rgb"), (grey, "grey16")):
            with tempfile.TemporaryDirectory() as tmp:
                shape = arr.shape
                chunks = (3, 16, 16) if arr.ndim == 3 else (16, 16)
                kw2 = dict(kw)
                if "shards" in kw2:
                    kw2["shards"] = (3, 32, 32) if arr.ndim == 3 else (32, 32)
                    chunks = (3, 16, 16) if arr.ndim == 3 else (16, 16)
                z = zarr.create_array(tmp, shape=shape, chunks=chunks, dtype=arr.dtype, **kw2)
                z[...] = arr
                meta_name = "zarr.json" if kw["zarr_format"] == 3 else ".zarray"
                meta = (pathlib.Path(tmp) / meta_name).read_bytes()
                chunk_files = sorted(p for p in pathlib.Path(tmp).rglob("*")
                                     if p.is_file() and p.name not in (".zarray", ".zattrs",
                                                                       "zarr.json", ".zgroup"))
                first = chunk_files[0].read_bytes() if chunk_files else b""
                keys = ["0.0", "0.0.0", "0/0", "0/0/0", "c/0/0", "c/0/0/0", "c.0.0", "c.0.0.0"]
                key = chunk_files[0].relative_to(tmp).as_posix() if chunk_files else "0.0"
                flag = bytes([(kw["zarr_format"] == 3) | keys.index(key) << 1])
                (target / f"{name}-{suffix}").write_bytes(flag + meta + b"\0" + first)
    return len(list(target.iterdir()))


def write_ndpi_seeds(out):
    """Tiny Hamamatsu NDPIs, laid out by tests/fixtures/make_ndpi_fixtures.py: restart-marker
    pseudo-tiles with recorded offsets, the same without (found by scanning), a level without
    restart markers, the macro."""
    sys.path.insert(0, str(HERE.parent / "tests" / "fixtures"))
    import make_ndpi_fixtures as ndpi

    rgb = image(48, 64)
    for name, record in (("ndpi.ndpi", True), ("ndpi-scan.ndpi", False)):
        w = ndpi.NdpiWriter(out / name)
        ndpi.add_stream(w, rgb, 20, restart_mcus=2, record_starts=record,
                        extra=ndpi.FIRST_DIR_TAGS)
        ndpi.add_stream(w, np.ascontiguousarray(rgb[::4, ::4]), 20)
        ndpi.add_stream(w, image(16, 24, seed=1), -1)
        w.close()


def main(root):
    out = root / "open_read"
    out.mkdir(parents=True, exist_ok=True)
    for name in ("small.svs", "boxes.tiff", "unreadable.svs", "unopenable.tiff"):
        if (SHARED / name).exists():
            shutil.copy(SHARED / name, out / name)
    rgb = [image(40, 50), image(20, 25)]
    grey16 = [image(40, 50, 1, np.uint16), image(20, 25, 1, np.uint16)]
    f32 = [image(33, 17, 1, np.float32)]
    pyramid(out / "none.tif", rgb, photometric="rgb")
    pyramid(out / "jpeg.tif", rgb, photometric="rgb", compression="jpeg")
    pyramid(out / "deflate-pred.tif", rgb, photometric="rgb", compression="zlib", predictor=True)
    pyramid(out / "lzw.tif", rgb, photometric="rgb", compression="lzw", predictor=True)
    pyramid(out / "zstd.tif", rgb, photometric="rgb", compression="zstd")
    pyramid(out / "j2k.tif", rgb[:1], photometric="rgb", compression="jpeg2000",
            compressionargs={"reversible": True})
    pyramid(out / "planar.tif", [np.ascontiguousarray(np.moveaxis(l, -1, 0)) for l in rgb],
            photometric="rgb", planarconfig="separate", compression="zlib")
    pyramid(out / "be-grey16.tif", grey16, photometric="minisblack", byteorder=">",
            compression="zlib", predictor=True)
    pyramid(out / "bigtiff-float.tif", f32, photometric="minisblack", bigtiff=True,
            compression="zlib", predictor=3)
    pyramid(out / "subifd-be-bigtiff.tif", rgb, subifds=True, photometric="rgb", byteorder=">",
            bigtiff=True)
    with tifffile.TiffWriter(out / "ome.ome.tif", ome=True) as w:
        w.write(rgb[0], tile=(16, 16), subifds=1, photometric="rgb",
                metadata={"axes": "YXS", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5})
        w.write(rgb[1], tile=(16, 16), subfiletype=1, photometric="rgb")
    # Aperio layout: tiled level, stripped thumbnail, LZW label, JPEG macro.
    desc = "Aperio Image Library v12.0.0\r\n50x40 (16x16) JPEG/RGB Q=30|AppMag = 20|MPP = 0.5"
    with tifffile.TiffWriter(out / "aperio.svs") as w:
        w.write(rgb[0], tile=(16, 16), photometric="rgb", compression="jpeg",
                description=desc, metadata=None)
        w.write(rgb[1], photometric="rgb", compression="jpeg", rowsperstrip=8,
                description="Aperio Image Library v12.0.0\n50x40 -> 25x20", metadata=None)
        w.write(rgb[1], photometric="rgb", compression="lzw", rowsperstrip=8, subfiletype=1,
                description="Aperio Image Library v12.0.0\nlabel 25x20", metadata=None)
        w.write(rgb[1], photometric="rgb", compression="jpeg", rowsperstrip=8, subfiletype=9,
                description="Aperio Image Library v12.0.0\nmacro 25x20", metadata=None)
    write_ndpi_seeds(out)
    total = sum(p.stat().st_size for p in out.iterdir())
    print(f"open_read: {len(list(out.iterdir()))} seeds, {total} bytes")
    for target, n in sorted(write_tile_seeds(sorted(out.iterdir()), root).items()):
        print(f"{target}: {n} seeds")
    print(f"zarr_metadata: {write_zarr_seeds(root)} seeds")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "corpus")
