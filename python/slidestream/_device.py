"""Device strings, and the guard that keeps CUDA out of forked children.

A device is ``"cpu"``, ``"cuda"`` (the current GPU, index 0), ``"cuda:N"``, an ``int`` N (GPU N)
or anything whose ``str()`` is one of those (``torch.device``). CUDA cannot follow ``fork()``:
a child forked after its parent initialised CUDA gets errors or hangs from the driver. We note
when this process starts using CUDA (through slidestream, or through torch when it is imported),
and a forked child that tries a GPU call gets :class:`~slidestream.CudaForkError` naming the
cause and the fix (the ``spawn`` start method), instead of whatever the driver would do.
"""

from __future__ import annotations

import os
import sys

from . import _core
from ._errors import CudaForkError, UnsupportedError

_cuda_used_in_pid: int | None = None  # the pid of this process once it touched CUDA
_forked_from: int | None = None  # the parent's pid when it had CUDA going when we were forked
_in_forked_child = False


def _torch_cuda_initialized() -> bool:
    torch = sys.modules.get("torch")
    try:
        return bool(torch is not None and torch.cuda.is_initialized())
    except Exception:  # a partly imported or unusual torch: assume not
        return False


def _after_fork_in_child() -> None:
    global _forked_from, _cuda_used_in_pid, _in_forked_child
    _in_forked_child = True
    if _cuda_used_in_pid is not None or _torch_cuda_initialized() or _forked_from is not None:
        _forked_from = _forked_from or os.getppid()
    _cuda_used_in_pid = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def normalize(device: object) -> str:
    """``"cpu"`` or ``"cuda:N"`` for any accepted device spelling; raises on others. Whether the
    GPU is there is the library's check where it first touches it (or :func:`require`)."""
    if isinstance(device, bool):
        raise TypeError(f"device must be a string such as 'cpu' or 'cuda:0', not {device!r}")
    text = f"cuda:{device}" if isinstance(device, int) else str(device)
    kind, index = _core.parse_device(text)
    if kind == "cpu":
        return "cpu"
    use_cuda()
    return f"cuda:{index}"


def require(device: object) -> str:
    """:func:`normalize`, and for a GPU that is not there an InvalidArgumentError naming the
    GPUs there are: for calls that would otherwise create an output before touching the GPU."""
    name = normalize(device)
    _core.require_device(name)
    return name


def use_cuda() -> None:
    """Checks that this process may use CUDA, and remembers that it does."""
    global _cuda_used_in_pid
    if _forked_from is not None:
        raise CudaForkError(
            f"CUDA cannot be used in this process: it was forked from process {_forked_from} "
            "after that process had initialised CUDA, and CUDA does not survive fork(). Use the "
            "'spawn' start method (multiprocessing.set_start_method('spawn'), or "
            "torch.utils.data.DataLoader(..., multiprocessing_context='spawn')), or read on the "
            "CPU (device='cpu') in the workers.",
            kind="cuda")
    if not _core.has_cuda:
        raise UnsupportedError(
            "this slidestream was built without CUDA (no nvcc at build time): device='cuda' is "
            "not available; rebuild with the CUDA toolkit installed", kind="unsupported")
    _cuda_used_in_pid = os.getpid()


def default_threads(threads: int) -> int:
    """`threads` as given, except 0 ("all hardware threads") in a forked child becomes 1.

    The library's worker threads do not survive fork(): a forked child reads on its calling
    thread, and one thread per worker process is what DataLoader-style parallelism wants anyway
    (the parent's workers, once started, would be waited for but never run)."""
    return 1 if threads == 0 and _in_forked_child else threads
