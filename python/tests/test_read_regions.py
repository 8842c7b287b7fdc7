"""Slide.read_regions: every patch of a batch equals OpenSlide's read_region (RGB of its RGBA,
transparent black outside) at random, edge and outside locations; a batch equals read_region
one by one; a TileCache changes no pixel and stays under its cap; `out` arrays are filled in
place; threads reading one slide at once get the same pixels."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import slidestream
from conftest import requires_gpu


def _locations(slide, size, n, seed):
    rng = np.random.default_rng(seed)
    w, h = slide.dimensions
    xy = np.stack([rng.integers(-size, w, n), rng.integers(-size, h, n)], axis=1)
    edges = [(0, 0), (w - size // 2, h - size // 2), (-size // 3, 17), (w + 5, h + 5),
             (w - size, h - size)]
    return np.concatenate([xy, np.array(edges)]).astype(np.int64)


def _rgb(region):
    mode, (w, h), data = region
    assert mode == "RGBA"
    return np.frombuffer(data, np.uint8).reshape(h, w, 4)[..., :3]


def test_every_patch_equals_openslide_read_region(sample_slide, reference):
    size = 256
    with slidestream.open_slide(sample_slide) as slide:
        where = _locations(slide, size, 40, 1)
        batch = slide.read_regions(where, 0, (size, size))
    assert batch.shape == (len(where), size, size, 3) and batch.dtype == np.uint8
    expected = reference.regions(sample_slide, [((int(x), int(y)), 0, (size, size))
                                                for x, y in where])
    for i, region in enumerate(expected):
        np.testing.assert_array_equal(batch[i], _rgb(region), err_msg=f"patch {i} at {where[i]}")


def test_batch_equals_read_region_one_by_one_on_every_level(slides):
    for path in slides:
        with slidestream.open_slide(path) as slide:
            for level in range(slide.level_count):
                where = _locations(slide, 64, 25, level)
                batch = slide.read_regions(where, level, (64, 48), fill=3)
                for i, (x, y) in enumerate(where):
                    one = slide.read_region((int(x), int(y)), level, (64, 48), fill=3)
                    np.testing.assert_array_equal(batch[i], one,
                                                  err_msg=f"{path.name} level {level} {x, y}")


def test_cache_changes_no_pixel_and_respects_its_cap(sample_slide):
    with slidestream.open_slide(sample_slide) as slide:
        where = _locations(slide, 256, 60, 2)
        plain = slide.read_regions(where, 0, (256, 256))
        cap = 240 * 240 * 3 * 6
        cache = slidestream.TileCache(cap)
        for _ in range(2):
            np.testing.assert_array_equal(slide.read_regions(where, 0, (256, 256), cache=cache),
                                          plain)
            stats = cache.stats()
            assert stats["used_bytes"] <= cap
        assert stats["evictions"] > 0
        big = slidestream.TileCache(1 << 30)
        slide.read_regions(where, 0, (256, 256), cache=big)
        slide.read_regions(where, 0, (256, 256), cache=big)
        assert big.stats()["hits"] > 0 and big.stats()["evictions"] == 0


def test_out_array_is_filled_in_place_and_checked(sample_slide):
    with slidestream.open_slide(sample_slide) as slide:
        where = [(10, 20), (500, 700), (-5, -5)]
        out = np.zeros((3, 32, 40, 3), np.uint8)
        assert slide.read_regions(where, 0, (40, 32), out=out) is out
        np.testing.assert_array_equal(out, slide.read_regions(where, 0, (40, 32)))
        with pytest.raises(slidestream.InvalidArgumentError, match="shape"):
            slide.read_regions(where, 0, (40, 32), out=np.zeros((2, 32, 40, 3), np.uint8))
        with pytest.raises(ValueError, match="pairs"):
            slide.read_regions([(0, 0, 1)], 0, (8, 8))
        assert slide.read_regions([], 0, (8, 8)).shape == (0, 8, 8, 3)


def test_threads_reading_one_slide_get_the_same_pixels(sample_slide):
    with slidestream.open_slide(sample_slide) as slide:
        batches = [_locations(slide, 128, 30, seed) for seed in range(6)]
        expected = [slide.read_regions(w, 0, (128, 128), threads=1) for w in batches]
        got = [None] * len(batches)

        def work(i):
            got[i] = slide.read_regions(batches[i], 0, (128, 128), threads=2)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)


@requires_gpu
def test_gpu_batch_equals_cpu_batch(sample_slide):
    with slidestream.open_slide(sample_slide) as slide:
        where = _locations(slide, 256, 300, 3)
        cpu = slide.read_regions(where, 0, (256, 256))
        gpu = slide.read_regions(where, 0, (256, 256), device="cuda")
        assert gpu.shape == cpu.shape
        np.testing.assert_array_equal(gpu.get(), cpu)
