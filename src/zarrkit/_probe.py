"""What is at a path of a store, for the facades' error messages.

Errors name the place the user gave (the store's file path or URL), not only the path inside
the store, and data in another Zarr version is reported as such instead of as "not found".
"""

from __future__ import annotations

from typing import Any

from .errors import UnsupportedFormatError, _PathError
from .storage.base import prefix_of

_V3_METADATA = "zarr.json"


def location(store: Any) -> str | None:
    """Where ``store`` keeps its data (a file path or URL), or None for in-memory stores."""
    inner = getattr(store, "store", None)  # a wrapper (consolidated metadata, cache)
    if inner is not None and not isinstance(getattr(store, "path", None), str):
        store = inner
    for attr in ("url", "path"):
        value = getattr(store, attr, None)
        if isinstance(value, str) and value:
            return value
    return None


def refuse_v3(store: Any, path: str) -> None:
    """Raise :class:`UnsupportedFormatError` if Zarr v3 metadata are at ``path``."""
    try:
        found = prefix_of(path) + _V3_METADATA in store
    except Exception:  # a store that cannot answer: let the caller's own check speak
        return
    if found:
        raise UnsupportedFormatError(path, location(store))


def not_found(error: type[_PathError], store: Any, path: str) -> Exception:
    """The error for "nothing of that kind at ``path``": v3 data get their own message."""
    try:
        refuse_v3(store, path)
    except UnsupportedFormatError as e:
        return e
    return error(path, location(store))
