"""Convenience functions: open, save and load arrays (and groups) in one call."""

from __future__ import annotations

import os
from typing import Any

from . import storage
from ._node import check_zarr_version
from ._probe import contains_array, contains_group, format_at, location, not_found
from .creation import array as _array
from .creation import open_array
from .errors import (
    ArrayNotFoundError,
    ContainsArrayError,
    ContainsGroupError,
    PathNotFoundError,
)
from .storage.base import normalize_storage_path, prefix_of
from .tools.copying import copy, copy_all, copy_store  # noqa: F401 - public names

__all__ = [
    "open",
    "save",
    "save_array",
    "save_group",
    "load",
    "consolidate_metadata",
    "open_consolidated",
    "copy",
    "copy_all",
    "copy_store",
]

_MODES = ("r", "r+", "a", "w", "w-", "x")


def open(
    store: Any = None,
    mode: str = "a",
    *,
    zarr_version: int | None = None,
    path: str | None = None,
    **kwargs: Any,
) -> Any:
    """Open an array or a group, whichever ``store`` holds at ``path``.

    With ``mode='w'``/``'w-'``/``'a'`` a new array is created when ``shape`` is given,
    otherwise a new group.

    Parameters
    ----------
    store : MutableMapping, str or None
        A store, any mapping, a local path or a URL.
    mode : {'r', 'r+', 'a', 'w', 'w-', 'x'}
        As for :func:`zarrkit.open_array` and :func:`zarrkit.open_group`.
    zarr_version : {None, 2, 3}
        The Zarr format of what is created (also as ``zarr_format=``); what exists opens
        in its own format.
    path : str, optional
        Path within the store.
    **kwargs
        Passed to :func:`zarrkit.open_array` or :func:`zarrkit.open_group`.

    >>> import zarrkit, tempfile, os
    >>> z = zarrkit.open(os.path.join(tempfile.mkdtemp(), 'x.zarr'), mode='w', shape=(3,), dtype='i4')
    >>> z[:] = 5
    >>> z[:]
    array([5, 5, 5], dtype=int32)
    """
    fmt = check_zarr_version(zarr_version, kwargs.pop("zarr_format", None))
    if fmt is not None:
        kwargs["zarr_format"] = fmt
    if mode not in _MODES:  # before opening: a path store may create a file
        raise ValueError(f"mode must be one of {', '.join(map(repr, _MODES))}; got {mode!r}")
    store = storage.normalize_store_arg(
        store, mode=mode, storage_options=kwargs.get("storage_options")
    )
    path = normalize_storage_path(path)
    if mode in ("w", "w-", "x"):
        if "shape" in kwargs:
            return open_array(store, mode=mode, path=path, **kwargs)
        return _open_group(store, mode=mode, path=path, **kwargs)
    if mode == "a":
        if "shape" in kwargs or contains_array(store, path):
            return open_array(store, mode=mode, path=path, **kwargs)
        return _open_group(store, mode=mode, path=path, **kwargs)
    # 'r' / 'r+': reading the array's document is the look (no HEAD before it)
    try:
        return open_array(store, mode=mode, path=path, **kwargs)
    except ContainsGroupError:
        return _open_group(store, mode=mode, path=path, **kwargs)
    except ArrayNotFoundError:
        raise not_found(PathNotFoundError, store, path) from None


def _open_group(store: Any, **kwargs: Any) -> Any:
    from .hierarchy import open_group

    return open_group(store, **kwargs)


def save_array(
    store: Any,
    arr: Any,
    *,
    zarr_version: int | None = None,
    path: str | None = None,
    storage_options: dict | None = None,
    **kwargs: Any,
) -> None:
    """Save one NumPy array to ``store`` (replacing what is at ``path``).

    >>> import zarrkit, numpy as np, tempfile
    >>> d = tempfile.mkdtemp()
    >>> zarrkit.save_array(d, np.arange(4))
    >>> zarrkit.load(d)
    array([0, 1, 2, 3])
    """
    may_close = isinstance(store, (str, os.PathLike))  # a store opened here
    store = storage.normalize_store_arg(store, mode="w", storage_options=storage_options)
    try:
        _array(arr, store=store, overwrite=True, path=path, zarr_version=zarr_version, **kwargs)
    finally:
        if may_close:
            store.close()


def save_group(
    store: Any,
    *args: Any,
    zarr_version: int | None = None,
    path: str | None = None,
    storage_options: dict | None = None,
    **kwargs: Any,
) -> None:
    """Save several NumPy arrays as members of a group (``arr_0``, ... or by keyword)."""
    from .hierarchy import group

    if not args and not kwargs:
        raise ValueError("at least one array must be provided")
    may_close = isinstance(store, (str, os.PathLike))  # a store opened here
    store = storage.normalize_store_arg(store, mode="w", storage_options=storage_options)
    try:
        g = group(store, overwrite=True, path=path, zarr_version=zarr_version)
        for i, a in enumerate(args):
            g.array(f"arr_{i}", a, overwrite=True)
        for name, a in kwargs.items():
            g.array(name, a, overwrite=True)
    finally:
        if may_close:
            store.close()


def save(
    store: Any,
    *args: Any,
    zarr_version: int | None = None,
    path: str | None = None,
    storage_options: dict | None = None,
    **kwargs: Any,
) -> None:
    """Save one array (``save(store, a)``) or several as a group (``save(store, a, b=b)``).
    ``storage_options`` go to the file system of a URL (``'s3://bucket/data.zarr'``)."""
    if isinstance(kwargs.get("zarr_format"), int):  # zarr-python 3's name of the format
        zarr_version = check_zarr_version(zarr_version, kwargs.pop("zarr_format"))
    if len(args) == 0 and len(kwargs) == 0:
        raise ValueError("at least one array must be provided")
    if len(args) == 1 and len(kwargs) == 0:
        save_array(
            store, args[0], path=path, storage_options=storage_options, zarr_version=zarr_version
        )
    else:
        save_group(
            store,
            *args,
            path=path,
            storage_options=storage_options,
            zarr_version=zarr_version,
            **kwargs,
        )


def load(
    store: Any,
    zarr_version: int | None = None,
    path: str | None = None,
    *,
    storage_options: dict | None = None,
) -> Any:
    """Load an array into memory as a NumPy array, or a group as a lazy dict of arrays."""
    store = storage.normalize_store_arg(store, mode="r", storage_options=storage_options)
    path = normalize_storage_path(path)
    if contains_array(store, path):
        return open_array(store, mode="r", path=path)[...]
    if contains_group(store, path):
        from .hierarchy import LazyLoader, open_group

        return LazyLoader(open_group(store, mode="r", path=path))
    raise not_found(PathNotFoundError, store, path)


def consolidate_metadata(
    store: Any,
    metadata_key: str = ".zmetadata",
    *,
    path: str = "",
    storage_options: dict | None = None,
) -> Any:
    """Gather every ``.zgroup``/``.zarray``/``.zattrs`` of ``store`` into the one key
    ``metadata_key``, written byte for byte as zarr 2 writes it.

    Readers then get the whole hierarchy's metadata with a single store read
    (:func:`open_consolidated`). As in zarr 2, all the metadata of the store are gathered and
    ``path`` only chooses the group returned, opened that way. Consolidate again after the
    hierarchy changes. ``storage_options`` go to the file system of a URL ``store``.

    For a Zarr v3 group at ``path`` the documents below it go into the group's own
    ``zarr.json`` (``consolidated_metadata``, as zarr-python 3 writes it) and
    ``metadata_key`` is not used.

    >>> import zarrkit
    >>> store = {}
    >>> _ = zarrkit.group(store).zeros('foo/bar', shape=10)
    >>> root = zarrkit.consolidate_metadata(store)
    >>> sorted(zarrkit.storage.ConsolidatedMetadataStore(store))
    ['.zgroup', 'foo/.zgroup', 'foo/bar/.zarray']
    """
    from .formats.v2 import ARRAY_KEY, ATTRS_KEY, GROUP_KEY, json_dumps, json_loads

    store = storage.normalize_store_arg(store, mode="w", storage_options=storage_options)
    path = normalize_storage_path(path)
    fmt = format_at(store, path)
    if fmt is not None and fmt.zarr_format == 3:
        if not contains_group(store, path):
            raise ContainsArrayError(path, location(store))  # a group holds them, not an array
        _consolidate_v3(store, path)
        return open_consolidated(store, path=path)
    names = (ARRAY_KEY, GROUP_KEY, ATTRS_KEY)
    keys = [k for k in store.keys() if k.rsplit("/", 1)[-1] in names]
    values = store.getitems(keys)
    doc = {
        "zarr_consolidated_format": 1,
        "metadata": {k: json_loads(values[k], k) for k in keys if k in values},
    }
    store[metadata_key] = json_dumps(doc)
    return open_consolidated(store, metadata_key=metadata_key, path=path)


def _consolidate_v3(store: Any, path: str) -> None:
    """Put the documents of every node below the v3 group at ``path`` into the group's
    ``zarr.json`` (``consolidated_metadata``, keyed by path relative to the group, as
    zarr-python 3 writes it); the group's attributes are kept."""
    from .formats import v3

    prefix = path + "/" if path else ""
    own = prefix + v3.ZARR_JSON
    keys = [k for k in store.keys_under(path) if k.rsplit("/", 1)[-1] == v3.ZARR_JSON and k != own]
    values = store.getitems(keys)
    docs = {}
    for k in sorted(keys):
        if k in values:
            doc = v3.json_loads(values[k], k)
            if isinstance(doc, dict) and doc.get("node_type") == "group":
                doc.pop("consolidated_metadata", None)  # only the top group holds them
            docs[k[len(prefix) : -len(v3.ZARR_JSON) - 1]] = doc
    group_doc = v3.json_loads(store[own], own)
    store[own] = v3.encode_group_doc(group_doc.get("attributes", {}), consolidated=docs)


def open_consolidated(
    store: Any, metadata_key: str = ".zmetadata", mode: str = "r+", **kwargs: Any
) -> Any:
    """Open a hierarchy using its consolidated metadata (one store read for all metadata).

    The metadata are read-only (creating members, resizing or changing attributes raises
    ``ReadOnlyError``); array data stay writable with ``mode='r+'``. Other keyword
    arguments (``path``, ``chunk_store``, ``cache_attrs``, ...) go to :func:`open`.

    The document is looked up at ``metadata_key`` from the store's root, as zarr 2 writes it;
    with a ``path`` and no document there, ``path + '/' + metadata_key`` is tried, where
    zarr 3 writes a group's consolidated metadata (keys relative to the group).
    """
    from .formats.v3 import ZARR_JSON
    from .storage.consolidated import ConsolidatedMetadataStore, NoConsolidatedDocument

    if mode not in ("r", "r+"):
        raise ValueError(f"open_consolidated takes mode 'r' or 'r+', got {mode!r}")
    asked = check_zarr_version(kwargs.pop("zarr_version", None), kwargs.pop("zarr_format", None))
    store = storage.normalize_store_arg(
        store, mode=mode, storage_options=kwargs.pop("storage_options", None)
    )
    path = normalize_storage_path(kwargs.pop("path", None))
    # where the documents may be, in order; each is read without a look first (one GET
    # when it is there): .zmetadata at the root (zarr 2), beside the group at ``path``
    # (zarr 3 writing v2), inside the group's zarr.json (v3)
    places = [] if asked == 3 else [(metadata_key, "")]
    if path and asked != 3:
        places.append((path + "/" + metadata_key, path))
    places.append((prefix_of(path) + ZARR_JSON, path))
    for key, below in places:
        try:
            meta_store = ConsolidatedMetadataStore(store, metadata_key=key, path=below)
            break
        except NoConsolidatedDocument:
            continue
    else:
        nor = f" nor {path + '/' + metadata_key!r}" if path else ""
        raise KeyError(f"no consolidated metadata at key {metadata_key!r}{nor}")
    chunk_store = kwargs.pop("chunk_store", None)
    if chunk_store is None:  # not `or`: an empty chunk store is falsy (and len() may be slow)
        chunk_store = store
    return open(meta_store, mode=mode, path=path, chunk_store=chunk_store, **kwargs)
