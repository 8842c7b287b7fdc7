"""PatchLoader: batches of patches from many slides, read ahead on the loader's own threads.

Training and inference code iterates a :class:`PatchLoader` in its main process; each batch is
one (B, H, W, C) array (NumPy on the CPU, a DLPack :class:`CudaArray` on a GPU: ``torch`` and
CuPy take it without a copy) plus which slide and which level-0 location each patch came from.
Batches are read by :meth:`Slide.read_regions` (each tile a batch touches decoded once, on CPU
threads and nvJPEG), `prefetch` batches ahead, on threads that release the GIL, so the consumer
seldom waits. The order of an epoch is fixed by `seed` (and the epoch number when shuffling);
every location of every slide comes exactly once per epoch. A damaged tile fails the batch with
an error naming slide, level and tile (``on_error="raise"``) or drops the patches it touches and
lists them in ``batch.skipped`` (``on_error="skip"``).
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from . import _core
from ._arrays import wrap
from ._device import normalize as normalize_device
from ._errors import SlideError
from ._slide import Slide, TileCache

Sampler = Callable[[Slide, np.random.Generator], Any]


class PatchBatch(NamedTuple):
    """One batch: ``patches`` (B, H, W, C) (uint8, float16 or float32), ``slides`` (B,) the
    index of each patch's slide, ``locations`` (B, 2) its level-0 (x, y), ``skipped`` the
    (slide index, x, y, error message) of patches dropped with ``on_error="skip"``."""

    patches: Any
    slides: np.ndarray
    locations: np.ndarray
    skipped: list[tuple[int, int, int, str]]


class random_sampler:  # noqa: N801 (a function to its callers; a class so that it pickles)
    """A sampler for :class:`PatchLoader`: `count` random level-0 corners per slide and epoch,
    each patch's footprint (`size` pixels of `level`, or at `mpp`) inside level 0."""

    def __init__(self, count: int, size: int, mpp: float | None = None, level: int = 0) -> None:
        self.count, self.size, self.mpp, self.level = int(count), int(size), mpp, int(level)

    def __call__(self, slide: Slide, rng: np.random.Generator) -> np.ndarray:
        w, h = slide.dimensions
        scale = (self.mpp / slide.mpp[0]) if self.mpp else slide.level_downsamples[self.level]
        foot = int(np.ceil(self.size * scale))
        xs = rng.integers(0, max(w - foot, 0) + 1, self.count)
        ys = rng.integers(0, max(h - foot, 0) + 1, self.count)
        return np.stack([xs, ys], axis=1)


class PatchLoader:
    """Batches of `size` × `size` patches from `slides` at `level` or at `mpp`.

    Args:
        slides: paths or :class:`Slide` objects.
        coordinates: per slide an (N, 2) array of level-0 (x, y) corners (one array when there
            is one slide), e.g. from :func:`slidestream.patch_grid`; or
        sampler: a callable (slide, numpy Generator) -> (N, 2) corners, called once per slide
            and epoch (:func:`random_sampler`).
        size: patch side in pixels (of `level`, or at `mpp`).
        mpp: read at this resolution (area averaging from the best level) instead of `level`.
        batch_size: patches per batch (the last batch of an epoch may be smaller unless
            `drop_last`).
        device: "cpu", "cuda" or "cuda:N".
        dtype: "uint8", "float16" or "float32" (floats are v / 255, normalized if asked).
        normalize: (mean, std) per channel for float dtypes.
        shuffle, seed: the epoch's order is a permutation drawn from (seed, epoch); without
            shuffle, slides are interleaved round-robin in their coordinates' order.
        prefetch: batches read ahead (and threads reading them).
        cache_bytes: a :class:`TileCache` of this many bytes shared by the reads (0: none).
        on_error: "raise" or "skip".
        threads: CPU threads per batch read (0: all).
    """

    def __init__(self, slides: Sequence[Slide | str | os.PathLike[str]] | Slide | str,
                 coordinates: Any = None, *, sampler: Sampler | None = None, size: int = 256,
                 level: int = 0, mpp: float | None = None, batch_size: int = 64,
                 device: Any = "cuda", dtype: str = "uint8",
                 normalize: tuple[Sequence[float], Sequence[float]] | None = None,
                 shuffle: bool = False, seed: int = 0, prefetch: int = 2, cache_bytes: int = 0,
                 on_error: str = "raise", threads: int = 0, drop_last: bool = False) -> None:
        if isinstance(slides, (str, os.PathLike, Slide)):
            slides = [slides]
        self.slides = [s if isinstance(s, Slide) else Slide(s) for s in slides]
        if (coordinates is None) == (sampler is None):
            raise ValueError("give either coordinates or a sampler")
        if coordinates is not None and len(self.slides) == 1 and not isinstance(coordinates, list):
            coordinates = [coordinates]
        if coordinates is not None:
            if len(coordinates) != len(self.slides):
                raise ValueError(f"{len(coordinates)} coordinate arrays for "
                                 f"{len(self.slides)} slides")
            coordinates = [np.asarray(c, dtype=np.int64).reshape(-1, 2) for c in coordinates]
        if dtype not in ("uint8", "float16", "float32"):
            raise ValueError(f"dtype must be uint8, float16 or float32, got {dtype!r}")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        if batch_size <= 0 or size <= 0 or prefetch <= 0:
            raise ValueError("batch_size, size and prefetch must be positive")
        self.coordinates = coordinates
        self.sampler = sampler
        self.size, self.level, self.mpp = int(size), int(level), mpp
        self.batch_size, self.device = int(batch_size), normalize_device(device)
        self.dtype, self.shuffle, self.seed = dtype, shuffle, int(seed)
        self.prefetch, self.on_error, self.threads = int(prefetch), on_error, int(threads)
        self.drop_last = drop_last
        self.mean, self.std = ((list(map(float, normalize[0])), list(map(float, normalize[1])))
                               if normalize is not None else ([], []))
        self.cache = TileCache(cache_bytes) if cache_bytes > 0 else None
        self.channels = self.slides[0].levels[self.level].channels if self.slides else 3
        self.epoch = 0
        self._worker_share = (0, 1)  # (index, count): a torch DataLoader worker's part

    # --- the epoch's plan ----------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """The next iteration is epoch `epoch` (its shuffle and sampler draws)."""
        self.epoch = int(epoch)

    def _items(self, epoch: int) -> np.ndarray:
        """(M, 3) int64 rows of (slide index, x, y): the epoch's patches in order."""
        rng = np.random.default_rng([self.seed, epoch])
        per_slide = []
        for i, slide in enumerate(self.slides):
            xy = (self.coordinates[i] if self.coordinates is not None
                  else np.asarray(self.sampler(slide, rng), dtype=np.int64).reshape(-1, 2))
            per_slide.append(np.column_stack([np.full(len(xy), i, np.int64), xy]))
        if not per_slide:
            return np.zeros((0, 3), np.int64)
        if self.shuffle:
            items = np.concatenate(per_slide)
            return items[rng.permutation(len(items))]
        # Round-robin over the slides, each in its own order.
        rank = np.concatenate([np.arange(len(p)) for p in per_slide])
        items = np.concatenate(per_slide)
        return items[np.lexsort((items[:, 0], rank))]

    def _batches(self, epoch: int) -> list[np.ndarray]:
        items = self._items(epoch)
        batches = [items[i:i + self.batch_size] for i in range(0, len(items), self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        index, count = self._worker_share
        return batches[index::count]

    def __len__(self) -> int:
        return len(self._batches(self.epoch))

    # --- reading -------------------------------------------------------------------------------
    def _read_group(self, slide: Slide, xy: np.ndarray, out: Any, first: int) -> None:
        _core.read_regions(slide._core, self.level, np.ascontiguousarray(xy), self.size,
                           self.size, device=self.device, out=out, threads=self.threads,
                           cache=self.cache._core if self.cache else None,
                           mpp=float(self.mpp or 0.0), first=first)

    def _fill(self, rows: np.ndarray, out: Any, skipped: list) -> np.ndarray | None:
        """Reads `rows` (ordered by slide) into `out`; with on_error="skip", the rows whose
        patch failed (recorded in `skipped`), else None."""
        bad = None
        starts = np.flatnonzero(np.r_[True, rows[1:, 0] != rows[:-1, 0]])
        for k, start in enumerate(starts):
            end = starts[k + 1] if k + 1 < len(starts) else len(rows)
            slide = self.slides[int(rows[start, 0])]
            try:
                self._read_group(slide, rows[start:end, 1:], out, int(start))
            except SlideError:
                if self.on_error == "raise":
                    raise
                for j in range(start, end):  # patch by patch: find the damaged ones
                    try:
                        self._read_group(slide, rows[j:j + 1, 1:], out, j)
                    except SlideError as e:
                        bad = np.zeros(len(rows), bool) if bad is None else bad
                        bad[j] = True
                        skipped.append((int(rows[j, 0]), int(rows[j, 1]), int(rows[j, 2]),
                                        str(e)))
        return bad

    def _read_batch(self, rows: np.ndarray) -> PatchBatch:
        # Patches of one slide are read together: order the batch by slide (stable).
        rows = rows[np.argsort(rows[:, 0], kind="stable")]
        skipped: list[tuple[int, int, int, str]] = []
        while True:
            out = _core.empty_patches(len(rows), self.size, self.size, self.channels,
                                      self.device)
            if len(rows) == 0:
                break
            bad = self._fill(rows, out, skipped)
            if bad is None:
                break
            rows = rows[~bad]  # read the good ones again into a batch without gaps
        patches = out
        if self.dtype != "uint8":
            patches = _core.convert_patches(patches, self.dtype, self.mean, self.std)
        return PatchBatch(wrap(patches), rows[:, 0].copy(), rows[:, 1:].copy(), skipped)

    def __iter__(self) -> Iterator[PatchBatch]:
        batches = self._batches(self.epoch)
        self.epoch += 1
        with concurrent.futures.ThreadPoolExecutor(self.prefetch,
                                                   thread_name_prefix="slidestream-loader") as pool:
            pending: collections.deque = collections.deque()
            it = iter(batches)
            for rows in it:
                pending.append(pool.submit(self._read_batch, rows))
                if len(pending) >= self.prefetch:
                    break
            for rows in it:
                result = pending.popleft().result()
                pending.append(pool.submit(self._read_batch, rows))
                yield result
            while pending:
                yield pending.popleft().result()

    def torch_dataset(self) -> TorchPatchDataset:
        """This loader as a ``torch.utils.data.IterableDataset`` (see TorchPatchDataset)."""
        return _new_torch_dataset(self)


class TorchPatchDataset:
    """A PatchLoader for code that expects a ``torch.utils.data.IterableDataset``: yields
    (patches as a torch tensor, slide indices, level-0 locations) per batch. Use it with
    ``DataLoader(dataset, batch_size=None)``: batching, read-ahead and threads are the loader's.
    With ``num_workers > 0`` each worker reads its own share of the batches (every patch still
    once per epoch); GPU batches then need the "spawn" start method, since CUDA does not survive
    fork() (a forked worker raises CudaForkError saying so)."""

    def __init__(self, loader: PatchLoader) -> None:
        super().__init__()
        self.loader = loader

    def __reduce__(self):
        # The class torch_dataset() returns is made at run time: pickle (DataLoader workers under
        # spawn) rebuilds it through a module-level function.
        return (_new_torch_dataset, (self.loader,))

    def __iter__(self):
        import torch
        import torch.utils.data

        info = torch.utils.data.get_worker_info()
        if info is not None:
            self.loader._worker_share = (info.id, info.num_workers)
        for batch in self.loader:
            yield (torch.from_dlpack(batch.patches), torch.from_numpy(batch.slides),
                   torch.from_numpy(batch.locations))


_TORCH_DATASET = None


def _torch_dataset_class():
    """TorchPatchDataset with torch's IterableDataset as a base, made at first use: importing
    torch while slidestream itself is being imported aborted the interpreter on the GPU machine
    (torch 2.11, "free(): invalid pointer" in torch/_sources.py), so slidestream never imports
    torch at import time."""
    global _TORCH_DATASET
    if _TORCH_DATASET is None:
        import torch.utils.data

        _TORCH_DATASET = type("TorchPatchDataset",
                              (TorchPatchDataset, torch.utils.data.IterableDataset), {})
    return _TORCH_DATASET


def _new_torch_dataset(loader: PatchLoader):
    return _torch_dataset_class()(loader)
