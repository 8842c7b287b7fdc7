"""Functions that run in child processes (importable by spawned workers)."""

from __future__ import annotations

import numpy as np


def read_with_pickled_slide(args):
    slide, location, size = args
    return slide.read_region(location, 0, size)


def checksum_of(args):
    slide, location = args
    return int(np.asarray(slide.read_region(location, 0, (64, 64)), dtype=np.int64).sum())


def try_cuda_read(args):
    """(error class name, message) of a GPU read in a child, or ("ok", "")."""
    slide = args
    import slidestream

    try:
        slide.read_region((0, 0), 0, (16, 16), device="cuda")
    except slidestream.SlideError as e:
        return type(e).__name__, str(e)
    return "ok", ""


class SlidePatches:
    """A map-style dataset over a Slide opened in the parent (for torch's DataLoader)."""

    def __init__(self, slide, locations, size):
        self.slide, self.locations, self.size = slide, locations, size

    def __len__(self):
        return len(self.locations)

    def __getitem__(self, i):
        return self.slide.read_region(self.locations[i], 0, self.size)
