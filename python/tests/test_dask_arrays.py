"""slidestream.dask on the CPU: a slide level as a Dask array (equal to the slide's pixels as
OpenSlide reads them), map_overlap Sobel equal to our tiled Sobel bit for bit, and to_zarr from
two worker processes equal to one writer, with no metadata until every block landed."""

from __future__ import annotations

import pickle
import time

import numpy as np
import pytest

from dask_support import SHARED, cli_process, files_under, make_cluster, scan_pixels, write_pyramid

import dask
import dask.array as da

import slidestream
import slidestream.dask as ssd


@pytest.fixture(scope="module")
def client():
    cluster, client = make_cluster(2)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def pyramid(tmp_path_factory):
    """A deflate pyramid, 256² tiles, whose level 0 is not a multiple of the tile."""
    root = tmp_path_factory.mktemp("dask_arrays")
    return write_pyramid(root / "scan-deflate-256.tif", scan_pixels()[:1100, :1700], 256,
                         compression="zlib")


@pytest.fixture(scope="module")
def svs():
    path = SHARED / "cmu-1-small-region.svs"
    if not path.exists():
        pytest.skip(f"{path} missing")
    return path


def openslide_level(path, level):
    openslide = pytest.importorskip("openslide")
    with openslide.OpenSlide(str(path)) as s:
        w, h = s.level_dimensions[level]
        ds = s.level_downsamples[level]
        rgba = np.asarray(s.read_region((0, 0), level, (w, h)))
        assert ds >= 1
    return rgba[..., :3]


def test_read_level_equals_openslide_on_two_worker_processes(client, pyramid, svs):
    for path in (svs, pyramid):
        with slidestream.Slide(path) as slide:
            levels = slide.level_count
        for level in range(levels):
            arr = ssd.read_level(path, level)
            expected = openslide_level(path, level)
            assert arr.shape == expected.shape and arr.dtype == np.uint8
            got = client.compute(arr).result()
            np.testing.assert_array_equal(got, expected, err_msg=f"{path} level {level}")


def test_read_level_chunks_are_multiples_of_the_tile_and_the_graph_pickles(pyramid):
    arr = ssd.read_level(pyramid, 0)
    assert arr.chunks[2] == (3,)
    assert all(c % 256 == 0 for c in arr.chunks[0][:-1] + arr.chunks[1][:-1])
    custom = ssd.read_level(pyramid, 0, chunks=(512, 256))
    assert custom.chunksize[:2] == (512, 256)
    # A graph of paths and numbers: it pickles without any open Slide in it.
    graph = dict(custom.__dask_graph__())
    pickle.loads(pickle.dumps(graph))
    # Same file, same parameters: the same name (Dask's caching relies on it).
    assert ssd.read_level(pyramid, 0, chunks=(512, 256)).name == custom.name
    np.testing.assert_array_equal(custom[300:700, 200:900].compute(scheduler="threads"),
                                  openslide_level(pyramid, 0)[300:700, 200:900])


def read_our_sobel(tmp_path, slide, tile):
    """Our tiled Sobel through the CLI (single process), read back by zarr-python."""
    zarr = pytest.importorskip("zarr")
    out = tmp_path / "ours.zarr"
    cli_process(slide, out, "--op", "sobel", "--tile", tile)
    return np.moveaxis(zarr.open_array(str(out / "0"), mode="r")[...], 0, -1)


def test_map_overlap_sobel_with_reflect_equals_our_tiled_sobel_bit_for_bit(client, pyramid,
                                                                            tmp_path):
    expected = read_our_sobel(tmp_path, pyramid, 256)
    arr = ssd.read_level(pyramid, 0, chunks=256)
    result = da.map_overlap(ssd.sobel, arr, depth=(1, 1, 0), boundary="reflect",
                            dtype=np.float32)
    got = client.compute(result).result()
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))
    # Dask's "reflect" is our rule; "periodic" (the opposite edge) is not, and differs on the
    # image's border only. (At depth 1 "nearest" coincides with "reflect": both repeat the edge
    # pixel once; deeper halos tell them apart.)
    periodic = da.map_overlap(ssd.sobel, arr, depth=(1, 1, 0), boundary="periodic",
                              dtype=np.float32).compute(scheduler="threads")
    differs = periodic != expected
    assert differs.any()
    assert not differs[1:-1, 1:-1].any()


def test_sobel_block_function_equals_scikit_image_within_float32(pyramid):
    filters = pytest.importorskip("skimage.filters")
    rgb = openslide_level(pyramid, 1)
    ours = ssd.sobel(np.pad(rgb, ((1, 1), (1, 1), (0, 0)), mode="symmetric"))[1:-1, 1:-1]
    for c in range(3):
        ref = filters.sobel(rgb[..., c].astype(np.float64) / 255, mode="reflect")
        np.testing.assert_allclose(ours[..., c], ref, atol=2e-7, rtol=1e-6)


@pytest.mark.parametrize("zarr_format,shard,codec", [(3, 256, "zstd"), (2, None, "blosc-lz4")])
def test_to_zarr_from_two_workers_equals_one_writer(client, pyramid, tmp_path, zarr_format, shard,
                                                    codec):
    zarr = pytest.importorskip("zarr")
    arr = ssd.read_level(pyramid, 0, chunks=512)
    image = arr.compute(scheduler="threads")
    ours = tmp_path / "many.zarr"
    with client.as_current():
        report = ssd.to_zarr(arr, ours, chunks=128, shard=shard, zarr_format=zarr_format,
                             codec=codec)
    assert report["bytes_written"] > 0
    single = tmp_path / "single.zarr"
    slidestream.write_zarr(image, single, chunks=128, shard=shard, zarr_format=zarr_format,
                           codec=codec)
    assert files_under(ours) == files_under(single)
    back = zarr.open_array(str(ours), mode="r")[...]
    np.testing.assert_array_equal(back, image)  # (H, W, C): the default "yxc"


def fail_on_one_block(block, block_info=None):
    if block_info[0]["chunk-location"][:2] == (2, 3):
        raise RuntimeError("this block cannot be computed")
    return block


def partial_siblings(out):
    return sorted(p.name for p in out.parent.glob(out.name + ".partial-*"))


def test_to_zarr_that_fails_leaves_nothing_and_a_rerun_replaces_a_killed_runs_output(
        client, pyramid, tmp_path):
    arr = ssd.read_level(pyramid, 0, chunks=256)
    broken = arr.map_blocks(fail_on_one_block, dtype=arr.dtype)
    out = tmp_path / "broken.zarr"
    with client.as_current(), pytest.raises(RuntimeError, match="cannot be computed"):
        ssd.to_zarr(broken, out, chunks=256)
    # Every block task had ended when it raised; then what they wrote was removed.
    assert not out.exists() and partial_siblings(out) == []
    # A killed run leaves chunks and no metadata: not complete, and a rerun replaces it.
    with client.as_current():
        ssd.to_zarr(arr, out, chunks=256)
    (out / "zarr.json").unlink()
    assert not ssd.is_complete(out)
    with client.as_current():
        ssd.to_zarr(arr, out, chunks=256, overwrite=True)
    assert ssd.is_complete(out) and partial_siblings(out) == []
    np.testing.assert_array_equal(slidestream.read_zarr(out), arr.compute(scheduler="threads"))


def test_to_zarr_overwrite_that_fails_keeps_the_old_output_byte_for_byte(client, pyramid,
                                                                         tmp_path):
    arr = ssd.read_level(pyramid, 0, chunks=256)
    out = tmp_path / "kept.zarr"
    with client.as_current():
        ssd.to_zarr(arr, out, chunks=256, codec="zstd")
    before = files_under(out)
    broken = arr.map_blocks(fail_on_one_block, dtype=arr.dtype)
    with client.as_current(), pytest.raises(RuntimeError, match="cannot be computed"):
        ssd.to_zarr(broken, out, chunks=256, overwrite=True)
    assert files_under(out) == before and partial_siblings(out) == []
    # A run that succeeds replaces it (another codec: other bytes) and leaves no sibling.
    with client.as_current():
        ssd.to_zarr(arr, out, chunks=256, codec="none", overwrite=True)
    assert files_under(out) != before and partial_siblings(out) == []
    np.testing.assert_array_equal(slidestream.read_zarr(out), arr.compute(scheduler="threads"))


def slow_blocks_and_one_failure(markers):
    """A block function: every block but (0, 0) leaves a "started" marker, sleeps, then an
    "ended" one; block (0, 0) fails once another block has started (or after 20 s), so that the
    failure always meets a block still running."""
    def run(block, block_info=None):
        y, x = block_info[0]["chunk-location"][:2]
        if (y, x) == (0, 0):
            deadline = time.monotonic() + 20
            while not any(markers.glob("started-*")) and time.monotonic() < deadline:
                time.sleep(0.01)
            raise RuntimeError("this block cannot be computed")
        (markers / f"started-{y}-{x}").touch()
        time.sleep(0.5)
        (markers / f"ended-{y}-{x}").touch()
        return block
    return run


@pytest.mark.parametrize("scheduler", ["distributed", "threads"])
def test_to_zarr_that_fails_returns_after_every_started_block_ended(client, pyramid, tmp_path,
                                                                   scheduler):
    arr = ssd.read_level(pyramid, 0, chunks=512)  # 3 x 4 blocks
    markers = tmp_path / "markers"
    markers.mkdir()
    broken = arr.map_blocks(slow_blocks_and_one_failure(markers), dtype=arr.dtype)
    out = tmp_path / "slow.zarr"
    context = client.as_current() if scheduler == "distributed" else dask.config.set(
        scheduler="threads", num_workers=4)
    with context, pytest.raises(RuntimeError, match="cannot be computed"):
        ssd.to_zarr(broken, out, chunks=256)

    def names(kind):
        return {p.name.split("-", 1)[1] for p in markers.glob(kind + "-*")}

    started, ended = names("started"), names("ended")
    # A block was running when (0, 0) failed; every started block had ended (and written) before
    # to_zarr raised, and none starts after: nothing writes into the output once it is removed.
    assert started, "no block started alongside the failing one"
    assert ended == started
    time.sleep(1.0)
    assert names("started") == started and names("ended") == ended
    assert not out.exists() and partial_siblings(out) == []
