"""What arrays and groups share: where a node lives, how the object behaves, and the base class.

The public entry points (``create``, ``open_array``, ``group``, ``open_group``, ``Array(...)``,
``Group(...)``) turn the user's arguments into two frozen records once:

* :class:`Location`: the normalised store, the path inside it and the optional chunk store;
* :class:`Options`: how the returned object behaves (read-only, locks, caching, ...), which is
  never written to the store.

Everything below the entry points takes these records, so a store argument is normalised once
per call, and a group hands its members a location and options instead of a list of keywords.
:class:`Node` is the base of :class:`zarrkit.core.Array` and :class:`zarrkit.hierarchy.Group`
(h5py's ``HLObject`` plays this part): names, stores, attributes and the read-only check.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

from .attrs import Attributes
from .errors import ReadOnlyError
from .formats.nodes import V2, NodeFormat, node_format
from .storage.base import Store, normalize_storage_path, prefix_of

__all__ = [
    "Location",
    "Options",
    "Node",
    "check_zarr_version",
    "default_zarr_format",
    "set_default_zarr_format",
]


def _format_from_environment() -> int:
    raw = os.environ.get("ZARRKIT_ZARR_FORMAT", "").strip()
    if not raw:
        return 2
    if raw not in ("2", "3"):
        raise ValueError(f"ZARRKIT_ZARR_FORMAT={raw!r}: set it to 2 or 3, or unset it")
    return int(raw)


_default_format = [_format_from_environment()]


def set_default_zarr_format(zarr_format: int) -> None:
    """The Zarr format new arrays and groups get when a call names none (2 unless set here
    or by the ``ZARRKIT_ZARR_FORMAT`` environment variable; the zarr 2 API's users expect 2).

    >>> set_default_zarr_format(3); default_zarr_format()
    3
    >>> set_default_zarr_format(2)
    """
    node_format(zarr_format)  # 2 or 3
    _default_format[0] = int(zarr_format)


def default_zarr_format() -> int:
    """The Zarr format of new nodes when a call names none (see
    :func:`set_default_zarr_format`)."""
    return _default_format[0]


_this_process = [os.getpid()]
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _this_process.__setitem__(0, os.getpid()))


def _pid() -> int:
    """This process's id, without a system call per node opened."""
    return _this_process[0]


def check_zarr_version(zarr_version: int | None, zarr_format: int | None = None) -> int | None:
    """The Zarr format a call names (``zarr_format``, or zarr 2's ``zarr_version``): None,
    2 or 3; a ValueError for anything else or when the two disagree."""
    for name, value in (("zarr_version", zarr_version), ("zarr_format", zarr_format)):
        if value is not None and (isinstance(value, bool) or value not in (2, 3)):
            raise ValueError(f"zarrkit reads and writes Zarr formats 2 and 3, got {name}={value!r}")
    if zarr_version is not None and zarr_format is not None and zarr_version != zarr_format:
        raise ValueError(
            f"zarr_version={zarr_version} and zarr_format={zarr_format} disagree: give one"
        )
    return zarr_format if zarr_format is not None else zarr_version


@dataclass(frozen=True)
class Location:
    """A node's place: a normalised store, the path in it, and an optional chunk store.

    >>> loc = Location.of({}, path='/foo//bar/')
    >>> loc.path, loc.prefix, type(loc.store).__name__
    ('foo/bar', 'foo/bar/', 'KVStore')
    """

    store: Store
    path: str = ""
    chunk_store: Store | None = None
    #: the Zarr format of the nodes here when known (a v3 group's members are v3), else None
    zarr_format: int | None = None

    @classmethod
    def of(
        cls,
        store: Any,
        path: str | None = None,
        chunk_store: Any = None,
        *,
        mode: str = "a",
        storage_options: dict | None = None,
        new_store: type | None = None,
    ) -> Location:
        """Normalise what a user passes: a store, any mapping, a path or URL, or None.

        ``None`` becomes a new ``new_store()`` (an in-memory ``KVStore`` by default).
        """
        from . import storage

        if store is None and new_store is not None:
            store = new_store()
        if isinstance(store, Store) and store._store_version == 2:
            norm = store  # as normalize_store_arg gives it back, without its other checks
        else:
            norm = storage.normalize_store_arg(store, mode=mode, storage_options=storage_options)
        chunks = (
            None
            if chunk_store is None
            else storage.normalize_store_arg(
                chunk_store, mode=mode, storage_options=storage_options
            )
        )
        return cls(norm, normalize_storage_path(path), chunks)

    @property
    def prefix(self) -> str:
        """The path as a key prefix (``'foo/'``; ``''`` at the root)."""
        return prefix_of(self.path)

    def at(self, path: str) -> Location:
        """The same stores and format, another (already normalised) path."""
        return Location(self.store, path, self.chunk_store, self.zarr_format)

    def with_format(self, zarr_format: int | None) -> Location:
        """The same place, with the format of its nodes known."""
        return Location(self.store, self.path, self.chunk_store, zarr_format)


@dataclass(frozen=True)
class Options:
    """How an Array or Group object behaves; nothing of it is stored."""

    read_only: bool = False
    synchronizer: Any = None
    cache_metadata: bool = True
    cache_attrs: bool = True
    partial_decompress: bool = False
    write_empty_chunks: bool = True
    strict_missing: bool = False


class Node:
    """Base of :class:`~zarrkit.core.Array` and :class:`~zarrkit.hierarchy.Group`."""

    _kind = "node"
    #: how the node's documents are laid out (its Zarr format)
    _fmt: NodeFormat = V2

    _store: Store
    _chunk_store: Store | None
    _path: str
    _key_prefix: str
    _read_only: bool
    _synchronizer: Any
    _cache_attrs: bool

    def _setup(self, loc: Location, opts: Options) -> None:
        """Take the location and the options (no store access)."""
        self._store = loc.store
        self._chunk_store = loc.chunk_store
        # the process that opened the node (pickles carry it): see _check_writable
        self._owner_pid = _pid()
        self._path = loc.path
        self._key_prefix = loc.prefix
        self._read_only = bool(opts.read_only)
        self._synchronizer = opts.synchronizer
        self._cache_attrs = opts.cache_attrs
        if loc.zarr_format is not None:
            self._fmt = node_format(loc.zarr_format)

    @property
    def _version(self) -> int:
        """The Zarr format (zarr 2 code checks ``x._version == 2``)."""
        return self._fmt.zarr_format

    @property
    def zarr_format(self) -> int:
        """The Zarr format of the node's metadata: 2 or 3."""
        return self._fmt.zarr_format

    @functools.cached_property
    def _attrs(self) -> Attributes:
        """The node's attributes, set up on first use."""
        return Attributes(
            self._store,
            key=self._fmt.attrs_key(self._key_prefix),
            read_only=self._read_only,
            cache=self._cache_attrs,
            synchronizer=self._synchronizer,
            zarr_format=self._fmt.zarr_format,
        )

    @property
    def _location(self) -> Location:
        return Location(self._store, self._path, self._chunk_store, self._fmt.zarr_format)

    @property
    def store(self) -> Store:
        """The store holding the metadata."""
        return self._store

    @property
    def chunk_store(self) -> Store:
        """The store holding the chunks (``store`` unless a separate one was given)."""
        return self._store if self._chunk_store is None else self._chunk_store

    @property
    def path(self) -> str:
        """Path within the store (``''`` at the root)."""
        return self._path

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def synchronizer(self) -> Any:
        return self._synchronizer

    @property
    def attrs(self) -> Attributes:
        """User attributes, stored in ``.zattrs`` (Zarr v3: in ``zarr.json``)."""
        return self._attrs

    def _check_writable(self) -> None:
        if self._read_only:
            raise ReadOnlyError(self._kind)
        if self._owner_pid != _pid():
            self._check_other_process()

    def _check_other_process(self) -> None:
        """Refuse writes from a second process to a store that would lose or corrupt them."""
        for store in (self._store, self._chunk_store):
            if store is not None and not store.multiprocess_safe:
                raise RuntimeError(
                    f"{type(store).__name__} cannot take writes from several processes (this "
                    f"{self._kind} was opened in process {self._owner_pid}, not in this one, "
                    f"{os.getpid()}): the writes would be lost or corrupt the store. Use a "
                    "DirectoryStore, an FSStore, SQLiteStore or LMDBStore for multi-process writers"
                )
