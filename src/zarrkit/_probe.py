"""What is at a path of a store, for the facades' error messages.

Errors name the place the user gave (the store's file path or URL), not only the path inside
the store, and data in another Zarr version is reported as such instead of as "not found".
"""

from __future__ import annotations

import json
from typing import Any

from .errors import MetadataError, _PathError
from .formats.meta import ArrayMeta
from .formats.nodes import V2, V3, NodeFormat, _v3_node, node_at
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
    """``"array"``/``"group"`` for the ``zarr.json`` at ``prefix``, None without one. A
    document that does not check out still says what it is when its ``node_type`` does
    (opening it then names the problem, and nothing is created over it); otherwise its
    ``MetadataError`` propagates."""
    key = V3.array_key(prefix)
    if key not in store:
        return None
    try:
        return node_at(store, prefix)[0]
    except KeyError:
        return None
    except MetadataError:
        try:
            kind = json.loads(bytes(memoryview(store[key]).cast("B"))).get("node_type")
        except Exception:
            kind = None
        if kind in ("array", "group"):
            return str(kind)
        raise


def _present(doc: Any, key: str) -> bool:
    """A decoder that only tells the document is there."""
    return True


def _v3_kind_of(doc: Any, key: str) -> str | None:
    """:func:`_v3_kind` of a ``zarr.json`` document already fetched (as a decoder of
    ``Store.getdecoded_many``); a document that says nothing raises as it does."""
    try:
        meta = _v3_node(doc, key)[0]
    except KeyError:
        return None
    except MetadataError:
        kind = doc.get("node_type") if isinstance(doc, dict) else None
        if kind in ("array", "group"):
            return str(kind)
        raise
    return "array" if isinstance(meta, ArrayMeta) else "group"


class Kinds:
    """What one batch (:func:`survey`) found at a path: answers :func:`contains_array` and
    :func:`contains_group` would give, without a request each."""

    __slots__ = ("v2_array", "v2_group", "v3")

    def __init__(self, v2_array: bool, v2_group: bool, v3: Any) -> None:
        self.v2_array = v2_array
        self.v2_group = v2_group
        self.v3 = v3  # "array", "group", None, or the error its document raised

    def _v3_kind(self) -> str | None:
        if isinstance(self.v3, BaseException):
            raise self.v3
        return self.v3

    @property
    def array(self) -> bool:
        """:func:`contains_array` (a v2 group document hides a v3 array, as there)."""
        return self.v2_array or (not self.v2_group and self._v3_kind() == "array")

    @property
    def group(self) -> bool:
        """:func:`contains_group`."""
        return self.v2_group or (not self.v2_array and self._v3_kind() == "group")


def survey(store: Any, paths: Any) -> dict[str, Kinds]:
    """:class:`Kinds` of each of ``paths`` (normalised store paths) from one batch of GETs
    of their documents of both formats (concurrent requests on an object store), instead
    of a HEAD or two per path and question."""
    requests: dict[str, Any] = {}
    prefixes = {p: prefix_of(p) for p in dict.fromkeys(paths)}
    for prefix in prefixes.values():
        requests[V2.array_key(prefix)] = _present
        requests[V2.group_key(prefix)] = _present
        requests[V3.array_key(prefix)] = _v3_kind_of
    got = store.getdecoded_many(requests) if requests else {}
    return {
        p: Kinds(
            V2.array_key(prefix) in got,
            V2.group_key(prefix) in got,
            got.get(V3.array_key(prefix)),
        )
        for p, prefix in prefixes.items()
    }


def ancestors(path: str) -> list[str]:
    """The paths of the groups above ``path``, the root first (none for the root)."""
    if not path:
        return []
    segments = path.split("/")
    return ["/".join(segments[:i]) for i in range(len(segments))]


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


def not_found(error: type[_PathError], store: Any, path: str) -> Exception:
    """The error for "nothing of that kind at ``path``", naming the store's location."""
    return error(path, location(store))
