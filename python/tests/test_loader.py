"""PatchLoader: every grid patch exactly once per epoch, in an order fixed by the seed; patches
equal read_region at their location (and read_regions_at_mpp); float batches equal NumPy's
(v / 255 - mean) / std (float16 rounded as NumPy rounds); a damaged tile raises naming the slide,
level and tile, or with on_error="skip" drops only its patches and reports them."""

from __future__ import annotations

import shutil
from collections import Counter

import numpy as np
import pytest

import slidestream
from conftest import BUILT_FIXTURES, SHARED, requires_gpu


@pytest.fixture(scope="module")
def two_slides():
    paths = [SHARED / "cmu-1-small-region.svs", SHARED / "small.svs"]
    for p in paths:
        if not p.exists():
            pytest.skip(f"{p} missing")
    return paths


def _grids(paths, size=128):
    return [slidestream.patch_grid(p, size, 100) for p in paths]


def _seen(loader):
    out = []
    for batch in loader:
        assert len(batch.slides) == len(batch.locations) == batch.patches.shape[0]
        out += [(int(s), int(x), int(y)) for s, (x, y) in zip(batch.slides, batch.locations)]
    return out


def test_every_grid_patch_once_per_epoch_in_a_seeded_order(two_slides):
    grids = _grids(two_slides)
    expected = Counter((i, int(x), int(y)) for i, g in enumerate(grids) for x, y in g)
    make = lambda seed: slidestream.PatchLoader(two_slides, grids, size=128, batch_size=37,  # noqa: E731
                                                device="cpu", shuffle=True, seed=seed)
    loader = make(5)
    first, second = _seen(loader), _seen(loader)
    assert Counter(first) == expected and Counter(second) == expected
    assert first != second  # a new permutation each epoch
    again = make(5)
    assert _seen(again) == first  # the same seed, the same order
    assert _seen(make(6)) != first
    plain = slidestream.PatchLoader(two_slides, grids, size=128, batch_size=37, device="cpu")
    order = _seen(plain)
    assert Counter(order) == expected
    assert {s for s, _, _ in order[:37]} == {0, 1}  # slides interleaved in every batch


def test_patches_equal_read_region_at_their_location(two_slides):
    grids = _grids(two_slides)
    loader = slidestream.PatchLoader(two_slides, grids, size=128, batch_size=16, device="cpu",
                                     shuffle=True, seed=1, prefetch=3)
    slides = [slidestream.open_slide(p) for p in two_slides]
    for n, batch in enumerate(loader):
        for k in range(0, len(batch.slides), 5):
            x, y = batch.locations[k]
            expected = slides[batch.slides[k]].read_region((int(x), int(y)), 0, (128, 128))
            np.testing.assert_array_equal(batch.patches[k], expected)
        if n == 4:
            break


def test_mpp_loader_equals_read_regions_at_mpp(two_slides):
    sampler = slidestream.random_sampler(20, 64, mpp=1.0)
    loader = slidestream.PatchLoader(two_slides[:1], sampler=sampler, size=64, mpp=1.0,
                                     batch_size=8, device="cpu", seed=3)
    slide = slidestream.open_slide(two_slides[0])
    batches = list(loader)
    assert sum(len(b.slides) for b in batches) == 20
    for b in batches:
        np.testing.assert_array_equal(b.patches,
                                      slide.read_regions_at_mpp(b.locations, 1.0, (64, 64)))
    # A new epoch draws new locations; the same seed and epoch draw the same.
    loader.set_epoch(0)
    assert np.array_equal(list(loader)[0].locations, batches[0].locations)
    assert not np.array_equal(list(loader)[0].locations, batches[0].locations)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_float_batches_equal_numpy_normalization(two_slides, dtype):
    grid = _grids(two_slides[:1])[0][:20]
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    raw = next(iter(slidestream.PatchLoader(two_slides[:1], grid, size=128, batch_size=20,
                                            device="cpu")))
    got = next(iter(slidestream.PatchLoader(two_slides[:1], grid, size=128, batch_size=20,
                                            device="cpu", dtype=dtype, normalize=(mean, std))))
    x = raw.patches.astype(np.float32) / np.float32(255)
    expected = ((x - np.float32(mean)) / np.float32(std)).astype(dtype)
    assert got.patches.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got.patches, expected)


def test_a_damaged_tile_raises_or_is_skipped_and_reported(tmp_path):
    source = BUILT_FIXTURES / "vips-jpeg90-256.tif"
    if not source.exists():
        pytest.skip("ctest fixtures not built")
    path = tmp_path / "damaged.tif"
    shutil.copy(source, path)
    slide = slidestream.open_slide(path)
    tifffile = pytest.importorskip("tifffile")

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        across = -(-page.imagewidth // page.tilewidth)
        offset, count = page.dataoffsets[across + 1], page.databytecounts[across + 1]
    with open(path, "r+b") as f:
        f.seek(offset + count // 2)
        f.write(b"\xff" * 64)
    coords = np.array([[0, 0], [300, 300], [600, 0], [10, 600], [100, 280]])
    loader = slidestream.PatchLoader([path], coords, size=200, batch_size=5, device="cpu")
    with pytest.raises(slidestream.CorruptSlideError, match=f"tile {across + 1}"):
        list(loader)
    skipping = slidestream.PatchLoader([path], coords, size=200, batch_size=5, device="cpu",
                                       on_error="skip")
    (batch,) = list(skipping)
    bad = {(x, y) for _, x, y, _ in batch.skipped}
    assert bad == {(300, 300), (100, 280)}  # the patches over tile (1, 1), 256-px tiles
    assert all(f"tile {across + 1}" in message for *_, message in batch.skipped)
    assert [tuple(p) for p in batch.locations.tolist()] == [(0, 0), (600, 0), (10, 600)]
    for k, (x, y) in enumerate(batch.locations):
        np.testing.assert_array_equal(batch.patches[k],
                                      slide.read_region((int(x), int(y)), 0, (200, 200)))


def test_torch_dataset_yields_tensors(two_slides):
    torch = pytest.importorskip("torch")
    grid = _grids(two_slides[:1])[0][:10]
    loader = slidestream.PatchLoader(two_slides[:1], grid, size=64, batch_size=4, device="cpu")
    batches = list(torch.utils.data.DataLoader(loader.torch_dataset(), batch_size=None))
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    assert isinstance(batches[0][0], torch.Tensor)


def test_host_copies_of_batches_keep_shape_and_dtype():
    from slidestream import _core

    a = np.arange(2 * 3 * 4 * 3).astype(np.float16).reshape(2, 3, 4, 3)
    b = _core.to_host(a)
    assert b.shape == a.shape and b.dtype == np.float16 and np.array_equal(a, b)
    with pytest.raises(slidestream.InvalidArgumentError, match="contiguous"):
        _core.to_host(a[:, ::2])


@requires_gpu
@pytest.mark.parametrize("dtype", ["uint8", "float16"])
def test_gpu_loader_equals_cpu_loader(two_slides, dtype):
    grids = _grids(two_slides)
    kw = dict(size=128, batch_size=32, shuffle=True, seed=2, dtype=dtype,
              normalize=((0.5, 0.5, 0.5), (0.25, 0.25, 0.25)) if dtype != "uint8" else None)
    cpu = list(slidestream.PatchLoader(two_slides, grids, device="cpu", **kw))
    gpu = list(slidestream.PatchLoader(two_slides, grids, device="cuda", cache_bytes=1 << 28,
                                       **kw))
    assert len(cpu) == len(gpu)
    for a, b in zip(cpu, gpu):
        np.testing.assert_array_equal(a.locations, b.locations)
        np.testing.assert_array_equal(b.patches.get(), a.patches)


def test_a_loader_pickles_for_worker_processes(two_slides):
    import pickle

    loader = slidestream.PatchLoader(two_slides[:1], sampler=slidestream.random_sampler(6, 64),
                                     size=64, batch_size=3, device="cpu", cache_bytes=1 << 20,
                                     seed=4)
    copy = pickle.loads(pickle.dumps(loader))
    assert copy.cache.capacity_bytes == 1 << 20
    a, b = list(loader), list(copy)
    assert [x.locations.tolist() for x in a] == [x.locations.tolist() for x in b]


def test_torch_dataset_pickles_for_spawned_workers(two_slides):
    torch = pytest.importorskip("torch")
    import pickle

    loader = slidestream.PatchLoader(two_slides, slidestream.random_sampler(4, 64), size=64,
                                     batch_size=2, device="cpu")
    back = pickle.loads(pickle.dumps(loader.torch_dataset()))
    assert isinstance(back, torch.utils.data.IterableDataset)


def test_importing_slidestream_does_not_import_torch():
    # torch imported while slidestream is being imported aborted the interpreter on the GPU
    # machine: the torch wrapper is made at first use.
    import subprocess
    import sys

    code = "import sys, slidestream; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
