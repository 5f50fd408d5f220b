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
import warnings
from collections.abc import MutableMapping
from typing import Any

from numcodecs import Blosc

from .abs import ABSStore
from .base import (
    KVStore,
    Store,
    _is_fsspec_map,
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
from .memory import DictStore, MemoryStore
from .mongodb import MongoDBStore
from .n5 import N5FSStore, N5Store
from .obstore import ObjectStore
from .redis import RedisStore
from .sqlite import SQLiteStore
from .temp import TempStore, atexit_rmglob, atexit_rmtree
from .zip import ZipStore

__all__ = [
    "Store",
    "BaseStore",
    "KVStore",
    "MemoryStore",
    "DictStore",
    "TempStore",
    "DirectoryStore",
    "NestedDirectoryStore",
    "FSStore",
    "ObjectStore",
    "ZipStore",
    "SQLiteStore",
    "ConsolidatedMetadataStore",
    "DBMStore",
    "LMDBStore",
    "RedisStore",
    "MongoDBStore",
    "ABSStore",
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
    "rename",
    "array_meta_key",
    "group_meta_key",
    "attrs_key",
    "atexit_rmtree",
    "atexit_rmglob",
    "migrate_1to2",
]

#: zarr 2's names of the metadata keys
array_meta_key = ".zarray"
group_meta_key = ".zgroup"
attrs_key = ".zattrs"

BaseStore = Store

#: Compressor of arrays created without ``compressor=``; read at creation time.
default_compressor: Any = Blosc()

for _cls in (
    Store,
    KVStore,
    MemoryStore,
    DictStore,
    DirectoryStore,
    NestedDirectoryStore,
    TempStore,
    FSStore,
    ObjectStore,
    ZipStore,
    SQLiteStore,
    ConsolidatedMetadataStore,
    DBMStore,
    LMDBStore,
    RedisStore,
    MongoDBStore,
    ABSStore,
    LRUStoreCache,
):
    _cls.__module__ = __name__


def normalize_store_arg(
    store: Any,
    mode: str = "a",
    storage_options: dict | None = None,
    *,
    zarr_version: int | None = None,
) -> Store:
    """A store from what users pass: None (a new in-memory store), a path, a URL (an
    :class:`FSStore`, with ``storage_options``), or a mapping."""
    if zarr_version not in (None, 2):
        raise ValueError(f"zarrkit stores Zarr v2 only, not zarr_version={zarr_version!r}")
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
    if _is_fsspec_map(store):
        # an fsspec mapper: an FSStore over the same file system and root, so that reads get
        # FSStore's batching and its rule that only "not found" reads as missing
        return FSStore(
            store.root,
            fs=store.fs,
            mode=mode,
            missing_exceptions=getattr(store, "missing_exceptions", None),
        )
    return as_store(store)


def _adapted(store: Any, function: str) -> Store:
    """``store`` for a module-level function; zarr 2 warned about mappings without ``listdir``."""
    if isinstance(store, Store):
        return store
    if function == "listdir":
        warnings.warn(
            f"Store {store!r} has no `listdir` method; from zarr 2.9 on, stores are expected "
            "to inherit from `Store`",
            UserWarning,
            stacklevel=3,
        )
    return as_store(store)


def listdir(store: Any, path: str = "") -> list[str]:
    """Names directly below ``path`` in ``store``."""
    return _adapted(store, "listdir").listdir(path)


def rmdir(store: Any, path: str = "") -> None:
    """Delete everything below ``path`` in ``store``."""
    _adapted(store, "rmdir").rmdir(path)


def rename(store: Any, src_path: str, dst_path: str) -> None:
    """Move everything below ``src_path`` to ``dst_path`` in ``store``."""
    _adapted(store, "rename").rename(src_path, dst_path)


def getsize(store: Any, path: str = "") -> int:
    """Bytes at ``path`` (zarr 2's rule, see :meth:`Store.getsize`); -1 when ``store`` is not
    a mapping or holds values of unknown size."""
    if not isinstance(store, (Store, MutableMapping)):
        return -1
    return _adapted(store, "getsize").getsize(path)


def __getattr__(name: str) -> Any:
    # init_array / init_group are set here by zarrkit/__init__.py (zarr 2 names them in
    # zarr.storage; they belong to creation, a layer above)
    if name == "migrate_1to2":
        from ..compat.meta_v1 import migrate_1to2

        return migrate_1to2
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
