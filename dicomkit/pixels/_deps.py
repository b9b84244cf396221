"""Optional dependencies of the pixels package, imported lazily with a clear error naming the extra."""

from __future__ import annotations

from types import ModuleType

from ..core.errors import MissingDependencyError


def require_numpy() -> ModuleType:
    try:
        import numpy
    except ImportError:
        raise MissingDependencyError(
            "pixel data needs numpy: pip install 'dicomkit[pixels]' (or 'dicomkit[codecs]' for compressed data)"
        ) from None
    return numpy


def imagecodecs(what: str) -> ModuleType:
    """The codec library; ``what`` names the transfer syntax or operation for the error message."""
    try:
        import imagecodecs as module
    except ImportError:
        raise MissingDependencyError(
            f"{what} needs the codec library: pip install 'dicomkit[codecs]'"
        ) from None
    return module
