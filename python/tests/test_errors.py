"""Every error type on the malformed corpus (../shared/testdata: broken.svs, unopenable.tiff,
unreadable.svs, corrupt/) and on damaged copies made here: the right SlideError subclass,
carrying file, level, tile and offset, and no crash."""

from __future__ import annotations


import numpy as np
import pytest

import slidestream
from conftest import SHARED


def _shared(name):
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} missing")
    return path


def test_broken_svs_is_not_a_slide():
    path = _shared("broken.svs")
    with pytest.raises(slidestream.NotASlideError) as info:
        slidestream.open_slide(path)
    e = info.value
    assert e.kind == "format" and e.file == str(path) and "not a TIFF" in str(e)
    assert isinstance(e, slidestream.SlideError)


def test_unopenable_tiff_fails_with_unsupported_compression_naming_the_tile():
    path = _shared("unopenable.tiff")
    with slidestream.open_slide(path) as s:
        with pytest.raises(slidestream.UnsupportedError) as info:
            s.read_level(0)
    e = info.value
    assert e.file == str(path) and e.level == 0 and e.tile == 0 and e.offset is not None
    assert "no decoder" in str(e)


def test_unreadable_svs_opens_and_its_pixels_are_corrupt():
    path = _shared("unreadable.svs")
    with slidestream.open_slide(path) as s:
        assert s.level_count >= 1
        for read in (lambda: s.read_level(0), lambda: s.read_region((0, 0), 0, (8, 8)),
                     lambda: s.read_tile(0, 0, 0)):
            with pytest.raises(slidestream.CorruptSlideError) as info:
                read()
            e = info.value
            assert (e.file, e.level, e.tile) == (str(path), 0, 0) and e.offset == 16
            assert "jpeg" in str(e)


def test_the_corrupt_zstd_tile_reads_without_crashing():
    # Its damaged stream still decodes (SOURCES.md): the CPU path gives the same pixels as
    # tifffile + imagecodecs, which decode it the same way.
    path = _shared("corrupt/zstd-tile-25.tif")
    tifffile = pytest.importorskip("tifffile")
    pytest.importorskip("imagecodecs")  # tifffile's zstd
    with slidestream.open_slide(path) as s:
        assert np.array_equal(s.read_level(0), tifffile.imread(path))


def test_damaged_deflate_tile_is_corrupt_with_its_tile_and_offset(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    image = np.random.default_rng(2).integers(0, 255, (256, 256, 3), dtype=np.uint8)
    path = tmp_path / "damaged.tif"
    tifffile.imwrite(path, image, tile=(128, 128), compression="zlib", photometric="rgb")
    with tifffile.TiffFile(path) as tif:
        offset = tif.pages[0].dataoffsets[3]
        count = tif.pages[0].databytecounts[3]
    data = bytearray(path.read_bytes())
    data[offset:offset + count] = b"\xff" * count
    path.write_bytes(bytes(data))
    with slidestream.open_slide(path) as s:
        assert np.array_equal(s.read_region((0, 0), 0, (128, 128)), image[:128, :128])
        with pytest.raises(slidestream.CorruptSlideError) as info:
            s.read_level(0)
    assert info.value.tile == 3 and info.value.offset == offset and info.value.level == 0


def test_truncated_slide_is_an_error_never_a_crash(sample_slide, tmp_path):
    data = sample_slide.read_bytes()
    for fraction in (0.01, 0.3, 0.6, 0.95):
        path = tmp_path / f"cut-{fraction}.svs"
        path.write_bytes(data[:int(len(data) * fraction)])
        try:
            with slidestream.open_slide(path) as s:
                for level in range(s.level_count):
                    s.read_level(level)
        except slidestream.SlideError as e:
            assert e.file == str(path)


def test_missing_file_is_not_found():
    with pytest.raises(slidestream.SlideNotFoundError) as info:
        slidestream.open_slide("/nonexistent/slide.svs")
    assert isinstance(info.value, FileNotFoundError) and info.value.kind == "not_found"


def test_invalid_arguments(sample_slide):
    with slidestream.open_slide(sample_slide) as s:
        with pytest.raises(slidestream.InvalidArgumentError, match="tile"):
            s.read_tile(0, 10_000, 0)
        with pytest.raises(IndexError):
            s.read_region((0, 0), s.level_count, (4, 4))
        with pytest.raises(ValueError):
            s.read_region((0, 0), 0, (-1, 4))
    with pytest.raises(slidestream.InvalidArgumentError, match="zarr_format"):
        slidestream.write_zarr(np.zeros((4, 4), np.uint8), "/tmp/never", zarr_format=4)


def test_an_impossible_allocation_is_out_of_memory_not_a_crash(sample_slide):
    with slidestream.open_slide(sample_slide) as s:
        with pytest.raises(slidestream.SlideOutOfMemoryError) as info:
            s.read_region((0, 0), 0, (1 << 22, 1 << 22))
    assert isinstance(info.value, MemoryError)


def test_errors_pickle_with_their_context():
    import pickle

    e = slidestream.CorruptSlideError("x: bad", kind="corrupt", cause="bad", file="x", level=1,
                                      tile=2, offset=3)
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is slidestream.CorruptSlideError
    assert (back.file, back.level, back.tile, back.offset, str(back)) == ("x", 1, 2, 3, "x: bad")
