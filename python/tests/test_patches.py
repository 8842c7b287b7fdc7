"""Reads at a target mpp, tissue masks and patch grids against independent references:
integer-factor mpp reads equal scikit-image's downscale_local_mean (rounded half up) of the
level-0 regions; tissue masks equal scikit-image's threshold_otsu + remove_small_objects +
remove_small_holes within a few pixels of area; every grid patch kept has at least min_tissue of
its footprint on tissue (recounted in NumPy) and every one dropped less."""

from __future__ import annotations

import numpy as np
import pytest

import slidestream
from conftest import BUILT_FIXTURES, requires_gpu


def _locations(slide, n, seed, margin):
    rng = np.random.default_rng(seed)
    w, h = slide.dimensions
    xy = np.stack([rng.integers(-margin, w, n), rng.integers(-margin, h, n)], axis=1)
    return np.concatenate([xy, [[0, 0], [w - margin // 2, h - margin // 2]]]).astype(np.int64)


@pytest.mark.parametrize("factor", [2, 3])
def test_integer_factor_mpp_read_equals_downscale_local_mean(sample_slide, factor):
    downscale_local_mean = pytest.importorskip("skimage.transform").downscale_local_mean
    with slidestream.open_slide(sample_slide) as slide:
        mpp0 = slide.mpp[0]
        where = _locations(slide, 20, factor, 128 * factor)
        batch = slide.read_regions_at_mpp(where, mpp0 * factor, (96, 64))
        assert batch.shape == (len(where), 64, 96, 3)
        for i, (x, y) in enumerate(where):
            source = slide.read_region((int(x), int(y)), 0, (96 * factor, 64 * factor))
            mean = downscale_local_mean(source.astype(np.float64), (factor, factor, 1))
            expected = np.floor(mean + 0.5).astype(np.uint8)
            np.testing.assert_array_equal(batch[i], expected, err_msg=f"patch {i} at {x, y}")


def test_mpp_read_picks_the_best_level_and_reads_it_unresampled():
    path = BUILT_FIXTURES / "tf-ome-subifd-256.ome.tif"
    if not path.exists():
        pytest.skip("ctest fixtures not built")
    with slidestream.open_slide(path) as slide:
        ds = slide.level_downsamples[1]
        where = _locations(slide, 10, 4, 64)
        at_mpp = slide.read_regions_at_mpp(where, slide.mpp[0] * ds, (50, 40))
        np.testing.assert_array_equal(at_mpp, slide.read_regions(where, 1, (50, 40)))


def test_mpp_errors_say_why():
    path = BUILT_FIXTURES / "tf-jpeg-256.tif"
    if not path.exists():
        pytest.skip("ctest fixtures not built")
    with slidestream.open_slide(path) as slide:
        assert slide.mpp == (None, None)
        with pytest.raises(slidestream.InvalidArgumentError, match="mpp"):
            slide.read_regions_at_mpp([(0, 0)], 0.5, (8, 8))
        with pytest.raises(slidestream.InvalidArgumentError, match="mpp"):
            slidestream.patch_grid(slide, 64, mpp=0.5)


def test_mpp_finer_than_level_zero_is_refused(sample_slide):
    with slidestream.open_slide(sample_slide) as slide:
        with pytest.raises(slidestream.InvalidArgumentError, match="finer"):
            slide.read_regions_at_mpp([(0, 0)], 0.25, (8, 8))


def _reference_mask(rgb, method, speck, hole):
    pytest.importorskip("skimage")
    from skimage.color import rgb2hsv
    from skimage.filters import threshold_otsu
    from skimage.morphology import remove_small_holes, remove_small_objects

    if method == "otsu":
        measure = rgb2hsv(rgb)[..., 1]
    else:
        measure = (-np.log10((rgb.astype(np.float64) + 1) / 256)).mean(axis=2)
    t = threshold_otsu(measure)
    mask = measure > t
    mask = remove_small_objects(mask, max_size=speck, connectivity=2)
    mask = remove_small_holes(mask, max_size=hole, connectivity=1)
    return mask, t


@pytest.mark.parametrize("method", ["otsu", "otsu-density"])
def test_tissue_mask_equals_scikit_image_otsu_within_a_few_pixels(sample_slide, method):
    with slidestream.open_slide(sample_slide) as slide:
        rgb = slide.read_level(0)
        ours = slidestream.tissue_mask(slide, level=0, method=method, max_speck_pixels=200,
                                       max_hole_pixels=200)
    reference, t = _reference_mask(rgb, method, 200, 200)
    assert ours.array.shape == reference.shape
    assert ours.threshold == pytest.approx(t, abs=1e-3)
    area = int(reference.sum())
    assert 0.05 * reference.size < area < 0.95 * reference.size  # a real split
    assert abs(int(ours.array.sum()) - area) <= max(5, area // 10000), (ours.array.sum(), area)
    assert int((ours.array != reference).sum()) <= max(10, area // 5000)


def test_default_tissue_mask_is_low_resolution_and_scaled(sample_slide):
    with slidestream.open_slide(sample_slide) as slide:
        mask = slidestream.tissue_mask(slide)  # 8 µm/px: the slide says its mpp
        w, h = slide.dimensions
    assert mask.scale[0] == pytest.approx(8 / 0.499)
    assert mask.array.shape == (int(np.ceil(h / mask.scale[1])), int(np.ceil(w / mask.scale[0])))
    assert 0 < mask.array.mean() < 1


def _fraction(mask, x, y, foot):
    sx, sy = mask.scale
    x0, y0 = int(np.floor(x / sx)), int(np.floor(y / sy))
    x1 = max(x0 + 1, int(np.ceil((x + foot[0]) / sx)))
    y1 = max(y0 + 1, int(np.ceil((y + foot[1]) / sy)))
    h, w = mask.array.shape
    inside = mask.array[max(y0, 0):min(y1, h), max(x0, 0):min(x1, w)].sum()
    return inside / ((x1 - x0) * (y1 - y0))


def test_patch_grid_keeps_exactly_the_patches_with_enough_tissue(sample_slide):
    with slidestream.open_slide(sample_slide) as slide:
        mask = slidestream.tissue_mask(slide)
        full = slidestream.patch_grid(slide, 256, mpp=0.5)
        kept = slidestream.patch_grid(slide, 256, mpp=0.5, mask=mask, min_tissue=0.5)
        w, h = slide.dimensions
        scale = 0.5 / slide.mpp[0]
        stride = slidestream.patch_grid(slide, 256, 128, level=0)
    step = 256 * scale
    nx, ny = int(np.ceil(w / step)), int(np.ceil(h / step))
    assert len(full) == nx * ny
    assert full[:, 0].max() < w and full[:, 1].max() < h
    assert 0 < len(kept) < len(full)
    kept_set = {tuple(p) for p in kept.tolist()}
    for x, y in full.tolist():
        f = _fraction(mask, x, y, (256 * scale, 256 * scale))
        assert ((x, y) in kept_set) == (f >= 0.5), (x, y, f)
    assert len(stride) == int(np.ceil(w / 128)) * int(np.ceil(h / 128))


@requires_gpu
def test_gpu_mpp_read_equals_cpu(sample_slide):
    with slidestream.open_slide(sample_slide) as slide:
        where = _locations(slide, 64, 9, 300)
        cpu = slide.read_regions_at_mpp(where, 0.77, (200, 200))
        gpu = slide.read_regions_at_mpp(where, 0.77, (200, 200), device="cuda")
        np.testing.assert_array_equal(gpu.get(), cpu)
