"""slidestream.openslide against openslide-python (OpenSlide 3.4.1 and 4.0.1), on every slide in
../shared/testdata that OpenSlide opens and on the generated fixtures: level geometry,
properties, associated images, best levels, thumbnails, and read_region's RGBA byte for byte at
random locations, at the edges and beyond them."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image

import slidestream
import slidestream.openslide as ours_openslide

DOWNSAMPLES = [0.5, 1, 1.5, 2, 3, 3.9, 4, 4.1, 7, 8, 16, 33, 100, 1e6]

# Properties OpenSlide computes and we do not, or that differ by design per version (see
# tests/test_slide_open_openslide.cpp for 3.4.1): quickhash-1 is not computed; generic TIFFs'
# mpp / objective power come from resolution tags in 4.x only; 4.x adds ICC and per-associated
# image properties.
def _skipped(key: str, fmt: str) -> bool:
    if key == "openslide.quickhash-1" or key.startswith("openslide.bounds-"):
        return True
    if key.startswith("openslide.associated.") or key.startswith("openslide.icc-"):
        return True
    if fmt != "aperio" and key in ("openslide.mpp-x", "openslide.mpp-y",
                                   "openslide.objective-power"):
        return True
    return False


def _image_bytes(img: Image.Image):
    return (img.mode, img.size, img.tobytes())


def test_geometry_properties_and_associated_images_equal_openslides(slides, reference):
    for path in slides:
        ref = reference.describe(path, DOWNSAMPLES)
        if "error" in ref:
            continue  # e.g. big-endian files that OpenSlide 3.4.1 refuses
        with ours_openslide.OpenSlide(path) as s:
            where = f"{path.name} vs OpenSlide {reference.version}"
            assert s.level_count == ref["level_count"], where
            assert s.dimensions == tuple(ref["dimensions"]), where
            assert s.level_dimensions == tuple(map(tuple, ref["level_dimensions"])), where
            assert s.level_downsamples == pytest.approx(ref["level_downsamples"], rel=1e-12)
            assert [s.get_best_level_for_downsample(d) for d in DOWNSAMPLES] == ref["best"], where
            fmt = slidestream.open_slide(path).format
            theirs = ref["properties"]
            vendor_differs = theirs.get("openslide.vendor") != fmt
            for key, value in s.properties.items():
                if _skipped(key, fmt) or (vendor_differs and key == "openslide.vendor"):
                    continue
                assert key in theirs, f"{where}: we emit {key}={value!r}, OpenSlide does not"
                assert value == theirs[key], f"{where}: {key}"
            if reference.version == "3.4.1":
                missing = [k for k in theirs if not _skipped(k, fmt) and k not in s.properties]
                assert not missing, f"{where}: OpenSlide has {missing}"
            assert set(s.associated_images) == set(ref["associated"]), where
            for name, img in s.associated_images.items():
                assert _image_bytes(img) == tuple(ref["associated"][name]), f"{where}: {name}"


def _requests(slide: slidestream.Slide, rng: random.Random, count: int, version: str):
    """(location, level, size): random inside, straddling every edge, fully outside, negative.

    Only level-0 locations that map to whole pixels of the level: where x / downsample is
    fractional, OpenSlide paints the level shifted by the fraction and resamples between pixels
    (cairo), which is not a read of the file's pixels; we read from the pixel the location falls
    in. So levels with a fractional downsample are compared at the origin only, and not at all
    with OpenSlide 3.4.1, which resamples those levels even there (boxes.tiff level 2)."""
    out = []
    for level in range(slide.level_count):
        info = slide.levels[level]
        ds = info.downsample
        step = 1 if ds == int(ds) else 0  # 0: the origin only
        if not step and version == "3.4.1":
            continue

        def loc(lx, ly):
            if step:
                return (int(lx * ds), int(ly * ds))
            return (0, 0)

        w, h = info.width, info.height
        for _ in range(count):
            rw, rh = rng.randint(1, min(300, w + 20)), rng.randint(1, min(300, h + 20))
            out.append((loc(rng.randint(0, max(0, w - rw)), rng.randint(0, max(0, h - rh))),
                        level, (rw, rh)))
        edge = [(w - 7, h - 5), (w - 1, 0), (0, h - 1), (-3, -2), (w + 5, h + 5), (-50, h // 2),
                (w // 2, -40)]
        for lx, ly in edge:
            if step:
                out.append((loc(lx, ly), level, (rng.randint(1, 64), rng.randint(1, 64))))
        out.append(((0, 0), level, (w + 13, h + 9)))  # the whole level and a margin
    return out


def test_read_region_rgba_equals_openslides_byte_for_byte(slides, reference):
    rng = random.Random(20261204)
    for path in slides:
        if "error" in reference.describe(path):
            continue
        with slidestream.open_slide(path) as native, ours_openslide.OpenSlide(path) as s:
            if any(l.dtype != "uint8" for l in native.levels):
                continue
            requests = _requests(native, rng, 6, reference.version)
            expected = reference.regions(path, requests)
            for (location, level, size), ref in zip(requests, expected):
                got = _image_bytes(s.read_region(location, level, size))
                if got != tuple(ref):
                    a = np.frombuffer(got[2], np.uint8)
                    b = np.frombuffer(ref[2], np.uint8)
                    diff = int(np.count_nonzero(a != b)) if a.size == b.size else "size"
                    pytest.fail(f"{path.name} level {level} at {location} size {size}: "
                                f"{diff} bytes differ from OpenSlide {reference.version}")


def test_thumbnail_equals_openslides(sample_slide, boxes_slide, reference):
    for path in (sample_slide, boxes_slide):
        with ours_openslide.OpenSlide(path) as s:
            for size in ((256, 256), (100, 37)):
                ds = max(d / t for d, t in zip(s.dimensions, size))
                level_ds = s.level_downsamples[s.get_best_level_for_downsample(ds)]
                if reference.version == "3.4.1" and level_ds != int(level_ds):
                    continue  # 3.4.1 resamples such levels (see _requests)
                assert _image_bytes(s.get_thumbnail(size)) == tuple(
                    reference.thumbnail(path, size)), f"{path.name} {size}"


def test_native_read_region_is_the_rgb_of_the_dropin(sample_slide):
    with slidestream.open_slide(sample_slide) as native, ours_openslide.OpenSlide(
            sample_slide) as s:
        rgba = np.asarray(s.read_region((100, 200), 0, (300, 211)))
        rgb = native.read_region((100, 200), 0, (300, 211))
        assert rgb.shape == (211, 300, 3) and rgb.dtype == np.uint8
        assert np.array_equal(rgba[..., :3], rgb)
        assert np.all(rgba[..., 3] == 255)


def test_dropin_errors_are_openslide_errors(tmp_path):
    bogus = tmp_path / "not-a-slide.tif"
    bogus.write_bytes(b"this is not a TIFF at all")
    with pytest.raises(ours_openslide.OpenSlideUnsupportedFormatError):
        ours_openslide.OpenSlide(bogus)
    with pytest.raises(ours_openslide.OpenSlideError):
        ours_openslide.open_slide(tmp_path / "missing.svs")
    assert ours_openslide.OpenSlide.detect_format(bogus) is None
