"""DICOM WSI through the Python package (docs/dicom.md): a series opens from its directory or any
of its files, with OpenSlide 4.0.1's vendor and properties; the openslide drop-in's read_region
equals OpenSlide's on every level of every series (lossy JPEG 2000 within one step: OpenJPEG
releases round its wavelet differently). The series are the ctest fixtures
(tests/fixtures/make_dicom_fixtures.py, in build/tests/fixtures/dicom)."""
import json

import numpy as np
import pytest

import slidestream
import slidestream.openslide as ours

from conftest import BUILT_FIXTURES

openslide = pytest.importorskip("openslide")

MANIFEST = BUILT_FIXTURES / "dicom" / "manifest.json"
SERIES = json.loads(MANIFEST.read_text())["slides"] if MANIFEST.exists() else []


@pytest.mark.skipif(not SERIES, reason="no DICOM fixtures (run ctest: make_dicom_fixtures)")
@pytest.mark.parametrize("series", SERIES, ids=[s["name"] for s in SERIES])
def test_series_opens_from_directory_and_file_and_equals_openslide(series):
    directory = BUILT_FIXTURES / "dicom" / series["name"]
    first = directory / series["open"]
    assert ours.OpenSlide.detect_format(directory) == "dicom"
    with slidestream.Slide(directory) as by_dir, slidestream.Slide(first) as by_file:
        assert by_dir.format == by_file.format == "dicom"
        assert by_dir.properties == by_file.properties
    theirs = openslide.OpenSlide(str(first))
    mine = ours.OpenSlide(directory)
    assert mine.level_dimensions == theirs.level_dimensions
    assert mine.properties["openslide.mpp-x"] == theirs.properties["openslide.mpp-x"]
    assert mine.properties["dicom.SeriesInstanceUID"] == theirs.properties["dicom.SeriesInstanceUID"]
    assert set(mine.associated_images) == set(theirs.associated_images)
    lossy = series["name"] == "dcm-jp2k-ict"
    for level, (w, h) in enumerate(theirs.level_dimensions):
        d = round(theirs.level_downsamples[level])  # 1, 2, 4, 8: whole level pixels
        location = (w // 3 * d, h // 3 * d)
        size = (min(300, w), min(260, h))
        a = np.asarray(mine.read_region(location, level, size), dtype=int)
        b = np.asarray(theirs.read_region(location, level, size), dtype=int)
        # Where OpenSlide draws nothing (the sparse level's missing tiles: transparent), the
        # drop-in gives its fill, black; elsewhere the pixels.
        drawn = b[..., 3] == 255
        assert np.all(a[~drawn][:, :3] == 0), (series["name"], level)
        diff = np.abs(a[drawn] - b[drawn])
        assert diff.max() <= (1 if lossy else 0), (series["name"], level)
