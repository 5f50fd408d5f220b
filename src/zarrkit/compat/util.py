"""zarr 2's ``zarr.util``: the helpers third-party code imports from it.

Most are zarrkit functions under their zarr 2 names; :func:`buffer_size` is defined here.
"""

from __future__ import annotations

from typing import Any

from numcodecs.compat import ensure_ndarray_like

from .._info import InfoReporter, human_readable_size
from .._normalize import (
    guess_chunks,
    normalize_chunks,
    normalize_dimension_separator,
    normalize_dtype,
    normalize_order,
    normalize_shape,
)
from ..formats.v2 import json_dumps, normalize_fill_value
from ..formats.v2 import json_loads as _json_loads
from ..storage.base import ConstantMap, normalize_storage_path

__all__ = [
    "ConstantMap",
    "InfoReporter",
    "buffer_size",
    "guess_chunks",
    "human_readable_size",
    "json_dumps",
    "json_loads",
    "normalize_chunks",
    "normalize_dimension_separator",
    "normalize_dtype",
    "normalize_fill_value",
    "normalize_order",
    "normalize_shape",
    "normalize_storage_path",
]


def json_loads(s: bytes | str) -> Any:
    """Parse JSON text or UTF-8 bytes."""
    return _json_loads(s)


def buffer_size(v: Any) -> int:
    """Byte size of a buffer (``bytes``, ``bytearray``, ``array.array``, NumPy array, ...);
    ``TypeError`` for anything that is not a buffer."""
    return ensure_ndarray_like(v).nbytes
