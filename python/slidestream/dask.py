"""Slides on Dask: a slide level as a ``dask.array``, Dask arrays into our Zarr writer from many
workers, and batches of slides over a Dask cluster (one task per slide, one GPU per worker).

Design. Nothing here holds a ``Slide`` or a writer inside the task graph: graphs carry paths and
plain parameters, so they pickle to any worker (another process, another machine over a shared file
system). Each worker process opens a slide once, lazily, and keeps it (``_open_slide``: a cache per
process id, so a forked worker never uses its parent's handle).

Zarr from many workers (``to_zarr``): the client creates the array (a directory without metadata),
every block task attaches to it and writes whole chunks (shards) of its own, syncs them, and writes
no metadata; one last task, after every block, writes the metadata. An interrupted or failed
computation therefore leaves no metadata, and nothing reads it as complete
(``ArrayWriter.attach`` / ``finish_chunks`` in include/slidestream/zarr.hpp).

Batches (``process_slides``): a slide's output is complete when the root metadata that only a
finished run writes exists (``is_complete``, the rule of ``slidestream process --list``); complete
outputs are skipped, partial ones redone from scratch. A slide that fails is reported with its
error and the batch goes on; a task lost with its worker is resubmitted (Dask itself reschedules
tasks of a dead worker; tasks cancelled by ``client.restart()`` are resubmitted here).

Boundaries: our Sobel reflects at the image's edges half-sample symmetrically (``d c b a | a b c
d``: scipy.ndimage's "reflect", NumPy's "symmetric"). Dask's ``boundary="reflect"`` is the same
rule (it repeats the edge pixel), so ``map_overlap(sobel, depth=(1, 1, 0), boundary="reflect")``
over ``read_level`` equals our tiled Sobel bit for bit. Dask's "periodic" and "none" do not;
"nearest" coincides with "reflect" at depth 1 only (both repeat the edge pixel once)."""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = [
    "read_level",
    "sobel",
    "to_zarr",
    "process_slides",
    "is_complete",
    "output_path",
    "SlideResult",
    "format_summary",
]


# --------------------------------------------------------------------------------------------
# The core package, reached lazily (importing slidestream.dask must not need a built extension
# until a function runs; workers import it on first use).


def _core():
    import slidestream

    return slidestream


# --------------------------------------------------------------------------------------------
# One Slide per path per worker process.

_slides: dict[tuple[int, str], Any] = {}
_slides_lock = threading.Lock()


def _open_slide(path: str):
    key = (os.getpid(), path)
    with _slides_lock:
        slide = _slides.get(key)
        if slide is None:
            slide = _core().Slide(path)
            _slides[key] = slide
        return slide


def _xp(device: str):
    if device.startswith("cuda"):
        import cupy

        return cupy
    return np


def _as_array(image, device: str):
    """The array module's array over what Slide.read_* returned (no copy)."""
    if device.startswith("cuda"):
        import cupy

        return cupy.from_dlpack(image)
    return np.asarray(image)


# --------------------------------------------------------------------------------------------
# read_level


def _default_chunk(tile: int, target: int = 2048) -> int:
    """A multiple of the tile edge near `target` pixels (2048²×3 bytes = 12 MiB a chunk)."""
    return tile * max(1, round(target / tile))


class _LevelWindow:
    """An array-like over one slide level for ``dask.array.from_array``: pickles as its path and
    level; each ``[y0:y1, x0:x1, :]`` is one read by the reader of the worker that runs it."""

    def __init__(self, path: str, level: int, shape: tuple[int, int, int], dtype, device: str,
                 token):
        self.path = path
        self.level = level
        self.shape = shape
        self.dtype = np.dtype(dtype)
        self.ndim = 3
        self.device = device
        self._token = token

    def __dask_tokenize__(self):
        return ("slidestream-level", self._token, self.level, self.device)

    def __getitem__(self, key):
        ys, xs = key[0], key[1]
        y0, y1, _ = ys.indices(self.shape[0])
        x0, x1, _ = xs.indices(self.shape[1])
        slide = _open_slide(self.path)
        image = slide.read_level_region(self.level, (x0, y0), (max(0, x1 - x0), max(0, y1 - y0)),
                                        device=self.device)
        out = _as_array(image, self.device)
        return out[:, :, key[2]] if len(key) > 2 else out


def read_level(slide_path, level: int = 0, chunks=None, device: str = "cpu"):
    """A slide level as a lazy ``dask.array`` of shape (height, width, channels): RGB uint8 for
    RGB slides, the level's own samples otherwise (grey uint16, float32...).

    Each chunk is read by our reader in whichever worker computes it (the slide opened once per
    worker process). ``chunks``: an int or (rows, cols) in pixels; by default a multiple of the
    level's tile edge near 2048 px, so that no tile is decoded for two chunks. Chunks that are not
    multiples of the tile size work, but decode the tiles they share more than once.
    ``device="cuda"`` (or "cuda:N") reads into GPU memory: the chunks are CuPy arrays and so is
    the array's meta.
    """
    import dask.array as da

    path = os.path.abspath(os.fspath(slide_path))
    stat = os.stat(path)
    with _core().Slide(path) as slide:
        info = slide.levels[level]
    width, height, tile_w, tile_h = info.width, info.height, info.tile_width, info.tile_height
    tile_w, tile_h = tile_w or 512, tile_h or 512  # an untiled (strip) level: any chunk is as good
    if chunks is None:
        chunks = (_default_chunk(tile_h), _default_chunk(tile_w))
    elif isinstance(chunks, int):
        chunks = (chunks, chunks)
    rows, cols = int(chunks[0]), int(chunks[1])
    if rows <= 0 or cols <= 0:
        raise ValueError(f"chunks must be positive, got {chunks!r}")
    token = (path, stat.st_size, stat.st_mtime_ns)
    window = _LevelWindow(path, level, (height, width, info.channels), info.dtype, device, token)
    meta = _xp(device).empty((0, 0, 0), dtype=window.dtype)
    name = "slidestream-read-level-" + _tokenize(window)
    return da.from_array(
        window, chunks=(rows, cols, info.channels), name=name, asarray=False, fancy=False,
        meta=meta,
    )


def _tokenize(*objects) -> str:
    from dask.base import tokenize

    return tokenize(*objects)


# --------------------------------------------------------------------------------------------
# sobel: our kernel's arithmetic on NumPy or CuPy blocks


def sobel(block):
    """Per-channel Sobel magnitude (scikit-image's definition) of a (H, W[, C]) block, float32, in
    the same sequence of IEEE float32 operations as our kernels (src/ops/kernel_math.hpp), so that
    it equals them bit for bit. uint8 input is scaled to [0, 1] first (x / 255), float32 taken as
    it is. The block's outermost row and column on each side are the halo: use it through
    ``dask.array.map_overlap(sobel, arr, depth=(1, 1, 0), boundary="reflect", dtype=np.float32)``
    (the halo is trimmed by map_overlap, so this returns the block's full shape)."""
    xp = _array_module(block)
    f32 = xp.float32
    if block.dtype == xp.uint8:
        v = block.astype(f32) / f32(255)
    else:
        v = block.astype(f32, copy=False)
    h, w = v.shape[0], v.shape[1]
    out = xp.zeros(v.shape, dtype=f32)
    if h < 3 or w < 3:
        return out
    a, b, c = v[:-2], v[1:-1], v[2:]

    def col(rows, k):
        return rows[:, k : w - 2 + k]

    # gx = ((a2 - a0) + 2 (b2 - b0)) + (c2 - c0), times 1/4; gy likewise down the columns.
    gx = ((col(a, 2) - col(a, 0)) + f32(2) * (col(b, 2) - col(b, 0))) + (col(c, 2) - col(c, 0))
    gx = gx * f32(0.25)
    gy = ((col(c, 0) - col(a, 0)) + f32(2) * (col(c, 1) - col(a, 1))) + (col(c, 2) - col(a, 2))
    gy = gy * f32(0.25)
    out[1:-1, 1:-1] = xp.sqrt((gx * gx + gy * gy) * f32(0.5))
    return out


def _array_module(array):
    mod = type(array).__module__
    if mod.startswith("cupy"):
        import cupy

        return cupy
    return np


# --------------------------------------------------------------------------------------------
# to_zarr: our writer from many workers


_DTYPES = {np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.uint32), np.dtype(np.float32)}


def _aligned_chunks(sizes: Sequence[int], unit: int) -> bool:
    """Every block but the last a multiple of `unit`: blocks then hold whole units."""
    return all(s % unit == 0 for s in sizes[:-1])


def to_zarr(
    array,
    path,
    *,
    chunks=None,
    shard=None,
    zarr_format: int = 3,
    codec: str = "none",
    codec_level: int = 3,
    attributes: dict | None = None,
    overwrite: bool = False,
    durable: bool = True,
    compute: bool = True,
    layout: str = "yxc",
):
    """Writes a 2-D (y, x) or 3-D (y, x, c) Dask array (NumPy or CuPy blocks) to a Zarr array at
    ``path`` with our writer, each block written by the worker that computes it.

    ``chunks``: the Zarr chunk edge(s) in pixels (default: the array's first block shape, capped at
    1024). ``shard`` (v3): shard edge(s), a multiple of the chunk. The Dask array is rechunked so
    that every block holds whole chunks (shards), so no two workers ever write one file. The
    metadata is written once, by a last task after every block has landed (synced when
    ``durable``): until then the array has no metadata and no reader takes it for complete.
    ``overwrite``: what is at ``path`` (a Zarr, a partial output, anything) is replaced, but only
    once the new array is complete: the blocks are written into a sibling
    (``<path>.partial-XXXXXX``) that the last task swaps into place, so a failed run leaves the
    old output byte for byte. A failed computation returns (raises) only after every block task
    it started has ended, and then removes what it wrote. ``compute=False`` returns a
    ``dask.delayed`` that writes when computed (the empty array directory is made now; a failed
    compute of it leaves its partial output, which has no metadata). Returns the
    ``WriteReport``-like dict of the whole write when computed. ``layout``: "yxc" (default; the
    (H, W, C) array ``dask.array.to_zarr`` writes) or "cyx" (OME-NGFF's (c, y, x)), as in
    :func:`slidestream.write_zarr`.
    """
    import dask

    if array.ndim not in (2, 3):
        raise ValueError(f"to_zarr takes (y, x) or (y, x, c) arrays, not {array.ndim}-D")
    if np.dtype(array.dtype) not in _DTYPES:
        raise TypeError(f"dtype {array.dtype} is not one of uint8, uint16, uint32, float32")
    height, width = int(array.shape[0]), int(array.shape[1])
    channels = int(array.shape[2]) if array.ndim == 3 else 1
    if chunks is None:
        chunks = (min(array.chunks[0][0], 1024), min(array.chunks[1][0], 1024))
    chunk_h, chunk_w = (chunks, chunks) if isinstance(chunks, int) else map(int, chunks)
    shard_h, shard_w = (0, 0) if not shard else ((shard, shard) if isinstance(shard, int) else shard)
    unit_h, unit_w = (shard_h or chunk_h), (shard_w or chunk_w)
    if array.ndim == 3 and len(array.chunks[2]) != 1:
        array = array.rechunk({2: -1})
    if not (_aligned_chunks(array.chunks[0], unit_h) and _aligned_chunks(array.chunks[1], unit_w)):
        rows = max(unit_h, array.chunks[0][0] // unit_h * unit_h)
        cols = max(unit_w, array.chunks[1][0] // unit_w * unit_w)
        array = array.rechunk({0: rows, 1: cols})

    spec = dict(
        shape=(height, width) if array.ndim == 2 else (height, width, channels),
        dtype=np.dtype(array.dtype).name,
        chunks=(int(chunk_h), int(chunk_w)),
        shard=(int(shard_h), int(shard_w)) if shard_h else None,
        zarr_format=int(zarr_format),
        codec=codec,
        codec_level=int(codec_level),
        layout=layout,
    )
    path = os.path.abspath(os.fspath(path))
    units = math.ceil(array.chunks[0][0] / unit_h) * math.ceil(array.chunks[1][0] / unit_w)
    io_depth = max(1, min(units, 64))  # a block's units at once; more would be idle threads
    # The array's directory, no metadata: the blocks attach to it. An old output stays where it
    # is until the new array is complete.
    replacing = overwrite and os.path.lexists(path)
    write_path = _core()._core.stage_replacement(path, overwrite_any=True) if replacing else path
    _core().create_zarr(write_path, **spec, overwrite=replacing, durable=durable)

    def write_block(block, block_info=None):
        (y0, _), (x0, _) = block_info[0]["array-location"][:2]
        writer = _core().attach_zarr(write_path, **spec, durable=durable, threads=io_depth,
                                     io_depth=io_depth)
        writer.write_region(int(y0), int(x0), _contiguous(block))
        report = writer.finish_chunks()
        return np.array([[report["bytes_written"]]], dtype=np.int64).reshape(
            (1, 1) + (1,) * (block.ndim - 2)
        )

    written = array.map_blocks(
        write_block,
        dtype=np.int64,
        chunks=tuple((1,) * len(c) for c in array.chunks),
        meta=np.empty((0,) * array.ndim, dtype=np.int64),
        # Writing is a side effect: every call's tasks are its own (a rerun after a failure must
        # not find the failed run's keys still held on a cluster).
        name="slidestream-to-zarr-" + _tokenize(array.name, path, spec, uuid.uuid4().hex),
    )

    @dask.delayed(pure=False)
    def finish(chunk_bytes):
        writer = _core().attach_zarr(write_path, **spec, durable=durable, threads=1, io_depth=1)
        if attributes is not None:
            writer.set_attributes(attributes)
        report = dict(writer.finish())
        if replacing:
            _core()._core.commit_replacement(write_path, path, durable)
        report["bytes_written"] += int(np.sum(chunk_bytes))
        return report

    if not compute:
        return finish(written.sum())
    try:
        return _compute_settled(written, lambda landed: finish(landed.sum()))
    except BaseException:
        # Every block task of this compute has ended: nothing writes here any more.
        shutil.rmtree(write_path, ignore_errors=True)
        raise


def _compute_settled(blocks, then):
    """``then(blocks).compute()``, but a failure raises only after every task of the computation
    that is running has ended. Dask raises at a task's first error while the computation's other
    running tasks go on (the local schedulers' pool threads, a cluster's workers), and a block
    writer that outlives the call would write into what the caller does next at that path (a
    cleanup, a rerun with overwrite)."""
    import dask
    import dask.threaded
    from dask.base import get_scheduler

    get = get_scheduler(collections=[blocks])
    client = get if "Client" in type(get).__name__ else getattr(get, "__self__", None)
    if client is not None and hasattr(client, "persist") and hasattr(client, "gather"):
        from distributed import futures_of, wait

        landed = client.persist(blocks)
        futures = futures_of(landed)
        wait(futures)  # returns when every block has finished or failed
        for future in futures:
            if future.status != "finished":
                future.result()  # raises the block's error
        return then(landed).compute()
    if get is dask.threaded.get:
        from concurrent.futures import ThreadPoolExecutor

        from dask.system import CPU_COUNT

        pool = ThreadPoolExecutor(dask.config.get("num_workers", None) or CPU_COUNT)
        try:
            return then(blocks).compute(scheduler="threads", pool=pool)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    # The synchronous scheduler runs one task at a time; other schedulers: as Dask does.
    return then(blocks).compute()


def _contiguous(block):
    if isinstance(block, np.ndarray):
        return np.ascontiguousarray(block)
    return _array_module(block).ascontiguousarray(block)


# --------------------------------------------------------------------------------------------
# process_slides


def is_complete(output) -> bool:
    """True when ``output`` holds a finished output of our writers: the root metadata every writer
    here writes last (v3 zarr.json; v2 .zgroup or .zarray). The rule of ``zarr::is_complete`` and of
    ``slidestream process --list``."""
    return _core().zarr_is_complete(output)


def output_path(output_dir, slide) -> Path:
    """OUTPUT_DIR/<slide file name without extension (and without .ome)>.zarr: the name
    ``slidestream process --list`` gives, so both batch routes resume each other's work."""
    stem = Path(slide).stem
    if stem.endswith(".ome"):
        stem = stem[: -len(".ome")]
    return Path(output_dir) / f"{stem}.zarr"


@dataclasses.dataclass
class SlideResult:
    slide: str
    output: str
    status: str  # "done", "skipped" (complete already), "failed"
    seconds: float = 0.0
    bytes: int = 0
    gpu: str = ""  # host:GPU (CUDA_VISIBLE_DEVICES of the worker) or "cpu"
    worker: str = ""
    error: str = ""  # failed: the exception's type and message (file, level, tile in it)


def _gpu_label(device: str) -> str:
    if not device.startswith("cuda"):
        return "cpu"
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    index = device.split(":", 1)[1] if ":" in device else "0"
    gpus = [g for g in visible.split(",") if g]
    physical = gpus[int(index)] if index.isdigit() and int(index) < len(gpus) else index
    return f"{socket.gethostname()}:{physical}"


def _bytes_under(root: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            try:
                total += os.stat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def _process_one(slide: str, output: str, ops, device: str, options: dict,
                 retry: bool = False) -> SlideResult:
    """One slide on a worker: never raises for the slide's own failure (the batch goes on).
    `retry`: resubmitted after a restart, which may have come after this slide's output was
    finished (then it is "done", not "skipped")."""
    result = SlideResult(slide=slide, output=output, status="done", gpu=_gpu_label(device))
    try:
        from distributed import get_worker

        result.worker = get_worker().address
    except Exception:
        result.worker = f"{socket.gethostname()}:{os.getpid()}"
    with _output_lock(output):
        if is_complete(output):  # finished meanwhile (a concurrent run, a resubmitted task)
            result.status = "done" if retry else "skipped"
            result.bytes = _bytes_under(Path(output))
            return result
        start = time.perf_counter()
        try:
            # A partial output (no root metadata) is this batch's own leftover, and the writers
            # refuse to replace a directory that does not look like a finished Zarr: clear it
            # under the lock first, so the slide is redone from scratch.
            if os.path.lexists(output):
                shutil.rmtree(output)
            core = _core()
            if ops is None:
                core.convert(slide, output, device=device, overwrite=True, progress=False,
                             **options)
            else:
                core.process(slide, output, ops=list(ops), device=device, overwrite=True,
                             progress=False, **options)
            result.bytes = _bytes_under(Path(output))
        except Exception as e:  # the slide's own failure: reported, not raised
            result.status = "failed"
            result.error = f"{type(e).__name__}: {e}"
        result.seconds = time.perf_counter() - start
    return result


class _output_lock:
    """An exclusive lock on one output, held while a task writes it: a task cancelled by a
    restart keeps running until its worker process is gone, and its resubmitted copy must not
    clear the output under it (nor it under the copy). A file lock (flock on a hidden sibling
    OUT_DIR/.NAME.lock, never removed) is released by the kernel when its process dies, however
    it dies; on NFS v4 flock is a POSIX lock and works across machines."""

    def __init__(self, output: str):
        out = Path(output)
        self.path = out.parent / f".{out.name}.lock"

    def __enter__(self):
        import fcntl

        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)  # releases the lock


def process_slides(
    slides: Iterable,
    output_dir,
    ops: Sequence[str] | None = ("sobel",),
    client=None,
    device: str = "cuda",
    *,
    progress: bool = True,
    summary: bool = True,
    resubmit: int = 2,
    **options,
) -> list[SlideResult]:
    """Runs a batch of slides over a Dask cluster, one task per slide, and returns one
    ``SlideResult`` per slide, in the order given.

    Each slide goes through ``slidestream.process(slide, OUT, ops=ops, device=device,
    **options)`` (``ops=None``: ``slidestream.convert`` to an OME-Zarr pyramid instead) into
    ``output_path(output_dir, slide)``. ``device="cuda"`` is the worker's first visible GPU: with
    dask-cuda's ``LocalCUDACluster`` (one worker per GPU, one thread each) every task has a GPU of
    its own. ``client``: a ``distributed.Client``; None takes the current one, or starts a local
    cluster for the call (``LocalCUDACluster`` for "cuda" where dask-cuda is installed).

    Resumable: slides whose output ``is_complete`` are skipped (no task); partial outputs are
    redone from scratch. A slide that fails is reported (``status="failed"``, ``error``) and the
    others go on. A task lost with its worker is rescheduled by Dask; one cancelled under us (a
    ``client.restart()``) is resubmitted up to ``resubmit`` times. ``progress``: Dask's progress
    bar on the terminal; ``summary``: print the table of ``format_summary`` at the end.
    """
    from distributed import CancelledError, wait

    slides = [os.path.abspath(os.fspath(s)) for s in slides]
    output_dir = Path(output_dir).absolute()
    outputs = [output_path(output_dir, s) for s in slides]
    seen: dict[Path, str] = {}
    for slide, out in zip(slides, outputs):
        if out in seen:
            raise ValueError(f"slides {seen[out]} and {slide} would both write {out} (rename one)")
        seen[out] = slide
    output_dir.mkdir(parents=True, exist_ok=True)

    own_cluster = None
    if client is None:
        client, own_cluster = _default_client(device)
    try:
        results: list[SlideResult | None] = [None] * len(slides)
        pending: dict[int, Any] = {}
        for i, (slide, out) in enumerate(zip(slides, outputs)):
            if is_complete(out):
                results[i] = SlideResult(
                    slide=slide, output=str(out), status="skipped", bytes=_bytes_under(out)
                )
                continue
            pending[i] = None
        attempts = 0
        while pending:
            futures = {
                i: client.submit(
                    _process_one, slides[i], str(outputs[i]), ops, device, options, attempts > 0,
                    # One prefix for the progress bar and the dashboard; unique per attempt.
                    key=f"slidestream-process-{uuid.uuid4().hex}",
                    pure=False,
                )
                for i in pending
            }
            try:
                if progress:
                    from distributed import progress as dask_progress

                    dask_progress(list(futures.values()))
                wait(list(futures.values()))
            except CancelledError:  # a restart cancelled some: each future is looked at below
                pass
            lost = {}
            for i, future in futures.items():
                try:
                    results[i] = future.result()
                except CancelledError:
                    lost[i] = "cancelled (its worker restarted)"
                except Exception as e:  # KilledWorker and the like: the task, not the slide
                    lost[i] = f"{type(e).__name__}: {e}"
            attempts += 1
            if attempts > resubmit:
                for i, why in lost.items():
                    results[i] = SlideResult(
                        slide=slides[i], output=str(outputs[i]), status="failed", error=why
                    )
                break
            pending = lost
        if summary:
            print(format_summary(results))
        return results  # type: ignore[return-value]
    finally:
        if own_cluster is not None:
            client.close()
            own_cluster.close()


def _default_client(device: str):
    from distributed import Client, get_client

    try:
        return get_client(), None
    except ValueError:
        pass
    if device.startswith("cuda"):
        try:
            from dask_cuda import LocalCUDACluster

            cluster = LocalCUDACluster()
            return Client(cluster), cluster
        except ImportError:
            pass
    from distributed import LocalCluster

    cluster = LocalCluster(threads_per_worker=1)
    return Client(cluster), cluster


def format_summary(results: Sequence[SlideResult]) -> str:
    """A text table: slide, seconds, bytes, GPU, status (and the error of each failed slide)."""
    rows = [("slide", "seconds", "bytes", "GPU", "status")]
    for r in results:
        status = r.status if not r.error else f"{r.status}: {r.error}"
        rows.append((Path(r.slide).name, f"{r.seconds:.2f}", f"{r.bytes:,}", r.gpu or "-", status))
    widths = [max(len(row[k]) for row in rows) for k in range(4)]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].rjust(widths[2]),
                 row[3].ljust(widths[3]), row[4]]
        lines.append("  ".join(cells))
    done = sum(r.status == "done" for r in results)
    skipped = sum(r.status == "skipped" for r in results)
    failed = sum(r.status == "failed" for r in results)
    lines.append(f"{len(results)} slides: {done} done, {skipped} skipped (complete), {failed} failed")
    return "\n".join(lines)
