"""slidestream: whole-slide images between disk, CPU and GPU.

Read slides as openslide-python does (:func:`open_slide`, :class:`Slide`), into NumPy arrays or
straight into GPU memory (:class:`CudaArray`, taken by CuPy and PyTorch through DLPack without a
copy); write any array to Zarr (:func:`write_zarr`), convert slides to OME-Zarr
(:func:`convert`), and run pathology ops tile by tile on the GPU (:func:`process`).
``slidestream.openslide`` is a drop-in for ``openslide``.
"""

from . import _core
from ._arrays import CudaArray
from ._errors import (
    CancelledError,
    CorruptSlideError,
    CudaError,
    CudaForkError,
    InvalidArgumentError,
    NotASlideError,
    SlideError,
    SlideExistsError,
    SlideIOError,
    SlideNotFoundError,
    SlideOutOfMemoryError,
    UnsupportedError,
)
from ._patches import TissueMask, patch_grid, tissue_mask
from .loader import PatchBatch, PatchLoader, random_sampler
from ._process import process
from ._slide import Level, Slide, TileCache, open_slide
from ._zarr import (
    ZarrWriter,
    attach_zarr,
    convert,
    create_zarr,
    read_zarr,
    write_zarr,
    zarr_info,
    zarr_is_complete,
)

__version__: str = _core.__version__
#: True when this build can read into GPU memory (built with the CUDA toolkit).
has_cuda: bool = _core.has_cuda


def describe_system(json: bool = False) -> str:
    """GPUs, CUDA versions, cuFile / nvidia-fs and nvJPEG as slidestream sees them."""
    return _core.describe_system(json)


__all__ = [
    "CancelledError", "CorruptSlideError", "CudaArray", "CudaError", "CudaForkError",
    "InvalidArgumentError", "Level", "NotASlideError", "PatchBatch", "PatchLoader", "Slide",
    "SlideError", "SlideExistsError", "SlideIOError", "SlideNotFoundError",
    "SlideOutOfMemoryError", "TileCache", "TissueMask", "UnsupportedError", "ZarrWriter",
    "attach_zarr", "convert", "create_zarr", "describe_system", "has_cuda", "open_slide",
    "patch_grid", "process", "random_sampler", "read_zarr", "tissue_mask", "write_zarr",
    "zarr_info", "zarr_is_complete",
]
