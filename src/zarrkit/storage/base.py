"""The store protocol.

A store is a ``MutableMapping[str, bytes]``. Backends implement the single-key methods;
the batched ``getitems`` / ``setitems`` / ``delitems`` are written once here (one call per
key) and overridden only where a backend can do better. Any other ``MutableMapping`` (a dict,
an fsspec ``FSMap``) is adapted by :func:`as_store`, keeping its own batch methods.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from ..errors import ReadOnlyError

__all__ = [
    "Store",
    "KVStore",
    "as_store",
    "normalize_storage_path",
    "join_path",
    "prefix_of",
]


def normalize_storage_path(path: str | bytes | None) -> str:
    """Clean a hierarchy path: no leading/trailing slashes, no empty, ``.`` or ``..`` segments.

    >>> normalize_storage_path('/foo//bar/')
    'foo/bar'
    """
    if path is None:
        return ""
    if isinstance(path, bytes):
        path = path.decode("ascii")
    path = str(path).replace("\\", "/").strip("/")
    while "//" in path:
        path = path.replace("//", "/")
    if path:
        for seg in path.split("/"):
            if seg in (".", ".."):
                raise ValueError(f"path {path!r} contains '.' or '..' segments")
    return path


def prefix_of(path: str) -> str:
    """``'foo/bar'`` -> ``'foo/bar/'``; ``''`` -> ``''``."""
    return path + "/" if path else ""


def join_path(path: str, key: str) -> str:
    return prefix_of(path) + key


class Store(MutableMapping):
    """Base class of zarrkit stores.

    Subclasses implement ``__getitem__``, ``__setitem__``, ``__delitem__``, ``__iter__`` and
    ``__len__``; everything else has a default here.
    """

    _read_only = False
    _dimension_separator: str | None = None
    #: the Zarr format version the store holds (zarr 2 code checks ``store._store_version``)
    _store_version = 2

    # -- capabilities ------------------------------------------------------------------
    @property
    def read_only(self) -> bool:
        return self._read_only

    def is_readable(self) -> bool:
        return True

    def is_writeable(self) -> bool:
        return not self._read_only

    def is_listable(self) -> bool:
        return True

    def is_erasable(self) -> bool:
        return not self._read_only

    def _check_writable(self) -> None:
        if self._read_only:
            raise ReadOnlyError("store")

    # -- batched access ----------------------------------------------------------------
    def getitems(self, keys: Iterable[str], *, contexts: Any = None) -> dict[str, bytes]:
        """Values of the keys that are present; absent keys are left out."""
        out = {}
        for k in keys:
            try:
                out[k] = self[k]
            except KeyError:
                pass
        return out

    def setitems(self, values: Mapping[str, Any]) -> None:
        """Store several values."""
        for k, v in values.items():
            self[k] = v

    def delitems(self, keys: Iterable[str]) -> None:
        """Delete several keys; absent keys are ignored."""
        for k in keys:
            try:
                del self[k]
            except KeyError:
                pass

    # -- hierarchy helpers -------------------------------------------------------------
    def listdir(self, path: str = "") -> list[str]:
        """Names directly below ``path`` (keys and 'directories'), sorted."""
        prefix = prefix_of(normalize_storage_path(path))
        names = set()
        for k in self.keys():
            if k.startswith(prefix):
                names.add(k[len(prefix) :].split("/", 1)[0])
        return sorted(names)

    def keys_under(self, path: str = "") -> list[str]:
        """Every key below ``path``, relative to it."""
        prefix = prefix_of(normalize_storage_path(path))
        return [k[len(prefix) :] for k in self.keys() if k.startswith(prefix)]

    def rmdir(self, path: str = "") -> None:
        """Delete everything below ``path``."""
        self._check_writable()
        prefix = prefix_of(normalize_storage_path(path))
        self.delitems([k for k in list(self.keys()) if k.startswith(prefix)])

    def getsize(self, path: str = "") -> int:
        """Bytes stored at ``path`` (a key) or below it (a 'directory')."""
        path = normalize_storage_path(path)
        if path and path in self:
            return _size_of(self[path])
        prefix = prefix_of(path)
        keys = [k for k in self.keys() if k.startswith(prefix)]
        return sum(_size_of(v) for v in self.getitems(keys).values())

    def rename(self, src_path: str, dst_path: str) -> None:
        """Move everything below ``src_path`` to ``dst_path``."""
        self._check_writable()
        src = normalize_storage_path(src_path)
        dst = normalize_storage_path(dst_path)
        src_prefix, dst_prefix = prefix_of(src), prefix_of(dst)
        if dst == src or dst.startswith(src_prefix):
            # the deletion of the old keys below would take the new ones with them
            raise ValueError(f"cannot rename {src!r} into itself ({dst!r})")
        moved = {}
        for k in list(self.keys()):
            if k == src:
                moved[dst] = self[k]
            elif k.startswith(src_prefix):
                moved[dst_prefix + k[len(src_prefix) :]] = self[k]
        self.setitems(moved)
        self.delitems([k for k in list(self.keys()) if k == src or k.startswith(src_prefix)])

    def close(self) -> None:
        """Release resources; a no-op for stores that hold none."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _size_of(v: Any) -> int:
    if isinstance(v, (bytes, bytearray)):
        return len(v)
    try:
        return memoryview(v).nbytes
    except TypeError:
        return 0


class KVStore(Store):
    """Wrap any ``MutableMapping`` as a store.

    >>> s = KVStore(dict())
    >>> s['a'] = b'1'
    >>> dict(s)
    {'a': b'1'}
    """

    def __init__(self, mutablemapping: MutableMapping | None = None) -> None:
        self._mutable_mapping = {} if mutablemapping is None else mutablemapping

    def __getitem__(self, key: str) -> Any:
        return self._mutable_mapping[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._mutable_mapping[key] = value

    def __delitem__(self, key: str) -> None:
        del self._mutable_mapping[key]

    def __contains__(self, key: object) -> bool:
        return key in self._mutable_mapping

    def get(self, key: str, default: Any = None) -> Any:
        return self._mutable_mapping.get(key, default)

    def getitems(self, keys: Iterable[str], *, contexts: Any = None) -> dict[str, Any]:
        inner = self._mutable_mapping
        if isinstance(inner, Store):
            return inner.getitems(keys, contexts=contexts)
        if _is_fsspec_map(inner):
            # an fsspec FSMap: one concurrent request for the batch. Its not-found errors
            # come back as KeyError; any other error raises (never omitted as missing)
            try:
                found = inner.getitems(list(keys), on_error="return")
            except KeyError:
                return {}
            out = {}
            for k, v in found.items():
                if isinstance(v, KeyError):
                    continue
                if isinstance(v, BaseException):
                    raise read_error(self, k, v) from v
                out[k] = v
            return out
        if getattr(type(inner), "getitems", None) is not None:
            # a store of the zarr 2 protocol: getitems(keys, *, contexts), absent keys left out
            return dict(inner.getitems(list(keys), contexts={} if contexts is None else contexts))
        out = {}
        for k in keys:
            v = inner.get(k)
            if v is not None:
                out[k] = v
        return out

    def setitems(self, values: Mapping[str, Any]) -> None:
        inner = self._mutable_mapping
        if isinstance(inner, Store) or hasattr(type(inner), "setitems"):
            inner.setitems(dict(values))
        else:
            inner.update(values)

    def __iter__(self) -> Iterator[str]:
        return iter(self._mutable_mapping)

    def __len__(self) -> int:
        return len(self._mutable_mapping)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KVStore) and self._mutable_mapping == other._mutable_mapping

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__name__}: \n{self._mutable_mapping!r}\n at {id(self):#x}>"


def read_error(store: object, key: str, exc: BaseException) -> BaseException:
    """An error of the same kind as ``exc`` whose message names the store and the key."""
    msg = f"reading {key!r} from {store!r} failed: {type(exc).__name__}: {exc}"
    try:
        return type(exc)(msg)
    except Exception:  # an exception class with another constructor
        return OSError(msg)


def _is_fsspec_map(obj: Any) -> bool:
    """True for an fsspec ``FSMap`` (whose ``getitems`` takes ``on_error``, not ``contexts``)."""
    mapping = sys.modules.get("fsspec.mapping")
    return mapping is not None and isinstance(obj, mapping.FSMap)


def as_store(store: Any) -> Store:
    """Return ``store`` as a :class:`Store`: ours as they are, other mappings wrapped."""
    if isinstance(store, Store):
        return store
    if isinstance(store, MutableMapping):
        return KVStore(store)
    raise TypeError(
        f"a store must be a MutableMapping (dict-like) or a path, not {type(store).__name__}"
    )


def contains_array(store: Any, path: str = "") -> bool:
    """True if an array's metadata is at ``path``."""
    return prefix_of(normalize_storage_path(path)) + ".zarray" in store


def contains_group(store: Any, path: str = "") -> bool:
    """True if a group's metadata is at ``path``."""
    return prefix_of(normalize_storage_path(path)) + ".zgroup" in store
