"""GPU reads and writes (skipped without a usable GPU): CudaArray into CuPy and torch without a
copy, DLPack streams, cuda:N, out= into CuPy arrays and torch CUDA tensors, GPU arrays to
Zarr, and GPU results equal to CPU ones."""

from __future__ import annotations

import numpy as np
import pytest

import slidestream
from conftest import has_gpu

pytestmark = pytest.mark.skipif(not has_gpu(), reason="no usable GPU (or a build without CUDA)")


def test_read_level_on_the_gpu_equals_the_cpu_read(sample_slide):
    with slidestream.open_slide(sample_slide) as s:
        g = s.read_level(0, device="cuda")
        assert isinstance(g, slidestream.CudaArray)
        assert g.shape == (s.dimensions[1], s.dimensions[0], 3) and g.device == "cuda:0"
        assert np.array_equal(g.get(), s.read_level(0))
        with pytest.raises(TypeError, match="GPU memory"):
            np.asarray(g)
        r = s.read_region((-10, 30), 0, (300, 200), device="cuda:0")
        assert np.array_equal(r.get(), s.read_region((-10, 30), 0, (300, 200)))


def test_cupy_takes_gpu_reads_without_a_copy(sample_slide):
    cp = pytest.importorskip("cupy")
    with slidestream.open_slide(sample_slide) as s:
        g = s.read_level(0, device="cuda")
        a = cp.from_dlpack(g)
        assert a.data.ptr == g.data_ptr and a.shape == g.shape
        b = cp.asarray(g)  # __cuda_array_interface__
        assert b.data.ptr == g.data_ptr
        del g  # the CuPy arrays keep the memory alive
        assert np.array_equal(cp.asnumpy(a), s.read_level(0))


def test_torch_takes_gpu_reads_without_a_copy_on_its_current_stream(sample_slide):
    torch = pytest.importorskip("torch")
    with slidestream.open_slide(sample_slide) as s:
        g = s.read_level(0, device="cuda")
        stream = torch.cuda.Stream()
        with torch.cuda.stream(stream):
            t = torch.from_dlpack(g)  # passes stream=<its stream> to __dlpack__
            total = int(t.sum(dtype=torch.int64))
        assert t.data_ptr() == g.data_ptr
        assert total == int(s.read_level(0).sum(dtype=np.int64))
        with pytest.raises(ValueError, match="stream=0"):
            g.__dlpack__(stream=0)


def test_out_into_cupy_and_torch_cuda_arrays(sample_slide):
    with slidestream.open_slide(sample_slide) as s:
        expected = s.read_region((100, 50), 0, (256, 128))
        try:
            import cupy as cp
            out = cp.zeros((128, 256, 3), cp.uint8)
            assert s.read_region((100, 50), 0, (256, 128), device="cuda", out=out) is out
            assert np.array_equal(cp.asnumpy(out), expected)
        except ImportError:
            pass
        try:
            import torch
            t = torch.zeros((128, 256, 3), dtype=torch.uint8, device="cuda")
            t.add_(1)  # pending work on torch's stream, ordered before our write
            s.read_region((100, 50), 0, (256, 128), device="cuda", out=t)
            assert np.array_equal(t.cpu().numpy(), expected)
            with pytest.raises(slidestream.InvalidArgumentError, match="cuda:0 but device is cpu"):
                s.read_region((100, 50), 0, (256, 128), out=t)
        except ImportError:
            pass


def test_every_visible_gpu_by_index(sample_slide):
    import json
    gpus = json.loads(slidestream.describe_system(True))["gpus"]
    with slidestream.open_slide(sample_slide) as s:
        expected = s.read_level(0)
        for index in range(len(gpus)):
            g = s.read_level(0, device=f"cuda:{index}")
            assert g.device_id == index
            assert np.array_equal(g.get(), expected)


def test_gpu_arrays_to_zarr_and_back(sample_slide, tmp_path):
    zarr = pytest.importorskip("zarr")
    with slidestream.open_slide(sample_slide) as s:
        g = s.read_level(0, device="cuda")
        slidestream.write_zarr(g, tmp_path / "g.zarr", chunks=256, shard=512)
        back = zarr.open_array(str(tmp_path / "g.zarr"), mode="r")[...]
        assert np.array_equal(back, s.read_level(0))  # (H, W, 3): "yxc"
        on_gpu = slidestream.read_zarr(tmp_path / "g.zarr", device="cuda")
        assert np.array_equal(on_gpu.get(), s.read_level(0))


def test_process_on_the_gpu_equals_the_cpu(sample_slide):
    cpu = slidestream.process(sample_slide, None, ops=["sobel"], progress=False)
    gpu = slidestream.process(sample_slide, None, ops=["sobel"], device="cuda", progress=False)
    assert np.array_equal(gpu.get(), cpu)
