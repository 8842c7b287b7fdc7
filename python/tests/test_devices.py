"""Many GPUs from Python: every call that takes `device` accepts "cuda:N" and passes the index
through to the library; a GPU that is not there is one InvalidArgumentError naming it and the
GPUs there are, before any work or output. The parsing and error tests run without a GPU (here
every cuda:N is missing); the tests on the machine's last GPU skip without one."""

from __future__ import annotations

import json

import numpy as np
import pytest

import slidestream
from conftest import has_gpu

needs_cuda_build = pytest.mark.skipif(not slidestream.has_cuda, reason="built without CUDA")
requires_gpu = pytest.mark.skipif(not has_gpu(), reason="no usable GPU (or a build without CUDA)")


def gpu_count() -> int:
    if not slidestream.has_cuda:
        return 0
    return len(json.loads(slidestream.describe_system(True)).get("gpus") or [])


def missing_gpu() -> str:
    """cuda:7, or the first index past the last GPU on a machine with more."""
    return f"cuda:{max(7, gpu_count())}"


def expected_error(name: str) -> str:
    return f"{name} is not usable" if gpu_count() == 0 else f"{name} does not exist: this machine"


@pytest.mark.parametrize("text,expected", [("cpu", ("cpu", 0)), ("cuda", ("cuda", 0)),
                                           ("cuda:0", ("cuda", 0)), ("cuda:3", ("cuda", 3)),
                                           ("gpu:2", ("cuda", 2))])
def test_device_strings_parse_to_kind_and_index(text, expected):
    assert tuple(slidestream._core.parse_device(text)) == expected


@pytest.mark.parametrize("text", ["cuda:", "cuda:-1", "cuda:x", "cuda0", "CUDA", ""])
def test_malformed_device_strings_are_refused(text):
    with pytest.raises(slidestream.InvalidArgumentError, match="is not a device"):
        slidestream._core.parse_device(text)


def test_the_cpu_is_always_there():
    slidestream._core.require_device("cpu")


@needs_cuda_build
def test_a_missing_gpu_is_one_clear_error_in_every_call(sample_slide, tmp_path):
    gpu = missing_gpu()
    want = expected_error(gpu)
    with slidestream.open_slide(sample_slide) as s:
        calls = {
            "read_region": lambda: s.read_region((0, 0), 0, (16, 16), device=gpu),
            "read_level": lambda: s.read_level(s.level_count - 1, device=gpu),
            "read_tile": lambda: s.read_tile(0, 0, 0, device=gpu),
            "process to memory": lambda: slidestream.process(s, None, ops=["grey"], device=gpu,
                                                             progress=False),
            "process to Zarr": lambda: slidestream.process(s, tmp_path / "p.zarr", ops=["grey"],
                                                           device=gpu, progress=False),
            "convert": lambda: slidestream.convert(s, tmp_path / "c.zarr", device=gpu,
                                                   progress=False),
        }
        slidestream.write_zarr(s.read_level(s.level_count - 1), tmp_path / "host.zarr",
                               chunks=64)
        calls["read_zarr"] = lambda: slidestream.read_zarr(tmp_path / "host.zarr", device=gpu)
        for name, call in calls.items():
            with pytest.raises(slidestream.InvalidArgumentError, match=want):
                call()
    assert not (tmp_path / "p.zarr").exists()
    assert not (tmp_path / "c.zarr").exists()


@needs_cuda_build
def test_write_zarr_insists_on_the_device_it_is_given(tmp_path):
    host = np.zeros((32, 32, 3), np.uint8)
    gpu = missing_gpu()
    with pytest.raises(slidestream.InvalidArgumentError, match=expected_error(gpu)):
        slidestream.write_zarr(host, tmp_path / "a.zarr", chunks=16, device=gpu)
    assert not (tmp_path / "a.zarr").exists()
    report = slidestream.write_zarr(host, tmp_path / "b.zarr", chunks=16, device="cpu")
    assert report["chunks_written"] == 4


@requires_gpu
def test_the_last_gpu_reads_processes_and_writes_like_the_cpu(sample_slide, tmp_path):
    last = gpu_count() - 1
    gpu = f"cuda:{last}"
    with slidestream.open_slide(sample_slide) as s:
        level = s.level_count - 1
        host = s.read_level(level)
        g = s.read_level(level, device=gpu)
        assert g.device_id == last and g.device == gpu
        assert np.array_equal(g.get(), host)
        r = s.read_region((5, 7), 0, (100, 60), device=gpu)
        assert r.device_id == last
        assert np.array_equal(r.get(), s.read_region((5, 7), 0, (100, 60)))
        for mode in ("tiled", "global"):
            cpu = slidestream.process(s, None, ops=["sobel"], level=level, mode=mode,
                                      progress=False)
            out = slidestream.process(s, None, ops=["sobel"], level=level, mode=mode,
                                      device=gpu, progress=False)
            assert out.device_id == last, mode
            assert np.array_equal(out.get(), cpu), mode
        slidestream.write_zarr(g, tmp_path / "g.zarr", chunks=64, device=gpu)
        back = slidestream.read_zarr(tmp_path / "g.zarr", device=gpu)
        assert back.device_id == last
        assert np.array_equal(back.get(), host)
        with pytest.raises(slidestream.InvalidArgumentError, match=f"on {gpu} but device is cpu"):
            slidestream.write_zarr(g, tmp_path / "h.zarr", chunks=64, device="cpu")
