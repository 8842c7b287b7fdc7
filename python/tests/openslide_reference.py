"""OpenSlide (openslide-python) as the reference, in a worker process of its own.

openslide-python loads libopenslide once per process: the openslide-bin wheel's 4.0.1 when that
wheel is installed, Debian's libopenslide0 (3.4.1) otherwise. Each version therefore answers from
its own spawned process; for 3.4.1 the worker hides openslide_bin before importing openslide.
Images come back as (mode, size, bytes).
"""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor

VERSIONS = ("3.4.1", "4.0.1")


def _init(version: str) -> None:
    if version == "3.4.1":
        sys.modules["openslide_bin"] = None  # type: ignore[assignment]
    import openslide

    if openslide.__library_version__ != version:
        raise RuntimeError(f"wanted OpenSlide {version}, loaded {openslide.__library_version__}")


def _image(img):
    return (img.mode, img.size, img.tobytes())


def describe(path: str, downsamples: list[float]) -> dict:
    import openslide

    try:
        with openslide.OpenSlide(path) as s:
            return {
                "level_count": s.level_count,
                "dimensions": s.dimensions,
                "level_dimensions": s.level_dimensions,
                "level_downsamples": s.level_downsamples,
                "properties": dict(s.properties),
                "associated": {k: _image(v) for k, v in s.associated_images.items()},
                "best": [s.get_best_level_for_downsample(d) for d in downsamples],
            }
    except openslide.OpenSlideError as e:
        return {"error": f"{type(e).__name__}: {e}"}


def regions(path: str, requests: list[tuple]) -> list:
    import openslide

    with openslide.OpenSlide(path) as s:
        return [_image(s.read_region(loc, level, size)) for loc, level, size in requests]


def thumbnail(path: str, size: tuple[int, int]):
    import openslide

    with openslide.OpenSlide(path) as s:
        return _image(s.get_thumbnail(size))


def library_available(version: str) -> str | None:
    """None when this version can be loaded, else why not."""
    try:
        if version == "4.0.1":
            import openslide_bin  # noqa: F401
        else:  # Debian's libopenslide0; openslide_bin here would answer for it with 4.0.1
            import ctypes

            ctypes.CDLL("libopenslide.so.0")
        import openslide  # noqa: F401
    except Exception as e:  # ImportError, OSError (no libopenslide)
        return f"{type(e).__name__}: {e}"
    return None


class Reference:
    """One OpenSlide version, answering in its own process."""

    def __init__(self, version: str) -> None:
        self.version = version
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init, initargs=(version,))

    def describe(self, path, downsamples=()):
        return self._pool.submit(describe, str(path), list(downsamples)).result()

    def regions(self, path, requests):
        return self._pool.submit(regions, str(path), list(requests)).result()

    def thumbnail(self, path, size):
        return self._pool.submit(thumbnail, str(path), tuple(size)).result()

    def close(self) -> None:
        self._pool.shutdown()
