"""A drop-in for openslide-python: ``import slidestream.openslide as openslide``.

``OpenSlide(path).read_region(location, level, size)`` returns the RGBA PIL image OpenSlide
returns: the level's pixels, opaque, and transparent black (0, 0, 0, 0) for every pixel outside
the level. Geometry, properties (OpenSlide's names), associated images (RGBA PIL images),
``get_best_level_for_downsample`` and ``get_thumbnail`` behave as OpenSlide's. Reading is
slidestream's (tiled TIFF, BigTIFF, Aperio SVS, OME-TIFF); other vendors' formats are
``OpenSlideUnsupportedFormatError``. Not provided: ``deepzoom``, ``ImageSlide``, ICC profiles
(``color_profile`` is None).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from PIL import Image

from . import __version__ as _slidestream_version
from ._errors import NotASlideError, SlideError
from ._slide import Slide

__version__ = _slidestream_version
__library_version__ = f"slidestream {_slidestream_version}"

PROPERTY_NAME_COMMENT = "openslide.comment"
PROPERTY_NAME_VENDOR = "openslide.vendor"
PROPERTY_NAME_QUICKHASH1 = "openslide.quickhash-1"
PROPERTY_NAME_BACKGROUND_COLOR = "openslide.background-color"
PROPERTY_NAME_OBJECTIVE_POWER = "openslide.objective-power"
PROPERTY_NAME_MPP_X = "openslide.mpp-x"
PROPERTY_NAME_MPP_Y = "openslide.mpp-y"
PROPERTY_NAME_BOUNDS_X = "openslide.bounds-x"
PROPERTY_NAME_BOUNDS_Y = "openslide.bounds-y"
PROPERTY_NAME_BOUNDS_WIDTH = "openslide.bounds-width"
PROPERTY_NAME_BOUNDS_HEIGHT = "openslide.bounds-height"


class OpenSlideError(Exception):
    """An error reading a slide (the underlying slidestream error is its __cause__)."""


class OpenSlideUnsupportedFormatError(OpenSlideError):
    """The file is not a slide this reader opens."""


def _rgba(pixels: np.ndarray, inside: tuple[int, int, int, int]) -> Image.Image:
    """(H, W, C) uint8 -> RGBA PIL image, opaque inside [x0, x1) x [y0, y1), 0 elsewhere."""
    h, w = pixels.shape[:2]
    rgba = np.zeros((h, w, 4), dtype=np.uint8)
    x0, y0, x1, y1 = inside
    if x1 > x0 and y1 > y0:
        src = pixels[y0:y1, x0:x1]
        rgba[y0:y1, x0:x1, :3] = src if src.shape[2] == 3 else src[..., :1]
        rgba[y0:y1, x0:x1, 3] = 255
    return Image.fromarray(rgba)


class _AssociatedImages(Mapping):
    def __init__(self, slide: Slide) -> None:
        self._images = slide.associated_images

    def __getitem__(self, name: str) -> Image.Image:
        pixels = self._images[name]
        h, w = pixels.shape[:2]
        return _rgba(pixels, (0, 0, w, h))

    def __iter__(self) -> Iterator[str]:
        return iter(self._images)

    def __len__(self) -> int:
        return len(self._images)


class OpenSlide:
    """An open slide, as openslide.OpenSlide."""

    def __init__(self, filename: str | os.PathLike[str]) -> None:
        try:
            self._slide = Slide(filename)
        except NotASlideError as e:
            raise OpenSlideUnsupportedFormatError(str(e)) from e
        except SlideError as e:
            raise OpenSlideError(str(e)) from e
        self._filename = os.fspath(filename)

    @classmethod
    def detect_format(cls, filename: str | os.PathLike[str]) -> str | None:
        """The vendor ("aperio", "generic-tiff", ...) or None when not a slide we read."""
        try:
            with Slide(filename) as slide:
                return slide.format
        except SlideError:
            return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._filename!r})"

    def __enter__(self) -> "OpenSlide":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._slide.close()

    @property
    def level_count(self) -> int:
        return self._slide.level_count

    @property
    def dimensions(self) -> tuple[int, int]:
        return self._slide.dimensions

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        return self._slide.level_dimensions

    @property
    def level_downsamples(self) -> tuple[float, ...]:
        return self._slide.level_downsamples

    @property
    def properties(self) -> Mapping[str, str]:
        return self._slide.properties

    @property
    def associated_images(self) -> Mapping[str, Image.Image]:
        return _AssociatedImages(self._slide)

    @property
    def color_profile(self) -> Any:
        return None

    def set_cache(self, cache: Any) -> None:
        """Accepted for compatibility; slidestream keeps no tile cache."""

    def get_best_level_for_downsample(self, downsample: float) -> int:
        return self._slide.get_best_level_for_downsample(downsample)

    def read_region(self, location: tuple[int, int], level: int,
                    size: tuple[int, int]) -> Image.Image:
        """An RGBA PIL image of `size` (level pixels) whose top-left is `location` (level-0
        coordinates); transparent black outside the level."""
        width, height = (int(v) for v in size)
        if width < 0 or height < 0:
            raise OpenSlideError(f"negative width ({width}) or height ({height}) not allowed")
        if not 0 <= level < self.level_count:
            # OpenSlide draws nothing for a level that does not exist.
            return Image.new("RGBA", (width, height))
        info = self._slide.levels[level]
        if info.dtype != "uint8":
            raise OpenSlideError(f"level {level} holds {info.dtype} samples; OpenSlide reads "
                                 "8-bit images only")
        x, y = self._slide.level_location(location, level)
        try:
            pixels = self._slide.read_region(location, level, (width, height))
        except SlideError as e:
            raise OpenSlideError(str(e)) from e
        inside = (max(0, -x), max(0, -y), min(width, info.width - x), min(height, info.height - y))
        return _rgba(pixels, inside)

    def get_thumbnail(self, size: tuple[int, int]) -> Image.Image:
        """An RGB PIL image no larger than `size`, made as openslide-python makes it."""
        downsample = max(dim / thumb for dim, thumb in zip(self.dimensions, size))
        level = self.get_best_level_for_downsample(downsample)
        tile = self.read_region((0, 0), level, self.level_dimensions[level])
        bg_color = "#" + self.properties.get(PROPERTY_NAME_BACKGROUND_COLOR, "ffffff")
        thumb = Image.new("RGB", tile.size, bg_color)
        thumb.paste(tile, None, tile)
        thumb.thumbnail(size, Image.Resampling.LANCZOS)
        return thumb


def open_slide(filename: str | os.PathLike[str]) -> OpenSlide:
    """Opens a slide (openslide.open_slide; without ImageSlide for plain PNG/JPEG files)."""
    return OpenSlide(filename)


__all__ = [
    "OpenSlide", "OpenSlideError", "OpenSlideUnsupportedFormatError", "open_slide",
    "PROPERTY_NAME_COMMENT", "PROPERTY_NAME_VENDOR", "PROPERTY_NAME_QUICKHASH1",
    "PROPERTY_NAME_BACKGROUND_COLOR", "PROPERTY_NAME_OBJECTIVE_POWER", "PROPERTY_NAME_MPP_X",
    "PROPERTY_NAME_MPP_Y", "PROPERTY_NAME_BOUNDS_X", "PROPERTY_NAME_BOUNDS_Y",
    "PROPERTY_NAME_BOUNDS_WIDTH", "PROPERTY_NAME_BOUNDS_HEIGHT",
]
