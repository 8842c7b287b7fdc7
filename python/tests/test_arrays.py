"""Arrays out of and into slidestream: zero-copy DLPack hand-offs to NumPy and PyTorch (CPU),
`out=` into preallocated arrays (slices of larger ones too), and clear errors for arrays that
do not fit."""

from __future__ import annotations

import numpy as np
import pytest

import slidestream


def _pointer(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def test_cpu_reads_are_numpy_arrays_that_own_the_library_buffer(sample_slide):
    with slidestream.open_slide(sample_slide) as s:
        a = s.read_region((10, 20), 0, (64, 48))
        assert isinstance(a, np.ndarray) and a.shape == (48, 64, 3) and a.dtype == np.uint8
        assert a.flags.c_contiguous and a.flags.writeable
        # No copy through the buffer protocol nor through DLPack.
        assert _pointer(np.asarray(a)) == _pointer(a)
        assert _pointer(np.from_dlpack(a)) == _pointer(a)
        assert a.__dlpack_device__() == (1, 0)
    # The array outlives the slide and the read that made it.
    del s
    assert int(a.sum()) > 0


def test_torch_cpu_takes_reads_without_a_copy(sample_slide):
    torch = pytest.importorskip("torch")
    with slidestream.open_slide(sample_slide) as s:
        a = s.read_level(0)
        t = torch.from_dlpack(a)
        assert t.data_ptr() == _pointer(a)
        assert tuple(t.shape) == a.shape and t.dtype == torch.uint8
        assert torch.equal(t, torch.from_numpy(s.read_level(0)))


def test_out_fills_a_preallocated_numpy_array(sample_slide):
    with slidestream.open_slide(sample_slide) as s:
        out = np.full((100, 120, 3), 7, np.uint8)
        returned = s.read_region((500, 600), 0, (120, 100), out=out)
        assert returned is out
        assert np.array_equal(out, s.read_region((500, 600), 0, (120, 100)))
        level = np.empty((s.dimensions[1], s.dimensions[0], 3), np.uint8)
        s.read_level(0, out=level)
        assert np.array_equal(level, s.read_level(0))


def test_out_may_be_a_window_of_a_larger_array(sample_slide):
    with slidestream.open_slide(sample_slide) as s:
        canvas = np.zeros((300, 400, 3), np.uint8)
        window = canvas[50:150, 100:220]  # rows at a pitch of 400 pixels
        s.read_region((0, 0), 0, (120, 100), out=window)
        assert np.array_equal(window, s.read_region((0, 0), 0, (120, 100)))
        assert not canvas[:50].any() and not canvas[150:].any()
        assert not canvas[:, :100].any() and not canvas[:, 220:].any()


def test_out_into_a_torch_tensor(sample_slide):
    torch = pytest.importorskip("torch")
    with slidestream.open_slide(sample_slide) as s:
        t = torch.zeros((64, 80, 3), dtype=torch.uint8)
        s.read_region((33, 44), 0, (80, 64), out=t)
        assert np.array_equal(t.numpy(), s.read_region((33, 44), 0, (80, 64)))


@pytest.mark.parametrize("bad, message", [
    (np.zeros((10, 10, 3), np.uint8), "shape"),
    (np.zeros((20, 30, 3), np.float32), "dtype float32"),
    (np.zeros((20, 30, 4), np.uint8), "shape"),
    (np.zeros((20, 30), np.uint8), "shape"),
    (np.zeros((3, 20, 30), np.uint8).transpose(1, 2, 0), "contiguous rows"),
    (np.zeros((20, 60, 3), np.uint8)[:, ::2], "contiguous rows"),
    (np.zeros((20, 30, 3), np.int64), "dtype int64"),
    ([[1, 2, 3]], "not an array"),
])
def test_out_that_does_not_fit_is_a_clear_error(sample_slide, bad, message):
    with slidestream.open_slide(sample_slide) as s:
        with pytest.raises(slidestream.InvalidArgumentError, match=message) as info:
            s.read_region((0, 0), 0, (30, 20), out=bad)
        assert isinstance(info.value, ValueError)


def test_read_only_out_is_refused(sample_slide):
    out = np.zeros((20, 30, 3), np.uint8)
    out.flags.writeable = False
    with slidestream.open_slide(sample_slide) as s:
        with pytest.raises(slidestream.InvalidArgumentError, match="read-only"):
            s.read_region((0, 0), 0, (30, 20), out=out)


def test_out_on_the_host_for_a_gpu_read_names_both_devices(sample_slide):
    if not slidestream.has_cuda:
        pytest.skip("built without CUDA")
    with slidestream.open_slide(sample_slide) as s:
        with pytest.raises(slidestream.InvalidArgumentError, match="cpu but device is cuda:0"):
            s.read_region((0, 0), 0, (30, 20), device="cuda", out=np.zeros((20, 30, 3), np.uint8))


@pytest.mark.parametrize("device", ["gpu:x", "cuda:", "cuda:-1", "tpu", "cuda0", ""])
def test_bad_device_strings_are_refused(sample_slide, device):
    with slidestream.open_slide(sample_slide) as s:
        with pytest.raises(slidestream.InvalidArgumentError, match="is not a device"):
            s.read_region((0, 0), 0, (8, 8), device=device)


def test_grey_levels_come_back_with_one_channel(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    grey = np.random.default_rng(3).integers(0, 256, (300, 200), dtype=np.uint8)
    path = tmp_path / "grey.tif"
    tifffile.imwrite(path, grey, tile=(64, 64), photometric="minisblack", compression="zlib")
    with slidestream.open_slide(path) as s:
        assert s.levels[0].channels == 1
        a = s.read_level(0)
        assert a.shape == (300, 200, 1)
        assert np.array_equal(a[..., 0], grey)


def test_level_coordinates_read_the_same_pixels_as_the_level(boxes_slide):
    with slidestream.open_slide(boxes_slide) as s:
        for level in range(s.level_count):
            whole = s.read_level(level)
            h, w = whole.shape[:2]
            for x, y, rw, rh in ((0, 0, w, h), (3, 5, 20, 11), (w - 9, h - 4, 9, 4)):
                got = s.read_level_region(level, (x, y), (rw, rh))
                assert np.array_equal(got, whole[y:y + rh, x:x + rw]), (level, x, y)
            outside = s.read_level_region(level, (w - 2, h - 2), (5, 5), fill=255)
            assert np.all(outside[2:, :] == 255) and np.all(outside[:, 2:] == 255)
