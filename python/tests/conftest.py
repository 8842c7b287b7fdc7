"""Shared fixtures: where the test slides are, and OpenSlide as the reference.

Slides: every file in ../shared/testdata (beside the repository), and the generated fixtures that
ctest's `fixtures` step writes into build/tests/fixtures (manifest.json says which OpenSlide can
judge). Where that folder is missing (pytest run on its own), a few small pyramids are made here
with tifffile instead.
"""

from __future__ import annotations

import json
import os
import pathlib

import numpy as np
import pytest

import openslide_reference

REPO = pathlib.Path(__file__).resolve().parents[2]
SHARED = pathlib.Path(os.environ.get("SLIDESTREAM_TESTDATA", REPO.parent / "shared" / "testdata"))
BUILT_FIXTURES = pathlib.Path(os.environ.get("SLIDESTREAM_FIXTURES",
                                             REPO / "build" / "tests" / "fixtures"))
GOOD_SHARED = ["cmu-1-small-region.svs", "boxes.tiff", "small.svs"]


def _made_fixtures(root: pathlib.Path) -> list[pathlib.Path]:
    """Small tifffile pyramids (used only when the ctest fixtures are absent)."""
    import tifffile

    rng = np.random.default_rng(7)
    base = rng.integers(0, 256, (701, 933, 3), dtype=np.uint8)
    levels = [base, base[::2, ::2].copy(), base[::4, ::4].copy()]
    out = []
    for name, kw in (("made-deflate-256.tif", {"compression": "zlib"}),
                     ("made-jpeg-128.tif", {"compression": "jpeg"}),
                     ("made-none-128.tif", {})):
        path = root / name
        tile = 256 if "256" in name else 128
        with tifffile.TiffWriter(path) as tif:
            for i, level in enumerate(levels):
                tif.write(level, tile=(tile, tile), photometric="rgb",
                          subfiletype=1 if i else 0, metadata=None, **kw)
        out.append(path)
    return out


def openslide_slides(tmp_root: pathlib.Path | None = None) -> list[pathlib.Path]:
    slides = [SHARED / name for name in GOOD_SHARED if (SHARED / name).exists()]
    manifest = BUILT_FIXTURES / "manifest.json"
    if manifest.exists():
        files = json.loads(manifest.read_text())["files"]
        slides += [BUILT_FIXTURES / f["name"] for f in files if f.get("openslide")]
    elif tmp_root is not None:
        slides += _made_fixtures(tmp_root)
    return slides


@pytest.fixture(scope="session")
def slides(tmp_path_factory) -> list[pathlib.Path]:
    found = openslide_slides(tmp_path_factory.mktemp("made"))
    assert found, f"no test slides in {SHARED} or {BUILT_FIXTURES}"
    return found


@pytest.fixture(scope="session")
def sample_slide() -> pathlib.Path:
    path = SHARED / "cmu-1-small-region.svs"
    if not path.exists():
        pytest.skip(f"{path} missing (../shared/testdata beside the repository)")
    return path


@pytest.fixture(scope="session")
def boxes_slide() -> pathlib.Path:
    path = SHARED / "boxes.tiff"
    if not path.exists():
        pytest.skip(f"{path} missing")
    return path


_references: dict[str, openslide_reference.Reference] = {}


@pytest.fixture(scope="session", params=openslide_reference.VERSIONS)
def reference(request):
    version = request.param
    why = openslide_reference.library_available(version)
    if why:
        pytest.skip(f"OpenSlide {version} not available: {why}")
    ref = openslide_reference.Reference(version)
    yield ref
    ref.close()


def has_gpu() -> bool:
    import slidestream

    if not slidestream.has_cuda:
        return False
    return bool(json.loads(slidestream.describe_system(True)).get("gpus"))


requires_gpu = pytest.mark.skipif("not __import__('conftest').has_gpu()",
                                  reason="no usable GPU (or a build without CUDA)")
