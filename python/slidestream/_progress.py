"""Progress bars: tqdm where installed, nothing otherwise; a callable may take their place."""

from __future__ import annotations

from typing import Any, Callable


class _Bar:
    def __init__(self, total: int, unit: str, description: str, enabled: bool) -> None:
        self._bar = None
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                scale = unit == "B"
                self._bar = tqdm(total=total, unit=unit, unit_scale=scale, desc=description,
                                 leave=False)

    def update_to(self, done: int) -> None:
        if self._bar is not None:
            self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def make_bar(progress: "bool | Callable[..., Any]", total: int, unit: str, description: str):
    """(bar or None, callback or None): a tqdm bar when progress is True, the caller's own
    callable when progress is callable, nothing when False."""
    if callable(progress):
        return None, progress
    return _Bar(total, unit, description, bool(progress)), None
