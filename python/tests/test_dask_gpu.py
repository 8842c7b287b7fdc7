"""slidestream.dask on a GPU, through dask-cuda's LocalCUDACluster of one worker (skipped without a
GPU or CuPy): read_level into CuPy chunks equals the CPU read, map_overlap Sobel on CuPy
equals our tiled Sobel, to_zarr from GPU blocks equals the CPU write, and process_slides with
device="cuda" writes what the CLI writes on the CPU."""

from __future__ import annotations

import numpy as np
import pytest

from dask_support import SHARED, cli_process, files_under, scan_pixels, write_pyramid

cupy = pytest.importorskip("cupy")
pytest.importorskip("distributed")

import dask.array as da  # noqa: E402

import slidestream  # noqa: E402
import slidestream.dask as ssd  # noqa: E402


def _gpu_count() -> int:
    try:
        return cupy.cuda.runtime.getDeviceCount()
    except Exception:
        return 0


pytestmark = pytest.mark.skipif(_gpu_count() == 0 or not slidestream.has_cuda,
                                reason="no usable GPU (or a CPU-only build)")


@pytest.fixture(scope="module")
def client():
    """dask-cuda's LocalCUDACluster of one worker; where dask-cuda is not installed, the same by
    hand: one worker process that sees GPU 0 only."""
    from distributed import Client, LocalCluster

    try:
        from dask_cuda import LocalCUDACluster

        cluster = LocalCUDACluster(n_workers=1, dashboard_address=":0")
    except ImportError:
        cluster = LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0",
                               env={"CUDA_VISIBLE_DEVICES": "0"})
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def slides(tmp_path_factory):
    root = tmp_path_factory.mktemp("dask_gpu")
    pixels = scan_pixels()
    return [SHARED / "cmu-1-small-region.svs",
            write_pyramid(root / "a-deflate.tif", pixels[:1500, :1300], 256, compression="zlib")]


def test_read_level_on_the_gpu_equals_the_cpu_read_and_has_cupy_meta(client, slides):
    for path in slides:
        arr = ssd.read_level(path, 0, device="cuda")
        assert isinstance(arr._meta, cupy.ndarray)
        got = client.compute(arr).result()
        assert isinstance(got, cupy.ndarray)
        np.testing.assert_array_equal(cupy.asnumpy(got), ssd.read_level(path, 0).compute())


def test_map_overlap_sobel_on_cupy_equals_our_tiled_sobel(client, slides, tmp_path):
    zarr = pytest.importorskip("zarr")
    path = slides[1]
    cli_process(path, tmp_path / "ours.zarr", "--op", "sobel", "--tile", 256)
    expected = np.ascontiguousarray(
        np.moveaxis(zarr.open_array(str(tmp_path / "ours.zarr" / "0"), mode="r")[...], 0, -1))
    arr = ssd.read_level(path, 0, chunks=256, device="cuda")
    sob = da.map_overlap(ssd.sobel, arr, depth=(1, 1, 0), boundary="reflect", dtype=np.float32)
    got = cupy.asnumpy(client.compute(sob).result())
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))
    # The same array written from GPU blocks equals the CPU write.
    with client.as_current():
        ssd.to_zarr(sob, tmp_path / "gpu.zarr", chunks=256, zarr_format=3)
    slidestream.write_zarr(expected, tmp_path / "cpu.zarr", chunks=256, zarr_format=3)
    assert files_under(tmp_path / "gpu.zarr") == files_under(tmp_path / "cpu.zarr")


def test_process_slides_on_a_cuda_worker_equals_the_cpu_cli(client, slides, tmp_path):
    for slide in slides:
        cli_process(slide, ssd.output_path(tmp_path / "ref", slide), "--op", "sobel", "--tile",
                    256, "--pyramid")
    results = ssd.process_slides(slides, tmp_path / "out", ops=["sobel"], client=client,
                                 device="cuda", tile=256, pyramid=True, progress=False)
    assert [r.status for r in results] == ["done"] * len(slides), results
    assert all(r.gpu.endswith(":0") for r in results)
    for slide in slides:
        assert files_under(ssd.output_path(tmp_path / "out", slide)) == \
            files_under(ssd.output_path(tmp_path / "ref", slide))
