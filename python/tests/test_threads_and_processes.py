"""One Slide shared by many Python threads, and a Slide opened in a parent used by worker
processes (fork and spawn) through multiprocessing and, where torch is installed, a
DataLoader with 2 workers; CUDA in a child forked after the parent used CUDA is a clear error."""

from __future__ import annotations

import multiprocessing
import pickle
import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import proc_worker
import slidestream
from slidestream import _device


def _locations(slide, count, size=(64, 64), seed=5):
    rng = random.Random(seed)
    w, h = slide.dimensions
    return [(rng.randint(-20, w - 10), rng.randint(-20, h - 10)) for _ in range(count)]


def test_many_threads_read_one_slide_and_get_what_one_thread_gets(sample_slide):
    with slidestream.open_slide(sample_slide) as s:
        locations = _locations(s, 200)
        expected = [s.read_region(loc, 0, (97, 61), threads=1) for loc in locations]
        with ThreadPoolExecutor(16) as pool:
            got = list(pool.map(lambda loc: s.read_region(loc, 0, (97, 61)), locations * 3))
        for i, a in enumerate(got):
            assert np.array_equal(a, expected[i % len(locations)])


def test_close_while_other_threads_read_never_crashes(sample_slide):
    s = slidestream.open_slide(sample_slide)
    locations = _locations(s, 50)

    def read(loc):
        try:
            return s.read_region(loc, 0, (128, 128)).shape
        except slidestream.InvalidArgumentError as e:
            assert "closed" in str(e)
            return "closed"

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(read, loc) for loc in locations]
        s.close()
        results = [f.result() for f in futures]
    assert all(r in ((128, 128, 3), "closed") for r in results)
    with pytest.raises(slidestream.InvalidArgumentError, match="closed"):
        s.read_region((0, 0), 0, (4, 4))


def test_a_slide_pickles_by_path(sample_slide):
    with slidestream.open_slide(sample_slide) as s:
        clone = pickle.loads(pickle.dumps(s))
        assert clone.path == s.path and clone.level_dimensions == s.level_dimensions
        assert np.array_equal(clone.read_region((5, 5), 0, (50, 50)),
                              s.read_region((5, 5), 0, (50, 50)))


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_two_worker_processes_read_a_slide_opened_in_the_parent(sample_slide, method):
    s = slidestream.open_slide(sample_slide)
    s.read_region((0, 0), 0, (32, 32))  # the parent has read (pools, descriptors in use)
    locations = _locations(s, 24)
    expected = [s.read_region(loc, 0, (70, 50)) for loc in locations]
    with multiprocessing.get_context(method).Pool(2) as pool:
        got = pool.map(proc_worker.read_with_pickled_slide,
                       [(s, loc, (70, 50)) for loc in locations])
    for a, b in zip(got, expected):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_torch_dataloader_with_two_workers(sample_slide, method):
    torch = pytest.importorskip("torch")
    s = slidestream.open_slide(sample_slide)
    locations = _locations(s, 32)
    dataset = proc_worker.SlidePatches(s, locations, (64, 64))
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, num_workers=2,
                                         multiprocessing_context=method)
    batches = list(loader)
    got = torch.cat(batches).numpy()
    expected = np.stack([s.read_region(loc, 0, (64, 64)) for loc in locations])
    assert np.array_equal(got, expected)


def test_cuda_in_a_child_forked_after_the_parent_used_cuda_is_a_clear_error(sample_slide):
    if not slidestream.has_cuda:
        pytest.skip("built without CUDA")
    s = slidestream.open_slide(sample_slide)
    saved = _device._cuda_used_in_pid
    import os
    _device._cuda_used_in_pid = os.getpid()  # as after any GPU call in this process
    try:
        with multiprocessing.get_context("fork").Pool(1) as pool:
            name, message = pool.apply(proc_worker.try_cuda_read, (s,))
    finally:
        _device._cuda_used_in_pid = saved
    assert name == "CudaForkError"
    assert "forked" in message and "spawn" in message


def test_cpu_reads_still_work_in_a_child_forked_after_cuda(sample_slide):
    import os
    s = slidestream.open_slide(sample_slide)
    saved = _device._cuda_used_in_pid
    _device._cuda_used_in_pid = os.getpid()
    try:
        with multiprocessing.get_context("fork").Pool(1) as pool:
            total = pool.apply(proc_worker.checksum_of, ((s, (100, 100)),))
    finally:
        _device._cuda_used_in_pid = saved
    assert total == int(s.read_region((100, 100), 0, (64, 64)).astype(np.int64).sum())
