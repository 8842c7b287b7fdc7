"""write_zarr from NumPy (and PyTorch where installed) read back exactly by zarr-python and
tensorstore; read_zarr; convert against the slide's own levels; process (the tiled pipeline)
to disk and to memory."""

from __future__ import annotations

import json

import numpy as np
import pytest

import slidestream

zarr = pytest.importorskip("zarr")


def _logical(image: np.ndarray, layout: str = "yxc") -> np.ndarray:
    """What a Zarr reader sees of an (y, x[, c]) image written with `layout`: the image itself
    for "yxc" (the default of plain arrays), (c, y, x) for "cyx" (OME-Zarr)."""
    return np.moveaxis(image, -1, 0) if image.ndim == 3 and layout == "cyx" else image


def _tensorstore_read(path, zarr_format):
    ts = pytest.importorskip("tensorstore")
    driver = "zarr3" if zarr_format == 3 else "zarr"
    return ts.open({"driver": driver, "kvstore": {"driver": "file", "path": str(path)}},
                   open=True).result().read().result()


CASES = [
    # (shape, dtype, chunks, zarr_format, shard, codec)
    ((301, 517, 3), np.uint8, 128, 3, None, "none"),
    ((301, 517, 3), np.uint8, (64, 96), 2, None, "zstd"),
    ((300, 500, 3), np.uint8, 64, 3, 128, "blosc-lz4"),
    ((257, 129), np.uint16, 64, 3, None, "zstd"),
    ((257, 129), np.float32, 100, 2, None, "none"),
    ((90, 70, 2), np.uint32, 32, 3, 64, "zstd"),
]


@pytest.mark.parametrize("layout", ["yxc", "cyx"])
@pytest.mark.parametrize("shape, dtype, chunks, zarr_format, shard, codec", CASES)
def test_write_zarr_from_numpy_reads_back_exactly(tmp_path, shape, dtype, chunks, zarr_format,
                                                  shard, codec, layout):
    rng = np.random.default_rng(11)
    image = (rng.random(shape, dtype=np.float32) * 1000).astype(dtype)
    path = tmp_path / "a.zarr"
    report = slidestream.write_zarr(image, path, chunks=chunks, zarr_format=zarr_format,
                                    shard=shard, codec=codec, layout=layout)
    assert report["bytes_written"] > 0
    expected = _logical(image, layout)
    assert np.array_equal(zarr.open_array(str(path), mode="r")[...], expected)
    assert np.array_equal(_tensorstore_read(path, zarr_format), expected)
    assert np.array_equal(slidestream.read_zarr(path), image)
    if image.ndim == 3:  # a 2-D array has no channel axis to place
        assert slidestream.zarr_info(path)["layout"] == layout


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_interleaved_layout_is_the_seeds_array_hw3_with_chunks_nn3(tmp_path, zarr_format):
    # The seed writes (H, W, 3) arrays with (n, n, 3) chunks (dask.array.to_zarr): the default.
    image = np.random.default_rng(5).integers(0, 255, (300, 200, 3), dtype=np.uint8)
    path = tmp_path / "seed.zarr"
    slidestream.write_zarr(image, path, chunks=128, zarr_format=zarr_format)
    a = zarr.open_array(str(path), mode="r")
    assert a.shape == (300, 200, 3) and a.chunks == (128, 128, 3)
    assert np.array_equal(a[...], image)
    assert np.array_equal(_tensorstore_read(path, zarr_format), image)
    if zarr_format == 2:  # each chunk file is the chunk's bytes as they are in memory
        chunk = (path / "0.0.0").read_bytes()
        assert chunk == image[:128, :128].tobytes()


def test_write_zarr_refuses_an_unknown_layout(tmp_path):
    with pytest.raises((ValueError, slidestream.InvalidArgumentError), match="layout|yxc"):
        slidestream.write_zarr(np.zeros((8, 8, 3), np.uint8), tmp_path / "x.zarr", layout="xyc")


def test_write_zarr_takes_a_slice_with_a_row_pitch_and_attributes(tmp_path):
    big = np.random.default_rng(1).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    window = big[20:170, 33:250]
    slidestream.write_zarr(window, tmp_path / "w.zarr", chunks=64,
                           attributes={"note": "window"})
    a = zarr.open_array(str(tmp_path / "w.zarr"), mode="r")
    assert np.array_equal(a[...], _logical(window))
    assert a.attrs["note"] == "window"
    assert slidestream.zarr_info(tmp_path / "w.zarr")["attributes"]["note"] == "window"


def test_write_zarr_from_a_torch_tensor(tmp_path):
    torch = pytest.importorskip("torch")
    t = torch.randint(0, 255, (123, 77, 3), dtype=torch.uint8)
    slidestream.write_zarr(t, tmp_path / "t.zarr", chunks=32)
    assert np.array_equal(zarr.open_array(str(tmp_path / "t.zarr"), mode="r")[...],
                          _logical(t.numpy()))


def test_write_zarr_refuses_an_existing_path_unless_told(tmp_path):
    image = np.zeros((10, 10), np.uint8)
    slidestream.write_zarr(image, tmp_path / "x.zarr")
    with pytest.raises(slidestream.SlideExistsError):
        slidestream.write_zarr(image, tmp_path / "x.zarr")
    slidestream.write_zarr(image + 1, tmp_path / "x.zarr", overwrite=True)
    assert slidestream.read_zarr(tmp_path / "x.zarr")[0, 0] == 1


def test_convert_writes_every_level_as_ome_zarr(sample_slide, boxes_slide, tmp_path):
    for path, fmt in ((boxes_slide, 2), (sample_slide, 3)):
        out = tmp_path / (path.stem + ".ome.zarr")
        calls = []
        summary = slidestream.convert(path, out, chunk=128, zarr_format=fmt,
                                      progress=lambda done, total: calls.append((done, total)))
        with slidestream.open_slide(path) as s:
            assert summary["levels"] == s.level_count
            assert calls and calls[-1][0] == calls[-1][1] == summary["bytes"]
            group = zarr.open_group(str(out), mode="r")
            for i in range(s.level_count):
                assert np.array_equal(group[str(i)][...], _logical(s.read_level(i), "cyx")), (path, i)
            attrs = dict(group.attrs)
            multiscales = attrs.get("ome", attrs).get("multiscales")
            assert len(multiscales[0]["datasets"]) == s.level_count


def test_process_sobel_to_disk_equals_process_to_memory_and_skimage(sample_slide, tmp_path):
    filters = pytest.importorskip("skimage.filters")
    with slidestream.open_slide(sample_slide) as s:
        out = tmp_path / "sobel.zarr"
        summary = slidestream.process(s, out, ops=["sobel"], tile=256, progress=False)
        assert summary["tiles"] > 1
        in_memory = slidestream.process(s, None, ops=["sobel"], tile=256, progress=False)
        group = zarr.open_group(str(out), mode="r")
        assert np.array_equal(group["0"][...], _logical(in_memory, "cyx"))
        rgb = s.read_level(0).astype(np.float64) / 255
        reference = np.stack([filters.sobel(rgb[..., c]) for c in range(3)], axis=-1)
        assert in_memory.dtype == np.float32
        assert np.max(np.abs(in_memory - reference)) < 1e-5
        tiled_equals_global = slidestream.process(s, None, ops=["grey", "sobel"], mode="global",
                                                  progress=False)
        assert np.array_equal(tiled_equals_global,
                              slidestream.process(s, None, ops=["grey", "sobel"], tile=200,
                                                  progress=False))


def test_process_progress_reaches_every_tile(sample_slide):
    seen = []
    slidestream.process(sample_slide, None, ops=["grey"], tile=512,
                        progress=lambda done, total, *rest: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1] > 0


def test_process_reraises_an_exception_from_the_progress_callback(sample_slide):
    def stop(*_):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        slidestream.process(sample_slide, None, ops=["grey"], tile=256, progress=stop)


def test_many_writers_one_array_metadata_only_after_finish(tmp_path):
    image = np.random.default_rng(4).integers(0, 255, (300, 260, 3), dtype=np.uint8)
    path = tmp_path / "many.zarr"
    kw = dict(chunks=64, shard=128)
    first = slidestream.create_zarr(path, image.shape, "uint8", **kw)
    first.write_region(0, 0, image[:128])
    first.finish_chunks()
    second = slidestream.attach_zarr(path, image.shape, np.uint8, **kw)
    second.write_region(128, 0, image[128:256])
    second.write_region(256, 0, image[256:])
    second.finish_chunks()
    assert not slidestream.zarr_is_complete(path)
    slidestream.attach_zarr(path, image.shape, "uint8", **kw).finish()
    assert slidestream.zarr_is_complete(path)
    assert np.array_equal(zarr.open_array(str(path), mode="r")[...], _logical(image))
    with pytest.raises(slidestream.SlideExistsError):
        slidestream.attach_zarr(path, image.shape, "uint8", **kw)
    with pytest.raises(slidestream.SlideNotFoundError):
        slidestream.attach_zarr(tmp_path / "none.zarr", image.shape, "uint8", **kw)
