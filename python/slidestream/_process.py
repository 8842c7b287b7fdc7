"""The tiled pipeline from Python: a slide level through pathology ops into OME-Zarr or memory."""

from __future__ import annotations

import os
from typing import Any, Sequence

from . import _core
from ._arrays import wrap
from ._device import require
from ._progress import make_bar
from ._slide import Slide


def process(slide: Slide | str | os.PathLike[str], out: str | os.PathLike[str] | None,
            ops: Sequence[str] = ("sobel",), *, device: Any = "cpu", mode: str = "tiled",
            level: int = 0, tile: int = 512, slots: int = 0, threads: int = 0,
            io: str = "auto", zarr_format: int = 3, codec: str = "none", shard: int = 0,
            pyramid: bool = False, overwrite: bool = False, progress: Any = True) -> Any:
    """Runs a chain of ops over one level of a slide, as ``slidestream process`` does.

    Args:
        slide: a Slide or a path.
        out: the OME-Zarr directory to write, or None to return the result as an array
            (NumPy on the CPU, CudaArray on a GPU).
        ops: op names, applied in order: "sobel", "sobel-u8", "grey", "od", "od:240",
            "hed", "macenko" (fitted on the slide's lowest-resolution level).
        device: "cpu", "cuda" (GPU 0) or "cuda:N" (GPU N; one that does not exist is an
            InvalidArgumentError naming the GPUs there are).
        mode: "tiled" (bounded memory, tile by tile with halos) or "global" (the whole level
            at once); the output is the same bit for bit.
        tile: tile edge in output pixels, also the Zarr chunk edge.
        zarr_format, codec, shard, pyramid, overwrite, slots, threads, io: as the CLI's
            options of the same names.
        progress: True for a tqdm bar (where tqdm is installed), False for none, or a callable
            ``f(tiles_done, tiles_total, bytes_read, bytes_written, seconds)``.

    Returns:
        With `out`: the run's summary (seconds, tiles, bytes read and written, GPU memory, I/O
        paths). Without: the output array.
    """
    own = not isinstance(slide, Slide)
    s = Slide(slide) if own else slide
    options = _core.ProcessOptions()
    options.mode = mode
    options.device = require(device)  # before the output is touched
    options.level = int(level)
    options.tile = int(tile)
    options.slots = int(slots)
    options.threads = int(threads)
    options.io = io
    options.zarr_format = int(zarr_format)
    options.codec = codec
    options.shard = int(shard)
    options.pyramid = bool(pyramid)
    options.overwrite = bool(overwrite)
    if isinstance(ops, str):
        ops = [ops]
    bar, callback = make_bar(progress, 0, "tile", "process")
    if bar is not None:
        def callback(done, total, *_):  # noqa: F811 - the bar's own callback
            if bar._bar is not None:
                bar._bar.total = total
            bar.update_to(done)
    try:
        if out is None:
            array, _ = _core.process_to_array(s._core, list(ops), options, progress=callback)
            return wrap(array)
        return _core.process(s._core, list(ops), os.fspath(out), options, progress=callback)
    finally:
        if bar is not None:
            bar.close()
        if own:
            s.close()
