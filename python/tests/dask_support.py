"""Shared by the Dask tests: a 2-process LocalCluster, small test slides, the CLI as the
single-process reference, and file-for-file comparison of outputs."""

from __future__ import annotations

import os
import pathlib
import subprocess

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SHARED = pathlib.Path(os.environ.get("SLIDESTREAM_TESTDATA", REPO.parent / "shared" / "testdata"))
CLI = pathlib.Path(os.environ.get("SLIDESTREAM_CLI", REPO / "build" / "slidestream"))

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")


def make_cluster(workers: int = 2):
    """`workers` worker processes of one thread each (CI has 2 cores)."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=40)
    return cluster, Client(cluster)


def write_pyramid(path: pathlib.Path, base: np.ndarray, tile: int, **kw) -> pathlib.Path:
    """A tiled TIFF pyramid (tifffile: an independent writer) of `base` and 2x reductions."""
    import tifffile

    levels = [base]
    while min(levels[-1].shape[:2]) >= 2 * tile:
        levels.append(levels[-1][::2, ::2].copy())
    with tifffile.TiffWriter(path) as tif:
        for i, level in enumerate(levels):
            tif.write(level, tile=(tile, tile), photometric="rgb", subfiletype=1 if i else 0,
                      metadata=None, **kw)
    return path


def scan_pixels() -> np.ndarray:
    """Level 0 of the real scan (tissue, not noise), decoded by tifffile where imagecodecs is
    there for its JPEG tiles, else by OpenSlide (the GPU machine has no imagecodecs)."""
    path = SHARED / "cmu-1-small-region.svs"
    if not path.exists():
        pytest.skip(f"{path} missing")
    try:
        import imagecodecs  # noqa: F401
        import tifffile

        return tifffile.imread(path, level=0)
    except ImportError:
        openslide = pytest.importorskip("openslide")
        with openslide.OpenSlide(str(path)) as slide:
            rgba = slide.read_region((0, 0), 0, slide.dimensions)
        return np.asarray(rgba)[..., :3].copy()


def cli_process(slide, out, *options) -> None:
    if not CLI.exists():
        pytest.skip(f"{CLI} not built")
    subprocess.run([str(CLI), "process", str(slide), str(out), *map(str, options)], check=True,
                   capture_output=True)


def files_under(root: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def stamps_under(root: pathlib.Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*"))}
