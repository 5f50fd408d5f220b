"""Where each Zarr format keeps a node's documents, and how they are read and written.

The one place the facades ask "which format?": a :class:`NodeFormat` per Zarr format (``V2``:
``.zarray``/``.zgroup``/``.zattrs``; ``V3``: one ``zarr.json`` with the attributes inside) with
the keys, the decoders (stable functions, so ``Store.getdecoded`` remembers their results) and
the encoders. :func:`node_at` tells what is at a path.

>>> V3.array_key("a/b/")
'a/b/zarr.json'
>>> node_format(2).attrs_key("")
'.zattrs'
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ..errors import MetadataError
from . import v2, v3
from .meta import ArrayMeta, GroupMeta

__all__ = ["V2", "V3", "NodeFormat", "node_at", "node_format", "FORMATS"]


def _v2_array(doc: Any, key: str) -> ArrayMeta:
    return v2.decode_array_meta(doc, key)


def _v2_group(doc: Any, key: str) -> GroupMeta:
    return v2.decode_group_meta(doc, key)


def _v3_node(doc: Any, key: str) -> tuple[ArrayMeta | GroupMeta, dict, dict | None]:
    """A ``zarr.json`` document checked and decoded: (record, attributes, consolidated)
    (the attributes and consolidated documents are handed out as copies by the callers)."""
    found = v3.decode_node(doc, key)
    if isinstance(found[0], ArrayMeta):
        return found[0], found[1], None
    return found[0], found[1], found[2]


def _v3_array(doc: Any, key: str) -> ArrayMeta:
    meta = _v3_node(doc, key)[0]
    if not isinstance(meta, ArrayMeta):
        raise KeyError(key)  # a group's zarr.json: not an array
    return meta


def _v3_group(doc: Any, key: str) -> GroupMeta:
    meta = _v3_node(doc, key)[0]
    if not isinstance(meta, GroupMeta):
        raise KeyError(key)
    return meta


@dataclass(frozen=True)
class NodeFormat:
    """How one Zarr format lays out a node's documents."""

    zarr_format: int
    array_name: str
    group_name: str
    attrs_name: str

    @property
    def inline_attributes(self) -> bool:
        """Attributes live in the node's own document (v3), not in a key of their own."""
        return self.attrs_name == self.array_name

    def array_key(self, prefix: str) -> str:
        return prefix + self.array_name

    def group_key(self, prefix: str) -> str:
        return prefix + self.group_name

    def attrs_key(self, prefix: str) -> str:
        return prefix + self.attrs_name

    def read_array(self, store: Any, prefix: str) -> ArrayMeta:
        """The record of the array at ``prefix`` (``KeyError``: no array of this format)."""
        key = self.array_key(prefix)
        try:
            return self.read_array_key(store, key)
        except KeyError:
            raise KeyError(key) from None

    def read_array_key(self, store: Any, key: str) -> ArrayMeta:
        """The record of the array document at ``key`` (``KeyError`` if it is gone)."""
        return store.getdecoded(key, _v2_array if self.zarr_format == 2 else _v3_array)

    def read_group(self, store: Any, prefix: str) -> GroupMeta:
        """The record of the group at ``prefix`` (``KeyError``: no group of this format)."""
        key = self.group_key(prefix)
        try:
            return store.getdecoded(key, _v2_group if self.zarr_format == 2 else _v3_group)
        except KeyError:
            raise KeyError(key) from None

    def node_requests(self, prefix: str) -> dict[str, Any]:
        """The documents that tell what node of this format is at ``prefix``, with their
        decoders: what :meth:`~zarrkit.storage.Store.getdecoded_many` takes, so that the
        nodes of many paths are read in one batch (see :meth:`node_found`).

        >>> sorted(V2.node_requests("a/")), sorted(V3.node_requests("a/"))
        (['a/.zarray', 'a/.zgroup'], ['a/zarr.json'])
        """
        if self.zarr_format == 2:
            return {prefix + self.array_name: _v2_array, prefix + self.group_name: _v2_group}
        return {prefix + self.array_name: _v3_node}

    def node_found(self, prefix: str, found: dict[str, Any]) -> tuple[Any, Any] | None:
        """What the batch ``found`` (of :meth:`node_requests`) says is at ``prefix``:
        ``(array, group)``, each the decoded record, the exception its document raised, or
        None when absent; None when neither is there. A v3 document that does not decode
        is ``(exception, exception)``: only reading it again tells what it claims to be.

        >>> V2.node_found("a/", {"a/.zgroup": "its record"})
        (None, 'its record')
        """
        if self.zarr_format == 2:
            array = found.get(prefix + self.array_name)
            group = found.get(prefix + self.group_name)
            return None if array is None and group is None else (array, group)
        node = found.get(prefix + self.array_name)
        if node is None:
            return None
        if isinstance(node, BaseException):
            return node, node
        meta = node[0]
        return (meta, None) if isinstance(meta, ArrayMeta) else (None, meta)

    def encode_array(self, meta: ArrayMeta, attributes: dict | None = None) -> bytes:
        """The array document (v3: with ``attributes`` inside)."""
        if self.zarr_format == 2:
            return v2.encode_array_meta(meta)
        return v3.encode_array_doc(meta, attributes or {})

    def encode_group(self, attributes: dict | None = None) -> bytes:
        if self.zarr_format == 2:
            return v2.encode_group_meta()
        return v3.encode_group_doc(attributes or {})

    def decode_attrs(self, doc: Any, key: str) -> dict:
        """The attributes held by the parsed document at ``key`` (a copy)."""
        if self.zarr_format == 2:
            return copy.deepcopy(v2.decode_attrs(doc, key))
        if not isinstance(doc, dict):
            raise MetadataError(f"metadata at {key!r} is not a JSON object")
        attrs = doc.get("attributes", {})
        if not isinstance(attrs, dict):
            raise MetadataError(f"metadata at {key!r}: field 'attributes' must be an object")
        return copy.deepcopy(attrs)

    def encode_attrs(self, attrs: dict, doc: Any = None) -> bytes:
        """The document holding ``attrs``: ``.zattrs`` (v2), or the node's ``zarr.json``
        ``doc`` with its attributes replaced (v3)."""
        if self.zarr_format == 2:
            return v2.encode_attrs(attrs)
        if not isinstance(doc, dict):
            raise MetadataError("attributes of a Zarr v3 node need its zarr.json document")
        new = dict(doc)
        new["attributes"] = attrs
        return v3.json_dumps(new)


V2 = NodeFormat(2, v2.ARRAY_KEY, v2.GROUP_KEY, v2.ATTRS_KEY)
V3 = NodeFormat(3, v3.ZARR_JSON, v3.ZARR_JSON, v3.ZARR_JSON)
FORMATS = {2: V2, 3: V3}


def node_format(zarr_format: int) -> NodeFormat:
    """The layout of ``zarr_format`` (2 or 3)."""
    try:
        return FORMATS[zarr_format]
    except KeyError:
        raise ValueError(f"zarr_format must be 2 or 3, not {zarr_format!r}") from None


def node_at(store: Any, prefix: str) -> tuple[str | None, NodeFormat | None]:
    """What is at ``prefix``: (``"array"``/``"group"``/None, its format).

    A v2 ``.zarray`` wins over a ``.zgroup``; a ``zarr.json`` is read to tell its node type.
    """
    if V2.array_key(prefix) in store:
        return "array", V2
    if V2.group_key(prefix) in store:
        return "group", V2
    try:
        meta = store.getdecoded(V3.array_key(prefix), _v3_node)[0]
    except KeyError:
        return None, None
    return ("array" if isinstance(meta, ArrayMeta) else "group"), V3


def v3_consolidated(store: Any, prefix: str) -> dict | None:
    """The consolidated documents inside the v3 group's ``zarr.json`` at ``prefix``
    (paths relative to the group -> documents), or None if there are none."""
    _, _, consolidated = store.getdecoded(V3.group_key(prefix), _v3_node)
    return consolidated
