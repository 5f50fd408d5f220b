"""A read-only view of a hierarchy's metadata, served from one consolidated key."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TypeVar

from ..errors import ReadOnlyError
from ..formats import v3
from ..formats.v2 import CONSOLIDATED_KEY, decode_consolidated, json_dumps
from .base import Store, as_store, decoded, normalize_storage_path, prefix_of

_T = TypeVar("_T")


class _Index(NamedTuple):
    """A checked ``.zmetadata`` document as the store serves it; shared by every store
    opened on the same bytes (nothing in it changes after it is built)."""

    meta_store: dict[str, Any]
    children: dict[str, set[str]]
    decoded: dict[tuple[Callable, str], Any]


@functools.lru_cache(maxsize=64)
def _indexer(prefix: str) -> Callable[[Any, str], _Index]:
    """The decoder of a ``.zmetadata`` document whose keys sit below ``prefix`` (one
    function per prefix, so that its results are remembered by the document's bytes)."""

    def index(doc: Any, key: str) -> _Index:
        if key.rsplit("/", 1)[-1] == v3.ZARR_JSON:
            # Zarr v3: a group's zarr.json holding its descendants' documents by path
            consolidated = v3.decode_group_doc(doc, key)[2]
            if consolidated is None:
                raise KeyError(f"no consolidated metadata in {key!r}")
            root = {k: v for k, v in doc.items() if k != "consolidated_metadata"}
            meta = {v3.ZARR_JSON: root}
            meta.update((f"{p}/{v3.ZARR_JSON}", d) for p, d in consolidated.items())
        else:
            meta = decode_consolidated(doc, key)["metadata"]
        meta_store = {prefix + k: v for k, v in meta.items()}
        children: dict[str, set[str]] = {}
        for name in meta_store:
            parts = name.split("/")
            for i in range(len(parts)):
                children.setdefault("/".join(parts[:i]), set()).add(parts[i])
        return _Index(meta_store, children, {})

    return index


class NoConsolidatedDocument(KeyError):
    """No document at the metadata key (a ``KeyError``; a document there without
    consolidated metadata raises a plain ``KeyError``)."""


class ConsolidatedMetadataStore(Store):
    """Serves ``.zgroup``/``.zarray``/``.zattrs`` keys from the ``.zmetadata`` document.

    The document is read with a single call to the underlying store; every later metadata
    lookup, listing included, is answered from memory. Every write raises
    :class:`~zarrkit.errors.ReadOnlyError`: metadata opened this way cannot drift from the
    consolidated copy. Array data live in the chunk store and stay writable.

    Parameters
    ----------
    store : MutableMapping
        The store holding the document (and usually the chunks).
    metadata_key : str
        Key of the document: a ``.zmetadata`` (Zarr v2), or a v3 group's ``zarr.json``
        holding its descendants' documents (``consolidated_metadata``, as zarr-python 3
        writes it), served as ``<path>/zarr.json`` keys.
    path : str
        Where the document's keys are relative to (zarr 2 writes keys from the store's root,
        ``''``; zarr 3 writes a group's ``.zmetadata`` with keys relative to that group).
    """

    _read_only = True
    erasable = False
    _init_params = ("store", "metadata_key", "path")

    def __init__(self, store: Any, metadata_key: str = CONSOLIDATED_KEY, path: str = "") -> None:
        self.store = as_store(store)
        self.metadata_key = metadata_key
        self.path = normalize_storage_path(path)
        try:
            raw = self.store[metadata_key]
        except KeyError:
            raise NoConsolidatedDocument(
                f"no consolidated metadata at key {metadata_key!r}"
            ) from None
        # the same document (a group opened again) is parsed, checked and indexed once
        index = decoded(raw, metadata_key, _indexer(prefix_of(self.path)))
        self.meta_store: dict[str, Any] = index.meta_store
        self._children = index.children
        self._decoded = index.decoded
        self._encoded: dict[str, bytes] = {}

    def __getitem__(self, key: str) -> bytes:
        try:
            return self._encoded[key]
        except KeyError:
            value = json_dumps(self.meta_store[key])
            self._encoded[key] = value
            return value

    def getjson(self, key: str) -> Any:
        """The parsed document at ``key``, as held (not serialised and parsed again)."""
        return self.meta_store[key]

    def getdecoded(self, key: str, decode: Callable[[Any, str], _T]) -> _T:
        """``decode`` of the document held at ``key``, remembered for this store's life
        (its documents never change)."""
        memo = (decode, key)
        try:
            return self._decoded[memo]
        except KeyError:
            value = self._decoded[memo] = decode(self.meta_store[key], key)
            return value

    def __contains__(self, key: object) -> bool:
        return key in self.meta_store

    def __iter__(self) -> Iterator[str]:
        return iter(self.meta_store)

    def __len__(self) -> int:
        return len(self.meta_store)

    def listdir(self, path: str = "") -> list[str]:
        """Names directly below ``path``, from an index built once."""
        return sorted(self._children.get(normalize_storage_path(path), ()))

    # every writing method raises ReadOnlyError (the protocol's check: read_only is True)
    _read_only_what = "consolidated metadata"

    def __setitem__(self, key: str, value: Any) -> None:
        raise ReadOnlyError("consolidated metadata")

    def __delitem__(self, key: str) -> None:
        raise ReadOnlyError("consolidated metadata")

    def close(self) -> None:
        self.store.close()

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ConsolidatedMetadataStore)
            and self.store == other.store
            and self.metadata_key == other.metadata_key
            and self.path == other.path
        )

    __hash__ = None  # type: ignore[assignment]
