"""A read-only view of a hierarchy's metadata, served from one consolidated key."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import MetadataError, ReadOnlyError
from ..formats.v2 import CONSOLIDATED_KEY, json_dumps, json_loads
from .base import Store, as_store


class ConsolidatedMetadataStore(Store):
    """Serves ``.zgroup``/``.zarray``/``.zattrs`` keys from the ``.zmetadata`` document.

    The document is read with a single call to the underlying store. Every write raises
    :class:`~zarrkit.errors.ReadOnlyError`: metadata opened this way cannot drift from the
    consolidated copy. Array data live in the chunk store and stay writable.
    """

    _read_only = True

    def __init__(self, store: Any, metadata_key: str = CONSOLIDATED_KEY) -> None:
        self.store = as_store(store)
        self.metadata_key = metadata_key
        try:
            raw = self.store[metadata_key]
        except KeyError:
            raise KeyError(f"no consolidated metadata at key {metadata_key!r}") from None
        doc = json_loads(raw, metadata_key)
        if not isinstance(doc, dict) or doc.get("zarr_consolidated_format") != 1:
            raise MetadataError(
                f"consolidated metadata at {metadata_key!r} has no "
                "'zarr_consolidated_format': 1 (unsupported or corrupt)"
            )
        meta = doc.get("metadata")
        if not isinstance(meta, dict):
            raise MetadataError(
                f"consolidated metadata at {metadata_key!r} is missing the 'metadata' object"
            )
        self.meta_store: dict[str, Any] = meta

    def __getstate__(self) -> dict:
        return {"store": self.store, "metadata_key": self.metadata_key}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["store"], state["metadata_key"])

    def __getitem__(self, key: str) -> bytes:
        return json_dumps(self.meta_store[key])

    def __contains__(self, key: object) -> bool:
        return key in self.meta_store

    def __iter__(self) -> Iterator[str]:
        return iter(self.meta_store)

    def __len__(self) -> int:
        return len(self.meta_store)

    def __setitem__(self, key: str, value: Any) -> None:
        raise ReadOnlyError("consolidated metadata")

    def __delitem__(self, key: str) -> None:
        raise ReadOnlyError("consolidated metadata")

    def setitems(self, values: Any) -> None:
        raise ReadOnlyError("consolidated metadata")

    def delitems(self, keys: Iterable[str]) -> None:
        raise ReadOnlyError("consolidated metadata")

    def rmdir(self, path: str = "") -> None:
        raise ReadOnlyError("consolidated metadata")

    def rename(self, src_path: str, dst_path: str) -> None:
        raise ReadOnlyError("consolidated metadata")

    def close(self) -> None:
        self.store.close()

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ConsolidatedMetadataStore)
            and self.store == other.store
            and self.metadata_key == other.metadata_key
        )

    __hash__ = None  # type: ignore[assignment]
