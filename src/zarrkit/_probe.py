"""What is at a path of a store, for the facades' error messages.

Errors name the place the user gave (the store's file path or URL), not only the path inside
the store, and a ``zarr.json`` zarrkit cannot use is reported as such (its metadata error) instead of as
"not found".
"""

from __future__ import annotations

from typing import Any

from .errors import MetadataError, UnsupportedFormatError, _PathError
from .formats.nodes import V2, V3, NodeFormat, node_at
from .storage.base import normalize_storage_path, prefix_of

_V3_METADATA = "zarr.json"


def contains_array(store: Any, path: str = "") -> bool:
    """True if an array of either Zarr format is at ``path`` (``.zarray``, else a
    ``zarr.json`` whose node type is array)."""
    prefix = prefix_of(normalize_storage_path(path))
    if V2.array_key(prefix) in store:
        return True
    return _v3_kind(store, prefix) == "array"


def contains_group(store: Any, path: str = "") -> bool:
    """True if a group of either Zarr format is at ``path``."""
    prefix = prefix_of(normalize_storage_path(path))
    if V2.group_key(prefix) in store:
        return True
    return _v3_kind(store, prefix) == "group"


def _v3_kind(store: Any, prefix: str) -> str | None:
    """``"array"``/``"group"`` for the ``zarr.json`` at ``prefix``, None without one (or
    with one that is not valid metadata: opening it names the problem)."""
    if V3.array_key(prefix) not in store:
        return None
    try:
        return node_at(store, prefix)[0]
    except (MetadataError, KeyError):
        return None


def format_at(store: Any, path: str) -> NodeFormat | None:
    """The Zarr format of the node at ``path``, None if there is none."""
    return node_at(store, prefix_of(normalize_storage_path(path)))[1]


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
    """The error for "nothing of that kind at ``path``": a ``zarr.json`` there that zarrkit
    cannot use gets its :class:`MetadataError` (naming the field), not "not found"."""
    try:
        if prefix_of(path) + _V3_METADATA in store:
            node_at(store, prefix_of(normalize_storage_path(path)))
    except MetadataError as e:
        return e
    except Exception:  # a store that cannot answer: the plain error
        pass
    return error(path, location(store))
