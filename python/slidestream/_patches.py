"""Where the tissue is, and the patch grids that cover it (the C++ core's tissue_mask and
patch_grid, slidestream/patches.hpp)."""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from . import _core
from ._device import default_threads
from ._slide import Slide


class TissueMask(NamedTuple):
    """A tissue mask: ``array`` (H, W) bool, True on tissue; ``scale`` (x, y) level-0 pixels per
    mask pixel; ``threshold`` Otsu's threshold on the measure."""

    array: np.ndarray
    scale: tuple[float, float]
    threshold: float


def _slide(slide: Slide | str | os.PathLike[str]) -> Slide:
    return slide if isinstance(slide, Slide) else Slide(slide)


def tissue_mask(slide: Slide | str | os.PathLike[str], level: int | None = None,
                mpp: float | None = None, method: str = "otsu", *, max_speck_pixels: int = 64,
                max_hole_pixels: int = 64, threads: int = 0) -> TissueMask:
    """Where the tissue is, on a low-resolution image of the slide.

    Otsu's threshold (as scikit-image's ``threshold_otsu``) on the HSV saturation
    (``method="otsu"`` or ``"otsu-saturation"``) or the mean optical density
    (``"otsu-density"``) of `level`, or of the whole slide at `mpp` (white outside); neither:
    8 µm/px where the slide says its mpp, else the smallest level. Tissue pieces of at most
    `max_speck_pixels` mask pixels (8-connected) are removed, then holes of at most
    `max_hole_pixels` (4-connected) filled.
    """
    s = _slide(slide)
    d = _core.tissue_mask(s._core, level=-1 if level is None else int(level),
                          mpp=float(mpp or 0.0), method=method,
                          max_speck_pixels=int(max_speck_pixels),
                          max_hole_pixels=int(max_hole_pixels), threads=default_threads(threads))
    return TissueMask(d["mask"].astype(bool), (d["scale_x"], d["scale_y"]), d["threshold"])


def patch_grid(slide: Slide | str | os.PathLike[str], size: int, stride: int | None = None, *,
               level: int = 0, mpp: float | None = None, mask: TissueMask | None = None,
               min_tissue: float = 0.5) -> np.ndarray:
    """Level-0 (x, y) corners of a grid of `size`-pixel patches every `stride` pixels (of
    `level`, or at `mpp`), row by row over the whole slide, keeping those with at least
    `min_tissue` of their footprint on the mask's tissue when a mask is given. Returns an
    (N, 2) int64 array, ready for :meth:`Slide.read_regions` / ``read_regions_at_mpp``."""
    s = _slide(slide)
    mask_array = None
    scale = (1.0, 1.0)
    if mask is not None:
        mask_array = np.ascontiguousarray(mask.array, dtype=np.uint8)
        scale = mask.scale
    return _core.patch_grid(s._core, int(size), int(stride or 0), level=int(level),
                            mpp=float(mpp or 0.0), mask=mask_array, scale_x=float(scale[0]),
                            scale_y=float(scale[1]), min_tissue=float(min_tissue))
