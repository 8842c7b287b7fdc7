"""The slide, in openslide-python's words, with reads into CPU or GPU arrays."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from . import _core
from ._arrays import CudaArray, wrap
from ._device import default_threads, normalize

class Level(NamedTuple):
    """One level of a slide's pyramid (level 0 is full resolution)."""

    index: int
    width: int
    height: int
    tile_width: int
    tile_height: int
    tiles_across: int
    tiles_down: int
    downsample: float  #: OpenSlide's: mean of level-0 width / width and height / height
    compression: str  #: "jpeg", "deflate", "lzw", "zstd", "jpeg2000", "none", ...
    channels: int  #: samples per pixel as reads deliver them (3 for RGB slides)
    dtype: str  #: "uint8", "uint16", "uint32" or "float32"


class _AssociatedImages(Mapping):
    """name -> (H, W, C) uint8 NumPy array, decoded when first asked for."""

    def __init__(self, slide: Slide) -> None:
        self._slide = slide
        self._names = [name for name, _, _ in slide._core.associated]
        self._cache: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._names:
            raise KeyError(name)
        if name not in self._cache:
            self._cache[name] = self._slide._core.read_associated(name)
        return self._cache[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"<associated images {self._names}>"


class Slide:
    """A whole-slide image (tiled TIFF / BigTIFF, Aperio SVS, OME-TIFF), opened once.

    The attributes are openslide-python's (``level_count``, ``dimensions``, ``level_dimensions``,
    ``level_downsamples``, ``properties``, ``associated_images``), and so are
    :meth:`read_region`'s arguments; reads return arrays instead of PIL images, on the CPU
    (NumPy) or on a GPU (:class:`CudaArray`, DLPack). For a PIL-returning drop-in, use
    :mod:`slidestream.openslide`.

    One ``Slide`` may be read from many threads at once (reads release the GIL). It pickles by
    path, so it can be handed to worker processes (``multiprocessing``, a PyTorch ``DataLoader``,
    Dask), which reopen the file.

    Example::

        with slidestream.open_slide("slide.svs") as slide:
            patch = slide.read_region((1000, 2000), 0, (256, 256))   # (256, 256, 3) uint8
            level = slide.read_level(1, device="cuda")               # CudaArray
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = os.fspath(path)
        self._core = _core.Slide(self._path)
        self._levels = tuple(Level(**d) for d in self._core.levels)
        self._properties: dict[str, str] | None = None
        self._associated: _AssociatedImages | None = None

    # --- context, pickling -------------------------------------------------------------------
    def __enter__(self) -> Slide:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Releases the file. Reads already running finish; later calls raise."""
        self._core.close()

    @property
    def closed(self) -> bool:
        return self._core.closed

    def __reduce__(self):
        return (type(self), (self._path,))

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self.level_count} levels, {self.dimensions}"
        return f"{type(self).__name__}({self._path!r}: {state})"

    # --- what the slide is ---------------------------------------------------------------------
    @property
    def path(self) -> str:
        return self._path

    @property
    def format(self) -> str:
        """"hamamatsu", "aperio", "ome-tiff" or "generic-tiff" (OpenSlide's vendor names)."""
        return self._core.format

    @property
    def levels(self) -> tuple[Level, ...]:
        """Every level's geometry, tiling, compression and pixel type."""
        return self._levels

    @property
    def level_count(self) -> int:
        return len(self._levels)

    @property
    def dimensions(self) -> tuple[int, int]:
        """(width, height) of level 0."""
        return self.level_dimensions[0]

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        return tuple((l.width, l.height) for l in self._levels)

    @property
    def level_downsamples(self) -> tuple[float, ...]:
        return tuple(l.downsample for l in self._levels)

    @property
    def mpp(self) -> tuple[float | None, float | None]:
        """Microns per pixel of level 0, (x, y); None where the file does not say."""
        return tuple(self._core.mpp)

    @property
    def properties(self) -> Mapping[str, str]:
        """Metadata under OpenSlide's property names ("openslide.mpp-x", "aperio.AppMag", ...)."""
        if self._properties is None:
            self._properties = dict(self._core.properties)
        return self._properties

    @property
    def associated_images(self) -> Mapping[str, np.ndarray]:
        """Label, macro, thumbnail... as (H, W, 3) uint8 arrays, decoded on first access."""
        if self._associated is None:
            self._associated = _AssociatedImages(self)
        return self._associated

    def get_best_level_for_downsample(self, downsample: float) -> int:
        """The level with the largest downsample not above `downsample` (OpenSlide's rule)."""
        downsamples = self.level_downsamples
        if downsample < downsamples[0]:
            return 0
        for i in range(1, len(downsamples)):
            if downsample < downsamples[i]:
                return i - 1
        return len(downsamples) - 1

    # --- pixels --------------------------------------------------------------------------------
    def _level(self, level: int) -> Level:
        if not isinstance(level, (int, np.integer)) or isinstance(level, bool):
            raise TypeError(f"level must be an int, not {type(level).__name__}")
        if not 0 <= level < len(self._levels):
            raise IndexError(f"level {level} is not a level of this slide "
                             f"(0..{len(self._levels) - 1})")
        return self._levels[level]

    def level_location(self, location: tuple[int, int], level: int) -> tuple[int, int]:
        """Level-0 coordinates -> the coordinates in `level` that read_region starts at."""
        ds = self._level(level).downsample
        x, y = location
        return _to_level(x, ds), _to_level(y, ds)

    def read_region(self, location: tuple[int, int], level: int, size: tuple[int, int], *,
                    device: Any = "cpu", out: Any = None, threads: int = 0,
                    fill: int = 0) -> np.ndarray | CudaArray:
        """Reads a rectangle of one level into a new array (or into `out`).

        Args:
            location: (x, y) of the top-left pixel **in level-0 coordinates**, as OpenSlide
                takes it; any integers, negative or beyond the slide included. Where x or y
                divided by the level's downsample is fractional, the region starts at the level
                pixel that contains it (OpenSlide resamples between pixels there instead).
            level: the pyramid level to read from.
            size: (width, height) of the region **in pixels of `level`**.
            device: "cpu" (a NumPy array), "cuda" or "cuda:N" (a :class:`CudaArray`; torch,
                CuPy and JAX take it through DLPack without a copy).
            out: a preallocated array to read into instead: any DLPack producer or buffer (a
                NumPy array, a CuPy array, a torch tensor) of shape (height, width, channels)
                and the level's dtype, on `device`, with contiguous rows. Returned as given.
            threads: CPU threads that decode tiles (0: one per hardware thread).
            fill: the value of every sample outside the level (0: OpenSlide's transparent
                black, without the alpha channel).

        Returns:
            (height, width, channels) array, channels interleaved; RGB uint8 for RGB slides.

        Raises:
            SlideError: a subclass naming the file, level, tile and byte offset when the file
                is damaged (CorruptSlideError), unreadable (SlideIOError), or the request is
                invalid (InvalidArgumentError).
        """
        self._level(level)
        width, height = (int(v) for v in size)
        if width < 0 or height < 0:
            raise ValueError(f"size must be non-negative, got {tuple(size)}")
        x, y = self.level_location(location, level)
        return self.read_level_region(level, (x, y), (width, height), device=device, out=out,
                                      threads=threads, fill=fill)

    def read_regions(self, locations: Any, level: int, size: tuple[int, int], *,
                     device: Any = "cpu", out: Any = None, threads: int = 0, fill: int = 0,
                     cache: TileCache | None = None) -> np.ndarray | CudaArray:
        """Reads many regions of one size from one level into one (N, H, W, C) array.

        Each region equals :meth:`read_region` at the same location (edges and outside
        included), but every tile the batch touches is decoded once, on CPU threads and, into
        GPU memory, on nvJPEG as well; the GIL is released for the whole batch.

        Args:
            locations: N (x, y) top-left corners **in level-0 coordinates** (a sequence of
                pairs or an (N, 2) integer array).
            level: the pyramid level to read from.
            size: (width, height) of every region in pixels of `level`.
            device: "cpu" (NumPy), "cuda" or "cuda:N" (a :class:`CudaArray`, DLPack).
            out: a preallocated C-contiguous (N, H, W, C) array on `device` (NumPy, CuPy,
                torch...). Returned as given.
            threads: CPU threads that decode tiles (0: one per hardware thread).
            fill: the value of every sample outside the level.
            cache: a :class:`TileCache` that keeps decoded tiles for the next batches.

        Returns:
            (N, height, width, channels) array.
        """
        self._level(level)
        return self._read_regions(locations, level, size, device, out, threads, fill, cache, 0.0)

    def _read_regions(self, locations, level, size, device, out, threads, fill, cache, mpp):
        width, height = (int(v) for v in size)
        if width < 0 or height < 0:
            raise ValueError(f"size must be non-negative, got {tuple(size)}")
        if mpp < 0 or not math.isfinite(mpp):
            raise ValueError(f"mpp must be positive, got {mpp}")
        where = np.asarray(locations, dtype=np.int64)
        if where.size == 0:
            where = where.reshape(0, 2)
        if where.ndim != 2 or where.shape[1] != 2:
            raise ValueError(f"locations must be N (x, y) pairs, got shape {where.shape}")
        where = np.ascontiguousarray(where)
        core_cache = cache._core if cache is not None else None
        result = _core.read_regions(self._core, int(level), where, width, height,
                                    device=normalize(device), out=out,
                                    threads=default_threads(threads), fill=fill,
                                    cache=core_cache, mpp=mpp)
        return result if out is not None else wrap(result)

    def read_regions_at_mpp(self, locations: Any, mpp: float, size: tuple[int, int], *,
                            device: Any = "cpu", out: Any = None, threads: int = 0,
                            fill: int = 0,
                            cache: TileCache | None = None) -> np.ndarray | CudaArray:
        """As :meth:`read_regions`, at a resolution in microns per pixel instead of a level.

        Reads from the level with the largest downsample not coarser than `mpp`, then
        area-averages each output pixel's footprint (fixed-point weights, rounded half up: for
        an integer factor scikit-image's ``downscale_local_mean``, rounded). CPU and GPU give
        the same bytes. `size` is in pixels at `mpp`. Raises InvalidArgumentError when the
        slide does not say its mpp, or for an mpp finer than level 0's.
        """
        return self._read_regions(locations, 0, size, device, out, threads, fill, cache,
                                  float(mpp))

    def read_level_region(self, level: int, location: tuple[int, int], size: tuple[int, int],
                          *, device: Any = "cpu", out: Any = None, threads: int = 0,
                          fill: int = 0) -> np.ndarray | CudaArray:
        """As :meth:`read_region`, with `location` in the **level's own pixel coordinates**
        (what tile-aligned readers such as ``slidestream.dask`` use)."""
        self._level(level)
        x, y = (int(v) for v in location)
        width, height = (int(v) for v in size)
        if width < 0 or height < 0:
            raise ValueError(f"size must be non-negative, got {tuple(size)}")
        result = self._core.read_region(int(level), x, y, width, height,
                                        device=normalize(device), out=out,
                                        threads=default_threads(threads), fill=fill)
        return result if out is not None else wrap(result)

    def read_level(self, level: int, *, device: Any = "cpu", out: Any = None,
                   threads: int = 0) -> np.ndarray | CudaArray:
        """Reads a whole level into a new array (or into `out`), on the CPU or a GPU.

        On a GPU the compressed tiles go straight to device memory and decode there where a GPU
        decoder exists (nvJPEG, nvCOMP, nvJPEG2000), on CPU threads otherwise; the pixels equal
        a CPU read bit for bit. `device`, `out` and `threads` as for :meth:`read_region`.
        Returns a (height, width, channels) array.
        """
        self._level(level)
        result = self._core.read_level(int(level), device=normalize(device), out=out,
                                       threads=default_threads(threads))
        return result if out is not None else wrap(result)

    def read_tile(self, level: int, tx: int, ty: int, *,
                  device: Any = "cpu") -> np.ndarray | CudaArray:
        """One whole stored tile (column tx, row ty); edge tiles include the file's padding."""
        self._level(level)
        return wrap(self._core.read_tile(int(level), int(tx), int(ty), device=normalize(device),
                                         threads=default_threads(0)))

    def get_thumbnail(self, size: tuple[int, int]):
        """A PIL RGB image no larger than `size`, made as openslide-python makes it."""
        from PIL import Image

        downsample = max(dim / thumb for dim, thumb in zip(self.dimensions, size))
        level = self.get_best_level_for_downsample(downsample)
        rgb = self.read_level(level)
        if rgb.shape[2] == 1:
            rgb = np.repeat(rgb, 3, axis=2)
        thumb = Image.fromarray(np.ascontiguousarray(rgb[..., :3]))
        thumb.thumbnail(size, Image.Resampling.LANCZOS)
        return thumb


class TileCache:
    """A bounded cache of decoded tiles for :meth:`Slide.read_regions` (and the patch loader):
    at most `capacity_bytes` of decoded pixels per device, least recently used first out, kept
    per slide, level and tile. Host reads keep tiles in host memory; GPU reads in a buffer of
    `capacity_bytes` reserved on the GPU at its first cached read. Share one between threads and
    slides; none is global."""

    def __init__(self, capacity_bytes: int) -> None:
        if capacity_bytes < 0:
            raise ValueError("capacity_bytes must be non-negative")
        self._core = _core.TileCache(int(capacity_bytes))

    @property
    def capacity_bytes(self) -> int:
        return self._core.capacity_bytes

    def __reduce__(self):
        # Another process gets an empty cache of the same size (tiles stay where they were).
        return (type(self), (self.capacity_bytes,))

    def stats(self) -> dict[str, int]:
        """hits, misses, evictions, entries, used_bytes (host) and device_hits, device_misses,
        device_entries, device_used_bytes (GPU memory), each never above the capacity."""
        return dict(self._core.stats())

    def clear(self) -> None:
        self._core.clear()

    def __repr__(self) -> str:
        s = self.stats()
        return (f"TileCache({s['used_bytes']}/{self.capacity_bytes} bytes, {s['entries']} tiles, "
                f"{s['hits']} hits, {s['misses']} misses)")


def _to_level(coordinate: int, downsample: float) -> int:
    # OpenSlide divides level-0 coordinates by the downsample; a result within 1e-6 of an integer
    # is that integer (x * ds in floating point seldom lands exactly).
    value = coordinate / downsample
    nearest = round(value)
    return int(nearest) if abs(value - nearest) < 1e-6 else math.floor(value)


def open_slide(path: str | os.PathLike[str]) -> Slide:
    """Opens a slide (as openslide.open_slide does). Raises a SlideError subclass when the file
    is not a slide we read (NotASlideError), missing (SlideNotFoundError), or damaged."""
    return Slide(path)
