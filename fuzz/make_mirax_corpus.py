#!/usr/bin/env python3
"""Seeds for fuzz_mirax (fuzz/corpus/mirax): small MIRAX slides made by
tests/fixtures/make_mirax_fixtures.py from the real scan (64 px camera images, one data file),
each framed as fuzz/mirax_fuzz_input.hpp says (u32 LE length + Slidedat.ini, u32 LE length +
Index.dat, then the data file).

  python3 fuzz/make_mirax_corpus.py [--shared ../shared/testdata] [--out fuzz/corpus/mirax]
"""
import argparse
import pathlib
import struct
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "fixtures"))
import make_mirax_fixtures as mmf  # noqa: E402

SEEDS = {
    "div1-overlap": dict(divisions=1, images_x=4, images_y=3, image_size=64, overlap=8,
                         concat_exponents=[0, 1], level_overlaps=[8, 4],
                         missing0={(3, 2)}, missing1=set(), datafiles=1, page_size=3, seed=5),
    "div2-3levels": dict(divisions=2, images_x=4, images_y=4, image_size=64, overlap=8,
                         concat_exponents=[0, 1, 1], level_overlaps=[8, 4, 2],
                         missing0={(0, 3)}, missing1=set(), datafiles=1, page_size=4, seed=6),
    # Images between pixels at levels 1 and 2 (odd positions and overlaps), level 2's cut into
    # 15.5 px tiles: the resampling paths (docs/mirax.md, "Painting between pixels").
    "frac-3levels": dict(divisions=1, images_x=4, images_y=3, image_size=62, overlap=7,
                         concat_exponents=[0, 1, 1], level_overlaps=[7, 3, 1],
                         missing0={(1, 1)}, missing1=set(), datafiles=1, page_size=3, seed=7,
                         jitter=[-3, -1, 0, 1, 3]),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", default=str(HERE.parent.parent / "shared" / "testdata"))
    ap.add_argument("--out", default=str(HERE / "corpus" / "mirax"))
    args = ap.parse_args()
    src = mmf.load_source(pathlib.Path(args.shared))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, params in SEEDS.items():
        with tempfile.TemporaryDirectory() as tmp:
            tmp = pathlib.Path(tmp)
            mmf.write_slide(tmp, "s", src, **params)
            mmf.check_openslide(tmp / "s.mrxs")
            d = tmp / "s"
            ini, index = (d / "Slidedat.ini").read_bytes(), (d / "Index.dat").read_bytes()
            blob = (struct.pack("<I", len(ini)) + ini + struct.pack("<I", len(index)) + index +
                    (d / "Data0000.dat").read_bytes())
            (out / f"{name}.bin").write_bytes(blob)
            print(f"{name}.bin: {len(blob)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
