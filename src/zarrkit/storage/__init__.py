"""Stores: where arrays and groups keep their bytes.

The names mirror ``zarr.storage`` of zarr 2. Replace ``default_compressor`` to change the
compressor of arrays created without one::

    >>> import zarrkit.storage
    >>> from numcodecs import Zstd, Blosc
    >>> zarrkit.storage.default_compressor = Zstd(level=1)
    >>> zarrkit.zeros(10).compressor
    Zstd(level=1)
    >>> zarrkit.storage.default_compressor = Blosc()
"""

from __future__ import annotations

import os
from typing import Any

from numcodecs import Blosc

from .base import (
    KVStore,
    Store,
    as_store,
    contains_array,
    contains_group,
    normalize_storage_path,
)
from .cache import LRUStoreCache
from .consolidated import ConsolidatedMetadataStore
from .dbm import DBMStore
from .directory import DirectoryStore, NestedDirectoryStore
from .fsspec import FSStore
from .lmdb import LMDBStore
from .memory import MemoryStore
from .n5 import N5FSStore, N5Store
from .sqlite import SQLiteStore
from .zip import ZipStore

__all__ = [
    "Store",
    "BaseStore",
    "KVStore",
    "MemoryStore",
    "DirectoryStore",
    "NestedDirectoryStore",
    "FSStore",
    "ZipStore",
    "SQLiteStore",
    "ConsolidatedMetadataStore",
    "DBMStore",
    "LMDBStore",
    "LRUStoreCache",
    "N5Store",
    "default_compressor",
    "normalize_store_arg",
    "contains_array",
    "contains_group",
    "normalize_storage_path",
    "init_array",
    "init_group",
    "listdir",
    "rmdir",
    "getsize",
]

BaseStore = Store

#: Compressor of arrays created without ``compressor=``; read at creation time.
default_compressor: Any = Blosc()

for _cls in (
    Store,
    KVStore,
    MemoryStore,
    DirectoryStore,
    NestedDirectoryStore,
    FSStore,
    ZipStore,
    SQLiteStore,
    ConsolidatedMetadataStore,
    DBMStore,
    LMDBStore,
    LRUStoreCache,
):
    _cls.__module__ = __name__


def normalize_store_arg(store: Any, mode: str = "a", storage_options: dict | None = None) -> Store:
    """A store from what users pass: None (a new in-memory store), a path, a URL (an
    :class:`FSStore`, with ``storage_options``), or a mapping."""
    if store is None:
        return KVStore(dict())
    if isinstance(store, os.PathLike):
        store = os.fspath(store)
    if isinstance(store, str):
        if "://" in store or "::" in store:
            if store.rstrip("/").endswith(".n5"):  # as for local paths
                return N5FSStore(store, mode=mode, **(storage_options or {}))
            return FSStore(store, mode=mode, **(storage_options or {}))
        if storage_options:
            raise ValueError(
                f"storage_options passed with a local path ({store!r}): they are only for "
                "fsspec URLs such as 's3://bucket/data.zarr'"
            )
        if store.rstrip("/").endswith(".n5"):
            return N5Store(store)
        if store.endswith(".zip"):
            # 'r+' needs an existing archive: never create one for it
            must_exist = mode == "r" or (mode == "r+" and not os.path.exists(store))
            return ZipStore(store, mode="r" if must_exist else "a")
        return DirectoryStore(store)
    return as_store(store)


def listdir(store: Any, path: str = "") -> list[str]:
    return as_store(store).listdir(path)


def rmdir(store: Any, path: str = "") -> None:
    as_store(store).rmdir(path)


def getsize(store: Any, path: str = "") -> int:
    return as_store(store).getsize(path)


def __getattr__(name: str) -> Any:
    if name in ("init_array", "init_group"):
        from .. import creation

        return getattr(creation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
