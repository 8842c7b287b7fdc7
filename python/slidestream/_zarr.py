"""Zarr arrays from any DLPack array, and slides to OME-Zarr."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from . import _core
from ._arrays import wrap
from ._device import normalize, require
from ._errors import InvalidArgumentError
from ._progress import make_bar
from ._slide import Slide


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return int(value), int(value)
    try:
        h, w = value  # type: ignore[misc]
        return int(h), int(w)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an int or (height, width), got {value!r}") from None


def write_zarr(array: Any, path: str | os.PathLike[str], *,
               chunks: int | Sequence[int] = 512, zarr_format: int = 3,
               shard: int | Sequence[int] | None = None, codec: str = "none",
               codec_level: int = 3, fill_value: float = 0, overwrite: bool = False,
               durable: bool = True, threads: int = 0, io: str = "auto", io_depth: int = 0,
               attributes: dict | None = None, layout: str = "yxc", device: Any = None) -> dict:
    """Writes an image array to a Zarr array with slidestream's writer.

    Args:
        array: (height, width) or (height, width, channels), uint8 / uint16 / uint32 / float32,
            on the host or a GPU: a NumPy, CuPy or JAX array, a torch tensor, a slidestream
            CudaArray, anything with ``__dlpack__`` or the buffer protocol. Rows must be
            contiguous with channels interleaved (any row pitch). Not copied.
        path: the array's directory (created; an existing one is refused unless `overwrite`).
        chunks: chunk (height, width) in pixels, or one int for square chunks.
        zarr_format: 2 or 3.
        shard: Zarr v3 shard (height, width) in pixels, a multiple of the chunk; None: none.
        codec: "none", "zstd" or "blosc-lz4"; codec_level its level.
        durable: sync the chunks before writing the metadata (a partial array never looks
            complete).
        io: "auto", "posix" or "cufile" (GPU arrays straight to disk where cuFile can).
        layout: how a multi-channel array lies on disk. "yxc" (default): shape (height, width,
            channels), chunks (ch, cw, channels), the bytes as they are in memory: the files
            ``dask.array.to_zarr`` / zarr-python write for an (H, W, C) array, written from a GPU
            with no transpose. "cyx": the (c, y, x) array OME-NGFF expects (on v3 a transpose
            codec keeps each chunk's bytes interleaved; on v2 chunks are planar).
        device: None (where `array` lives, its DLPack device: a GPU array is staged on its own
            GPU), or "cpu" / "cuda" / "cuda:N" to insist on it: an array elsewhere is an
            InvalidArgumentError naming both (the writer never moves arrays between devices).

    A 2-D array is (y, x) either way. zarr-python and tensorstore read both back.

    Returns:
        {"bytes_written", "chunks_written", "io_path", "io_depth"}.
    """
    ch, cw = _pair(chunks, "chunks")
    sh, sw = (0, 0) if shard in (None, 0) else _pair(shard, "shard")
    if device is not None:
        wanted, where = require(device), _array_device(array)
        if wanted != where:
            raise InvalidArgumentError(f"device: the array is on {where} but device is {wanted}",
                                       kind="invalid_argument")
    if _is_cuda(array):
        normalize("cuda")  # the fork guard
    return _core.write_array(array, os.fspath(path), ch, cw, sh, sw, zarr_format=zarr_format,
                             codec=codec, codec_level=codec_level, fill_value=fill_value,
                             overwrite=overwrite, durable=durable, threads=threads, io=io,
                             io_depth=io_depth,
                             attributes=json.dumps(attributes) if attributes else "",
                             layout=layout)


def _is_cuda(array: Any) -> bool:
    device = getattr(array, "__dlpack_device__", None)
    try:
        return device is not None and device()[0] in (2, 13)
    except Exception:
        return False


def _array_device(array: Any) -> str:
    """"cpu" or "cuda:N": where a DLPack producer's memory is (host for anything else)."""
    device = getattr(array, "__dlpack_device__", None)
    try:
        kind, index = device() if device is not None else (1, 0)
    except Exception:
        return "cpu"
    return f"cuda:{int(index)}" if kind in (2, 13) else "cpu"


def read_zarr(path: str | os.PathLike[str], *, device: Any = "cpu", threads: int = 0):
    """Reads a whole Zarr array written by slidestream (v2, v3, sharded, any of its codecs)
    into a NumPy array (device="cpu") or a CudaArray ("cuda", "cuda:N"); (height, width) or
    (height, width, channels)."""
    return wrap(_core.read_array(os.fspath(path), device=normalize(device), threads=threads))


def zarr_info(path: str | os.PathLike[str]) -> dict:
    """Shape, dtype, chunks, shard, format, codec and attributes of a slidestream Zarr array."""
    info = _core.array_info(os.fspath(path))
    info["attributes"] = json.loads(info["attributes"])
    return info


class ZarrWriter:
    """One Zarr array written region by region, by one process or many.

    ``create_zarr`` makes the array; ``attach_zarr`` (in any process, on any machine sharing
    the file system) writes more chunks of it. Each writer writes whole chunks (shards when
    sharded) of its own with :meth:`write_region`; :meth:`finish_chunks` makes its chunks durable
    and writes no metadata; once every writer has finished its chunks, one calls :meth:`finish`
    and the metadata appears, so a partial array never looks complete.
    """

    def __init__(self, core_writer: Any) -> None:
        self._writer = core_writer

    @property
    def spec(self) -> dict:
        """shape, dtype, chunks, shard, zarr_format, codec, fill_value."""
        return self._writer.spec

    def write_region(self, y: int, x: int, array: Any) -> None:
        """Writes `array` ((h, w) or (h, w, c); host or GPU; any DLPack producer) with its
        top-left at (y, x), which must be on the chunk (shard) grid; it covers whole chunks
        except at the array's right and bottom edges."""
        if _is_cuda(array):
            normalize("cuda")
        self._writer.write_region(int(y), int(x), array)

    def set_attributes(self, attributes: dict) -> None:
        self._writer.set_attributes(json.dumps(attributes))

    def finish_chunks(self) -> dict:
        return self._writer.finish_chunks()

    def finish(self) -> dict:
        return self._writer.finish()


def _open_writer(attach: bool, path, shape, dtype, chunks, zarr_format, shard, codec,
                 codec_level, fill_value, overwrite, durable, threads, io, io_depth, layout):
    import numpy as np

    if len(shape) not in (2, 3):
        raise ValueError(f"shape must be (height, width) or (height, width, channels), "
                         f"got {tuple(shape)}")
    height, width = int(shape[0]), int(shape[1])
    channels = int(shape[2]) if len(shape) == 3 else 1
    ch, cw = _pair(chunks, "chunks")
    sh, sw = (0, 0) if shard in (None, 0) else _pair(shard, "shard")
    core = _core.open_array_writer(attach, os.fspath(path), height, width, channels,
                                   np.dtype(dtype).name, _core.ZarrGrid(ch, cw, sh, sw),
                                   zarr_format=zarr_format, codec=codec,
                                   codec_level=codec_level, fill_value=fill_value,
                                   overwrite=overwrite, durable=durable, threads=threads, io=io,
                                   io_depth=io_depth, layout=layout)
    return ZarrWriter(core)


def create_zarr(path: str | os.PathLike[str], shape: Sequence[int], dtype: Any = "uint8", *,
                chunks: int | Sequence[int] = 512, zarr_format: int = 3,
                shard: int | Sequence[int] | None = None, codec: str = "none",
                codec_level: int = 3, fill_value: float = 0, overwrite: bool = False,
                durable: bool = True, threads: int = 0, io: str = "auto",
                io_depth: int = 0, layout: str = "yxc") -> ZarrWriter:
    """Creates a Zarr array of `shape` ((height, width) or (height, width, channels); uint8,
    uint16, uint32 or float32) to be written region by region; see :class:`ZarrWriter` and
    :func:`write_zarr` for the options."""
    return _open_writer(False, path, shape, dtype, chunks, zarr_format, shard, codec,
                        codec_level, fill_value, overwrite, durable, threads, io, io_depth,
                        layout)


def attach_zarr(path: str | os.PathLike[str], shape: Sequence[int], dtype: Any = "uint8", *,
                chunks: int | Sequence[int] = 512, zarr_format: int = 3,
                shard: int | Sequence[int] | None = None, codec: str = "none",
                codec_level: int = 3, fill_value: float = 0, durable: bool = True,
                threads: int = 0, io: str = "auto", io_depth: int = 0,
                layout: str = "yxc") -> ZarrWriter:
    """A writer of more chunks of an array that :func:`create_zarr` made (maybe in another
    process), with the same shape and options. SlideNotFoundError when there is none;
    SlideExistsError when it is already complete."""
    return _open_writer(True, path, shape, dtype, chunks, zarr_format, shard, codec,
                        codec_level, fill_value, False, durable, threads, io, io_depth, layout)


def zarr_is_complete(path: str | os.PathLike[str]) -> bool:
    """True when `path` holds a finished output of slidestream's writers (a Zarr array or
    OME-Zarr group whose metadata, written last, is there); False for partial or missing ones."""
    return _core.is_complete(os.fspath(path))


# Host or device memory per block being read or written in convert (two blocks are in flight).
_BLOCK_BUDGET = 256 << 20


def _levels_to_write(levels: str | Sequence[int], count: int) -> list[int]:
    if levels == "all":
        return list(range(count))
    chosen = sorted({int(v) for v in levels})
    bad = [v for v in chosen if not 0 <= v < count]
    if bad or not chosen:
        raise ValueError(f"levels: {bad or 'none given'}; this slide has levels 0..{count - 1}")
    return chosen


def convert(slide: Slide | str | os.PathLike[str], out: str | os.PathLike[str], *,
            levels: str | Sequence[int] = "all", chunk: int = 512, zarr_format: int = 3,
            shard: int = 0, codec: str = "none", device: Any = "cpu", io: str = "auto",
            overwrite: bool = False, threads: int = 0, io_depth: int = 0,
            progress: Any = True) -> dict:
    """A slide's pyramid to an OME-Zarr image (NGFF 0.4 on Zarr v2, 0.5 on v3), as
    ``slidestream convert`` does: levels renumbered 0, 1, ... with their true scale, block by
    block, the next block read while the previous one is written.

    `progress`: True for a tqdm bar (where tqdm is installed), False for none, or a callable
    ``f(bytes_done, bytes_total)``. Returns {"levels", "bytes", "bytes_written", "files",
    "io_path"}.
    """
    own = not isinstance(slide, Slide)
    s = Slide(slide) if own else slide
    try:
        return _convert(s, os.fspath(out), _levels_to_write(levels, s.level_count), chunk,
                        zarr_format, shard, codec, require(device), io, overwrite, threads,
                        io_depth, progress)
    finally:
        if own:
            s.close()


def _itemsize(dtype: str) -> int:
    return {"uint8": 1, "uint16": 2}.get(dtype, 4)


def _blocks(level, unit: int):
    px = level.channels * _itemsize(level.dtype)
    unit_cols = -(-level.width // unit)
    cols = max(1, min(unit_cols, _BLOCK_BUDGET // max(unit * unit * px, 1)))
    block_w = min(level.width, cols * unit)
    for y in range(0, level.height, unit):
        for x in range(0, level.width, block_w):
            yield x, y, min(block_w, level.width - x), min(unit, level.height - y)


def _convert(slide: Slide, out: str, levels: list[int], chunk: int, zarr_format: int,
             shard: int, codec: str, device: str, io: str, overwrite: bool, threads: int,
             io_depth: int, progress: Any) -> dict:
    if chunk < 1:
        raise ValueError("chunk must be positive")
    if shard and (zarr_format != 3 or shard % chunk):
        raise ValueError("shard needs zarr_format=3 and a multiple of chunk")
    mpp_x, mpp_y = slide.mpp
    name = os.path.splitext(os.path.basename(slide.path))[0]
    group = _core.OmeZarrWriter(out, zarr_format=zarr_format, name=name, mpp_x=mpp_x,
                                mpp_y=mpp_y, overwrite=overwrite)
    infos = [slide.levels[i] for i in levels]
    total = sum(l.width * l.height * l.channels * _itemsize(l.dtype) for l in infos)
    bar, callback = make_bar(progress, total, "B", "convert")
    done = files = written = 0
    io_path = ""
    unit = shard or chunk
    try:
        with ThreadPoolExecutor(1) as reader:
            for out_index, info in enumerate(infos):
                grid = _core.ZarrGrid(chunk, chunk, shard, shard)
                writer = group.add_level(out_index, info.downsample, info.height, info.width,
                                         info.channels, info.dtype, grid, codec=codec,
                                         threads=threads, io=io, io_depth=io_depth)

                def read(block, level=info.index):
                    x, y, w, h = block
                    return slide._core.read_region(level, x, y, w, h, device=device,
                                                   threads=threads, io=io)

                blocks = list(_blocks(info, unit))
                pending = reader.submit(read, blocks[0]) if blocks else None
                for i, (x, y, w, h) in enumerate(blocks):
                    pixels = pending.result()
                    pending = reader.submit(read, blocks[i + 1]) if i + 1 < len(blocks) else None
                    writer.write_region(y, x, pixels)
                    done += w * h * info.channels * _itemsize(info.dtype)
                    if bar is not None:
                        bar.update_to(done)
                    elif callback is not None:
                        callback(done, total)
                report = writer.finish()
                files += report["chunks_written"]
                written += report["bytes_written"]
                io_path = report["io_path"]
        group.finish()
    finally:
        if bar is not None:
            bar.close()
    return {"levels": len(infos), "bytes": total, "bytes_written": written, "files": files,
            "io_path": io_path}
