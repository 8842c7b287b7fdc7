"""MIRAX through the Python package after OpenSlide 4.0.1 has read the same slide in the same
process: on the lent GPU machine that sequence killed the process (SIGSEGV in the Slidedat.ini
number parse, an istream extraction; bench/RESULTS.md 2026-12-06), while the CLI and a Python
process that never loaded OpenSlide opened the slide. Each case runs in a child process, so that
a crash fails the test instead of ending the run. The slides are the ctest fixtures
(tests/fixtures/make_mirax_fixtures.py, in build/tests/fixtures/mirax)."""
import json
import subprocess
import sys

import pytest

from conftest import BUILT_FIXTURES

MANIFEST = BUILT_FIXTURES / "mirax" / "manifest.json"
SLIDES = [f["name"] for f in json.loads(MANIFEST.read_text())["files"]] if MANIFEST.exists() else []

# OpenSlide opens the slide and paints every level whole (as bench/formats.py's check does), then
# slidestream opens it, reads a region and compares it with OpenSlide's where OpenSlide paints.
CHILD = r"""
import sys
import numpy as np
import openslide
import slidestream.openslide as ours

path = sys.argv[1]
theirs = openslide.OpenSlide(path)
assert openslide.__library_version__.startswith("4."), openslide.__library_version__
for level, (w, h) in enumerate(theirs.level_dimensions):
    theirs.read_region((0, 0), level, (w, h))
mine = ours.OpenSlide(path)
assert float(mine.properties["openslide.mpp-x"]) == float(theirs.properties["openslide.mpp-x"])
w, h = theirs.dimensions
a = np.asarray(mine.read_region((w // 4, h // 4), 0, (200, 150)))
b = np.asarray(theirs.read_region((w // 4, h // 4), 0, (200, 150)))
drawn = b[..., 3] == 255  # where OpenSlide paints a camera image (missing ones stay transparent)
assert drawn.any() and np.array_equal(a[drawn], b[drawn])
print("ok")
"""


def _openslide_4():
    openslide = pytest.importorskip("openslide")
    if not openslide.__library_version__.startswith("4."):
        pytest.skip(f"OpenSlide {openslide.__library_version__} reads no MIRAX like 4.0.1")


@pytest.mark.skipif(not SLIDES, reason="no MIRAX fixtures (run ctest: make_mirax_fixtures)")
@pytest.mark.parametrize("name", SLIDES)
def test_mirax_opens_after_openslide_read_it_in_the_same_process(name):
    _openslide_4()
    done = subprocess.run([sys.executable, "-X", "faulthandler", "-c", CHILD,
                           str(BUILT_FIXTURES / "mirax" / name)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stdout[-2000:], done.stderr[-3000:])
    assert done.stdout.strip().endswith("ok")
