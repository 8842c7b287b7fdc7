"""
slidestream's C++ core (use the `slidestream` package, not this module)
"""

from collections.abc import Sequence
from typing import Annotated

from numpy.typing import NDArray


has_cuda: bool = True

def describe_system(json: bool = False) -> str:
    """
    GPUs, CUDA versions, cuFile / nvidia-fs and nvJPEG as slidestream sees them.
    """

def parse_device(device: str) -> tuple:
    """('cpu' | 'cuda', index) of a device string; raises on anything else."""

def require_device(device: str) -> None:
    """
    Nothing for the CPU or a GPU that exists; InvalidArgumentError naming the GPUs there are otherwise.
    """

def array_interface(array: Annotated[NDArray, dict(writable=False)]) -> tuple:
    """
    (data pointer, shape, strides in bytes, dtype, DLPack device type, device id).
    """

def to_host(array: Annotated[NDArray, dict(writable=False)]) -> object:
    """A NumPy copy of a host or GPU array."""

class Slide:
    """A slide opened by the C++ core; see slidestream.Slide."""

    def __init__(self, path: str) -> None: ...

    def close(self) -> None: ...

    @property
    def closed(self) -> bool: ...

    @property
    def path(self) -> str: ...

    @property
    def format(self) -> str: ...

    @property
    def properties(self) -> dict[str, str]: ...

    @property
    def mpp(self) -> tuple: ...

    @property
    def levels(self) -> list: ...

    @property
    def associated(self) -> list: ...

    def read_region(self, level: int, x: int, y: int, width: int, height: int, device: str = 'cpu', out: object | None = None, threads: int = 0, io: str = 'auto', fill: int = 0, gpu_jpeg: bool = True) -> object:
        """
        A region in the level's own pixel coordinates; outside the level is `fill`.
        """

    def read_level(self, level: int, device: str = 'cpu', out: object | None = None, threads: int = 0, io: str = 'auto', gpu_jpeg: bool = True) -> object: ...

    def read_tile(self, level: int, tx: int, ty: int, device: str = 'cpu', threads: int = 0, io: str = 'auto') -> object:
        """One whole tile (edge tiles include the file's padding)."""

    def read_associated(self, name: str) -> object: ...

class ZarrGrid:
    def __init__(self, chunk_height: int, chunk_width: int, shard_height: int = 0, shard_width: int = 0) -> None: ...

class ZarrArrayWriter:
    def write_region(self, y: int, x: int, array: Annotated[NDArray, dict(writable=False)]) -> None: ...

    def set_attributes(self, json: str) -> None: ...

    def finish_chunks(self) -> dict:
        """
        This writer's chunks made durable; no metadata (many writers, one array).
        """

    def finish(self) -> dict:
        """Every chunk durable, then the metadata."""

    @property
    def spec(self) -> dict: ...

def open_array_writer(attach: bool, path: str, height: int, width: int, channels: int, dtype: str, grid: ZarrGrid, zarr_format: int = 3, codec: str = 'none', codec_level: int = 3, fill_value: float = 0.0, overwrite: bool = False, durable: bool = True, threads: int = 0, io: str = 'auto', io_depth: int = 0, layout: str = 'yxc') -> ZarrArrayWriter: ...

def is_complete(root: str) -> bool:
    """
    True when root holds a finished output of slidestream's writers (its metadata landed last).
    """

def stage_replacement(path: str, overwrite_any: bool = False) -> str:
    """
    A fresh empty sibling of path to write its replacement into (many writers, one array).
    """

def commit_replacement(staged: str, path: str, durable: bool = True) -> None:
    """The complete array at staged takes path's place; the old output is removed."""

class OmeZarrWriter:
    def __init__(self, root: str, zarr_format: int = 3, name: str = 'image', mpp_x: float | None = None, mpp_y: float | None = None, overwrite: bool = False, durable: bool = True) -> None: ...

    def add_level(self, index: int, downsample: float, height: int, width: int, channels: int, dtype: str, grid: ZarrGrid, codec: str = 'none', threads: int = 0, io: str = 'auto', io_depth: int = 0, layout: str = 'yxc') -> ZarrArrayWriter: ...

    def finish(self) -> None: ...

def write_array(array: Annotated[NDArray, dict(writable=False)], path: str, chunk_height: int, chunk_width: int, shard_height: int = 0, shard_width: int = 0, zarr_format: int = 3, codec: str = 'none', codec_level: int = 3, fill_value: float = 0.0, overwrite: bool = False, durable: bool = True, threads: int = 0, io: str = 'auto', io_depth: int = 0, attributes: str = '', layout: str = 'yxc') -> dict: ...

def read_array(path: str, device: str = 'cpu', threads: int = 0) -> object: ...

def array_info(path: str) -> dict: ...

class ProcessOptions:
    def __init__(self) -> None: ...

    @property
    def mode(self) -> str: ...

    @mode.setter
    def mode(self, arg: str, /) -> None: ...

    @property
    def device(self) -> str: ...

    @device.setter
    def device(self, arg: str, /) -> None: ...

    @property
    def level(self) -> int: ...

    @level.setter
    def level(self, arg: int, /) -> None: ...

    @property
    def tile(self) -> int: ...

    @tile.setter
    def tile(self, arg: int, /) -> None: ...

    @property
    def slots(self) -> int: ...

    @slots.setter
    def slots(self, arg: int, /) -> None: ...

    @property
    def threads(self) -> int: ...

    @threads.setter
    def threads(self, arg: int, /) -> None: ...

    @property
    def io(self) -> str: ...

    @io.setter
    def io(self, arg: str, /) -> None: ...

    @property
    def zarr_format(self) -> int: ...

    @zarr_format.setter
    def zarr_format(self, arg: int, /) -> None: ...

    @property
    def codec(self) -> str: ...

    @codec.setter
    def codec(self, arg: str, /) -> None: ...

    @property
    def shard(self) -> int: ...

    @shard.setter
    def shard(self, arg: int, /) -> None: ...

    @property
    def pyramid(self) -> bool: ...

    @pyramid.setter
    def pyramid(self, arg: bool, /) -> None: ...

    @property
    def overwrite(self) -> bool: ...

    @overwrite.setter
    def overwrite(self, arg: bool, /) -> None: ...

def process(slide: Slide, ops: Sequence[str], output: str, options: ProcessOptions, progress: object | None = None) -> dict: ...

def process_to_array(slide: Slide, ops: Sequence[str], options: ProcessOptions, progress: object | None = None) -> tuple: ...

class TileCache:
    """A bounded cache of decoded tiles (bytes cap, LRU)."""

    def __init__(self, capacity_bytes: int) -> None: ...

    @property
    def capacity_bytes(self) -> int: ...

    def clear(self) -> None: ...

    def stats(self) -> dict: ...

def read_regions(slide: Slide, level: int, locations: Annotated[NDArray, dict(dtype='int64', shape=(None, 2), order='C', device='cpu', writable=False)], width: int, height: int, device: str = 'cpu', out: object | None = None, threads: int = 0, fill: int = 0, gpu_jpeg: bool = True, cache: TileCache | None = None, mpp: float = 0.0, first: int = -1) -> object:
    """N regions at level-0 (x, y) of one level (or at an mpp > 0) into one (N, H, W, C) array."""

def tissue_mask(slide: Slide, level: int = -1, mpp: float = 0.0, method: str = 'otsu', max_speck_pixels: int = 64, max_hole_pixels: int = 64, threads: int = 0) -> dict:
    """A tissue mask: {mask: (H, W) uint8, scale_x, scale_y, threshold}."""

def patch_grid(slide: Slide, size: int, stride: int = 0, level: int = 0, mpp: float = 0.0, mask: object | None = None, scale_x: float = 1.0, scale_y: float = 1.0, min_tissue: float = 0.5) -> object:
    """Level-0 (x, y) corners of a patch grid, (N, 2) int64."""

def empty_patches(n: int, height: int, width: int, channels: int, device: str = 'cpu') -> object:
    """An uninitialised (N, H, W, C) uint8 array on the host or a GPU."""

def convert_patches(array: Annotated[NDArray, dict(order='C', writable=False)], dtype: str, mean: Sequence[float] = [], std: Sequence[float] = []) -> object:
    """(N, H, W, C) uint8 -> float32 / float16, (v / 255 - mean) / std, same device."""
