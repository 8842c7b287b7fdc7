"""The peers of bench/patches.py: random 256^2 level-0 patches read by OpenSlide (1 and N
threads), cuCIM's batch read_region (device cpu / cuda, N workers), tiffslide, fastslide and a
torch DataLoader over OpenSlide (N workers). Each function reads every location, copies each
batch into GPU memory when torch and a GPU are there (so that every row of the table ends where
ours does), and returns (seconds, {index: RGB patch on the host}) for the pixel check of a few
patches. A peer that is not installed raises ImportError, which the driver records as skipped.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

SIZE = 256
CHECK = 64  # patches kept for the pixel check (the first ones)


def to_gpu():
    """A function that puts a host batch into GPU memory (torch), or does nothing."""
    try:
        import torch

        if torch.cuda.is_available():
            def put(batch):
                t = torch.from_numpy(np.ascontiguousarray(batch)).cuda()
                torch.cuda.synchronize()
                return t
            return put
    except ImportError:
        pass
    return lambda batch: batch


def _batches(locs, batch):
    for i in range(0, len(locs), batch):
        yield i, locs[i:i + batch]


def _keep(kept, first, patches):
    for k, p in enumerate(patches):
        if first + k < CHECK:
            kept[first + k] = np.asarray(p)[..., :3].copy()


def openslide_threads(path, locs, threads, batch=256):
    import openslide

    local = threading.local()

    def read(loc):
        if not hasattr(local, "slide"):
            local.slide = openslide.OpenSlide(path)
        return np.asarray(local.slide.read_region((int(loc[0]), int(loc[1])), 0, (SIZE, SIZE)))

    put, kept = to_gpu(), {}
    with ThreadPoolExecutor(threads) as pool:
        t0 = time.perf_counter()
        for first, part in _batches(locs, batch):
            patches = list(pool.map(read, part)) if threads > 1 else [read(l) for l in part]
            rgb = np.stack(patches)[..., :3]
            put(rgb)
            _keep(kept, first, rgb)
        return time.perf_counter() - t0, kept


def tiffslide_threads(path, locs, threads, batch=256):
    import tiffslide

    local = threading.local()

    def read(loc):
        if not hasattr(local, "slide"):
            local.slide = tiffslide.TiffSlide(path)
        return local.slide.read_region((int(loc[0]), int(loc[1])), 0, (SIZE, SIZE),
                                       as_array=True)

    put, kept = to_gpu(), {}
    with ThreadPoolExecutor(threads) as pool:
        t0 = time.perf_counter()
        for first, part in _batches(locs, batch):
            rgb = np.stack(list(pool.map(read, part)))[..., :3]
            put(rgb)
            _keep(kept, first, rgb)
        return time.perf_counter() - t0, kept


def fastslide_threads(path, locs, threads, batch=256):
    import fastslide

    local = threading.local()

    def read(loc):
        if not hasattr(local, "slide"):
            local.slide = fastslide.FastSlide.from_file_path(path)
        return np.asarray(local.slide.read_region((int(loc[0]), int(loc[1])), 0,
                                                  (SIZE, SIZE)).numpy())

    put, kept = to_gpu(), {}
    with ThreadPoolExecutor(threads) as pool:
        t0 = time.perf_counter()
        for first, part in _batches(locs, batch):
            rgb = np.stack(list(pool.map(read, part)))[..., :3]
            put(rgb)
            _keep(kept, first, rgb)
        return time.perf_counter() - t0, kept


def cucim_batch(path, locs, device, workers, batch=64):
    """cuCIM's batch read_region: its buffer is reused, so each batch is copied before the
    next (to the GPU when device="cpu" and a GPU is there, as a CuPy copy on "cuda")."""
    from cucim import CuImage

    img = CuImage(path)
    put, kept = to_gpu(), {}
    where = np.asarray(locs, dtype=np.int64).tolist()  # a list of [x, y], as cuCIM documents
    t0 = time.perf_counter()
    gen = img.read_region(where, (SIZE, SIZE), 0, num_workers=workers, batch_size=batch,
                          device=device)
    first = 0
    for b in gen:
        if device == "cuda":
            import cupy

            arr = cupy.asarray(b).copy()
            if first < CHECK:
                _keep(kept, first, cupy.asnumpy(arr).reshape(-1, SIZE, SIZE, arr.shape[-1]))
        else:
            arr = np.asarray(b).copy().reshape(-1, SIZE, SIZE, np.asarray(b).shape[-1])
            put(arr[..., :3])
            _keep(kept, first, arr)
        first += batch
    return time.perf_counter() - t0, kept


class OpenSlideDataset:
    """A map-style dataset of RGB patches, each worker opening its own OpenSlide."""

    def __init__(self, path, locs):
        self.path, self.locs, self.slide = path, locs, None

    def __len__(self):
        return len(self.locs)

    def __getitem__(self, i):
        import openslide

        if self.slide is None:
            self.slide = openslide.OpenSlide(self.path)
        x, y = self.locs[i]
        rgba = self.slide.read_region((int(x), int(y)), 0, (SIZE, SIZE))
        return np.asarray(rgba)[..., :3].copy()


def torch_dataloader(path, locs, workers, batch=256):
    import torch.utils.data

    put, kept = to_gpu(), {}
    loader = torch.utils.data.DataLoader(OpenSlideDataset(path, [tuple(l) for l in locs]),
                                         batch_size=batch, num_workers=workers,
                                         pin_memory=torch.cuda.is_available())
    t0 = time.perf_counter()
    first = 0
    for b in loader:
        if torch.cuda.is_available():
            b.cuda(non_blocking=True)
            torch.cuda.synchronize()
        if first < CHECK:
            _keep(kept, first, b.numpy())
        first += len(b)
    del put
    return time.perf_counter() - t0, kept
