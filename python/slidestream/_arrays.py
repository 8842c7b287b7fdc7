"""GPU arrays returned by slidestream, and the checks on arrays given to it.

On the host slidestream returns NumPy arrays (zero-copy: the array owns the library's buffer).
On a GPU it returns a :class:`CudaArray`, which owns the device memory and hands it to CuPy,
PyTorch, JAX or Numba without a copy through ``__dlpack__`` / ``__dlpack_device__`` or
``__cuda_array_interface__``. Its pixels are complete when a read returns (the read waits for its
own GPU work), so a consumer on any stream may use them at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core

_DLPACK_CUDA = 2


class CudaArray:
    """An array in GPU memory, owned by slidestream until the last consumer lets it go.

    ``torch.from_dlpack(a)``, ``cupy.from_dlpack(a)`` and ``cupy.asarray(a)`` take it without a
    copy and keep its memory alive. ``a.get()`` copies it to a NumPy array.
    """

    __slots__ = ("_array", "_ptr", "shape", "strides", "dtype", "device_id", "__weakref__")

    def __init__(self, array: Any) -> None:
        ptr, shape, strides, dtype, device_type, device_id = _core.array_interface(array)
        if device_type != _DLPACK_CUDA:
            raise ValueError("CudaArray wraps CUDA device memory only")
        self._array = array
        self._ptr = ptr
        self.shape: tuple[int, ...] = tuple(shape)
        self.strides: tuple[int, ...] = tuple(strides)
        self.dtype = np.dtype(dtype)
        self.device_id: int = device_id

    @property
    def device(self) -> str:
        return f"cuda:{self.device_id}"

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def data_ptr(self) -> int:
        """The device address of the first element."""
        return self._ptr

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"CudaArray(shape={self.shape}, dtype={self.dtype}, device='{self.device}')"

    def __dlpack_device__(self) -> tuple[int, int]:
        return (_DLPACK_CUDA, self.device_id)

    def __dlpack__(self, *, stream: int | None = None, max_version: tuple[int, int] | None = None,
                   dl_device: tuple[int, int] | None = None, copy: bool | None = None) -> Any:
        """A DLPack capsule of this array (no copy).

        ``stream`` is the consumer's CUDA stream, as the DLPack spec defines it (None or 1: the
        legacy default stream, 2: the per-thread default stream, another integer: a
        ``cudaStream_t``, -1: no synchronisation). The pixels are complete before the read that
        made this array returns, so there is no pending producer work to order against any
        stream; 0 is refused, as the spec requires.
        """
        if stream is not None and not isinstance(stream, int):
            raise TypeError(f"stream must be an int or None, not {type(stream).__name__}")
        if stream == 0:
            raise ValueError("stream=0 is ambiguous for CUDA and not allowed by DLPack; use 1 "
                             "for the legacy default stream or 2 for the per-thread one")
        if dl_device is not None and tuple(dl_device) != self.__dlpack_device__():
            raise BufferError(f"this array lives on {self.device}; it cannot be exported to "
                              f"DLPack device {tuple(dl_device)} without a copy")
        if copy:
            raise BufferError("copy=True is not supported: slidestream exports without copying")
        if max_version is None:
            return self._array.__dlpack__()
        return self._array.__dlpack__(max_version=max_version)

    @property
    def __cuda_array_interface__(self) -> dict:
        return {
            "shape": self.shape,
            "typestr": self.dtype.str,
            "data": (self._ptr, False),
            "strides": None,
            "version": 3,
            "stream": None,  # nothing pending: the pixels are complete
        }

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        raise TypeError(f"this array is in GPU memory ({self.device}); copy it to the host "
                        "explicitly with .get() (or cupy.asnumpy / tensor.cpu())")

    def get(self) -> np.ndarray:
        """A copy in host memory, as a NumPy array."""
        return _core.to_host(self._array)


def wrap(array: Any) -> Any:
    """NumPy arrays pass through; GPU arrays from the core become CudaArray."""
    if isinstance(array, np.ndarray):
        return array
    return CudaArray(array)
