"""Exceptions raised by slidestream.

Every error from the C++ core is a :class:`SlideError` (or a subclass chosen by its kind) that
carries where it happened: ``file``, ``level``, ``tile`` and ``offset`` (``None`` where not known)
and the library's ``kind`` and ``cause``. ``str(error)`` is the library's one-line message.
Subclasses also derive from the matching built-in exception (``FileNotFoundError``,
``MemoryError``, ``ValueError``, ...), so ``except OSError`` style code keeps working.
"""

from __future__ import annotations


class SlideError(Exception):
    """An error from slidestream, with the library's context."""

    kind: str = "error"

    def __init__(self, message: str, *, kind: str | None = None, cause: str | None = None,
                 file: str | None = None, level: int | None = None, tile: int | None = None,
                 offset: int | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind
        self.message = message
        self.cause = cause if cause is not None else message
        self.file = file
        self.level = level
        self.tile = tile
        self.offset = offset

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):  # picklable across processes (DataLoader workers, Dask)
        return (_rebuild, (type(self), self.message, self.kind, self.cause, self.file,
                           self.level, self.tile, self.offset))


def _rebuild(cls, message, kind, cause, file, level, tile, offset):
    return cls(message, kind=kind, cause=cause, file=file, level=level, tile=tile, offset=offset)


class NotASlideError(SlideError):
    """Not a TIFF/Zarr we recognise, or structurally malformed (kind ``format``)."""


class CorruptSlideError(SlideError):
    """Compressed data or values inside a well-formed file are damaged (kind ``corrupt``), or a
    size or count the file cannot justify (kind ``limit``)."""


class UnsupportedError(SlideError):
    """Well-formed, but uses a feature slidestream does not implement (kind ``unsupported``)."""


class SlideOutOfMemoryError(SlideError, MemoryError):
    """A host or GPU allocation failed (kind ``out_of_memory``)."""


class SlideIOError(SlideError, OSError):
    """A read or write failed (kinds ``io``, ``disk_full``)."""

    def __init__(self, message: str, **context) -> None:
        SlideError.__init__(self, message, **context)


class SlideNotFoundError(SlideIOError, FileNotFoundError):
    """The file or array does not exist (kind ``not_found``)."""


class SlideExistsError(SlideIOError, FileExistsError):
    """Refusing to overwrite an existing output (kind ``already_exists``)."""


class InvalidArgumentError(SlideError, ValueError):
    """The caller asked for something impossible (kind ``invalid_argument``)."""


class CudaError(SlideError, RuntimeError):
    """A CUDA runtime, library or cuFile call failed (kinds ``cuda``, ``cufile``)."""


class CudaForkError(CudaError):
    """CUDA was initialised in a parent process and cannot be used in this forked child."""


class CancelledError(SlideError):
    """Work stopped because another part failed or the caller cancelled (kind ``cancelled``)."""


_BY_KIND = {
    "format": NotASlideError,
    "corrupt": CorruptSlideError,
    "limit": CorruptSlideError,
    "unsupported": UnsupportedError,
    "out_of_memory": SlideOutOfMemoryError,
    "io": SlideIOError,
    "disk_full": SlideIOError,
    "not_found": SlideNotFoundError,
    "already_exists": SlideExistsError,
    "invalid_argument": InvalidArgumentError,
    "cuda": CudaError,
    "cufile": CudaError,
    "cancelled": CancelledError,
}


def _from_library(kind: str, message: str, cause: str, file: str, level: int, tile: int,
                  offset: int) -> SlideError:
    """Called by the C++ core to turn a slidestream::Error into an exception instance."""
    cls = _BY_KIND.get(kind, SlideError)
    return cls(message, kind=kind, cause=cause, file=file or None,
               level=None if level < 0 else level, tile=None if tile < 0 else tile,
               offset=None if offset < 0 else offset)
