"""The store protocol.

A store is a ``MutableMapping[str, bytes]``. Backends implement the single-key methods;
the batched ``getitems`` / ``setitems`` / ``delitems`` are written once here (one call per
key) and overridden only where a backend can do better. Any other mapping (a dict, an fsspec
``FSMap``, an object with the five mapping methods zarr 2 asked for) is adapted by
:func:`as_store`, keeping its own batch methods.

``getitems(keys, *, contexts=None)`` may be called with or without ``contexts``, whatever the
store's own signature (zarr 2.18 stores require it, older ones lack it): ``Store`` adapts each
subclass's method once, when the class is made.

``getsize(path)`` follows zarr 2 (a key's size, or the sizes of the keys directly below
``path``); ``size_below(path)`` counts every depth and is what ``Array.nbytes_stored`` uses.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
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
    #: True when the store was told its chunk key separator: arrays may not ask for another
    _separator_is_fixed = False
    #: the Zarr format version the store holds (zarr 2 code checks ``store._store_version``)
    _store_version = 2
    #: False for stores that cannot take writes from several processes (see below)
    _multiprocess_safe = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give every subclass's own ``getitems`` the protocol's signature, once, here.

        Stores written for zarr 2 declare ``getitems(keys, *, contexts)`` with ``contexts``
        required, older ones have no ``contexts`` at all; callers of this protocol may always
        pass it, or leave it out.
        """
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("getitems")
        if own is not None:
            cls.getitems = _with_optional_contexts(own)  # type: ignore[method-assign]

    @classmethod
    def _ensure_store(cls, store: Any) -> Store:
        """``store`` as a :class:`Store` (zarr 2's name): ours as they are; a mapping, or an
        object with ``__getitem__``/``__setitem__``/``__delitem__``/``__contains__``/``keys``,
        wrapped in a :class:`KVStore`. Anything else (``None`` included) is a ``ValueError``.
        """
        if isinstance(store, Store):
            if store._store_version != 2:
                raise ValueError(f"a Zarr v{store._store_version} store cannot hold Zarr v2 data")
            return store
        if store is not None and (
            isinstance(store, MutableMapping) or all(hasattr(store, m) for m in _MAPPING_METHODS)
        ):
            return KVStore(store)
        raise ValueError(
            "a store must be a zarrkit Store, a MutableMapping (dict-like) or an object with "
            f"{', '.join(_MAPPING_METHODS)}, not {type(store).__name__}"
        )

    @property
    def _metadata_class(self) -> Any:
        """zarr 2's codec of metadata documents as dicts (``zarrkit.meta.Metadata2``)."""
        # a zarr 2 compatibility name; the codec lives above the stores, so it is looked up
        # when asked for
        from ..meta import Metadata2

        return Metadata2

    # -- capabilities ------------------------------------------------------------------
    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def multiprocess_safe(self) -> bool:
        """Whether writes from several processes reach one store and lose nothing.

        False for an in-memory store (each process would write to its own copy), a single-file
        archive (``ZipStore``) and DBM files. An array refuses to write to such a store from a
        process other than the one that opened it (a forked child or a process-based dask
        worker it was pickled to).
        """
        return self._multiprocess_safe

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
        """Bytes of the key ``path``, or of the keys directly below it (zarr 2's rule: keys in
        deeper 'directories' are not counted); 0 if nothing is there, -1 if a value has no
        byte size. :meth:`size_below` counts every depth."""
        path = normalize_storage_path(path)
        if path and path in self:
            return _size_of(self[path])
        prefix = prefix_of(path)
        keys = [k for k in self.keys() if k.startswith(prefix) and "/" not in k[len(prefix) :]]
        return _total(self.getitems(keys).values())

    def size_below(self, path: str = "") -> int:
        """Bytes of the key ``path`` or of every key below it, at any depth (-1 if a value
        has no byte size): what an array or group at ``path`` takes in the store."""
        path = normalize_storage_path(path)
        if path and path in self:
            return _size_of(self[path])
        prefix = prefix_of(path)
        return _total(self.getitems([k for k in self.keys() if k.startswith(prefix)]).values())

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
    """Byte size of a stored value; -1 for a value that is not a buffer."""
    if isinstance(v, (bytes, bytearray)):
        return len(v)
    try:
        return memoryview(v).nbytes
    except TypeError:
        return -1


def _total(values: Iterable[Any]) -> int:
    """Sum of :func:`_size_of`; -1 as soon as one value has no size."""
    total = 0
    for v in values:
        n = _size_of(v)
        if n < 0:
            return -1
        total += n
    return total


_MAPPING_METHODS = ("__getitem__", "__setitem__", "__delitem__", "__contains__", "keys")


def _with_optional_contexts(getitems: Callable) -> Callable:
    """``getitems`` callable as ``getitems(keys)`` and ``getitems(keys, contexts=...)``."""
    try:
        params = inspect.signature(getitems).parameters
    except (TypeError, ValueError):
        return getitems
    p = params.get("contexts")
    if p is not None and p.default is inspect.Parameter.empty:

        @functools.wraps(getitems)
        def getitems_contexts(self: Any, keys: Any, *, contexts: Any = None) -> Any:
            return getitems(self, keys, contexts={} if contexts is None else contexts)

        return getitems_contexts
    if p is None and not any(q.kind is inspect.Parameter.VAR_KEYWORD for q in params.values()):

        @functools.wraps(getitems)
        def getitems_no_contexts(self: Any, keys: Any, *, contexts: Any = None) -> Any:
            return getitems(self, keys)

        return getitems_no_contexts
    return getitems


class KVStore(Store):
    """Wrap a mapping as a store: a ``MutableMapping``, or any object with ``__getitem__``,
    ``__setitem__``, ``__delitem__``, ``__contains__`` and ``keys``.

    How batches reach the mapping is decided once, here: its own ``getitems`` /
    ``setitems`` / ``delitems`` when it has them (zarr 2 stores, fsspec's ``FSMap``), one
    call per key otherwise.

    >>> s = KVStore(dict())
    >>> s['a'] = b'1'
    >>> dict(s)
    {'a': b'1'}
    """

    _ADAPTERS = ("_getitems", "_setitems", "_delitems", "_len", "_close")

    def __init__(self, mutablemapping: Any = None) -> None:
        self._mutable_mapping: Any = {} if mutablemapping is None else mutablemapping
        self._choose_adapters()

    def _choose_adapters(self) -> None:
        """Pick, once, how batches, ``len`` and ``close`` reach the wrapped mapping."""
        inner = self._mutable_mapping
        cls: Any = type(inner)
        self._getitems: Callable[..., dict[str, Any]]
        if isinstance(inner, Store):
            self._getitems = inner.getitems
        elif _is_fsspec_map(inner):
            self._getitems = self._getitems_fsmap
        elif getattr(cls, "getitems", None) is not None:
            own = _with_optional_contexts(cls.getitems).__get__(inner)
            self._getitems = lambda keys, contexts=None: dict(own(list(keys), contexts=contexts))
        else:
            self._getitems = self._getitems_one_by_one
        has = {m: getattr(cls, m, None) is not None for m in ("setitems", "close")}
        self._setitems = inner.setitems if has["setitems"] else self._set_each
        # only our protocol promises that absent keys are ignored (fsspec's raises for them)
        self._delitems = inner.delitems if isinstance(inner, Store) else self._del_each
        self._close = inner.close if has["close"] else (lambda: None)
        if hasattr(cls, "__len__"):
            self._len = lambda: len(inner)
        else:
            self._len = lambda: len(list(inner.keys()))

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in self._ADAPTERS}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._choose_adapters()

    @property
    def multiprocess_safe(self) -> bool:
        inner = self._mutable_mapping
        if isinstance(inner, Store):
            return inner.multiprocess_safe
        return not isinstance(inner, dict)  # a dict lives in one process

    @property
    def map(self) -> Any:
        """The wrapped mapping."""
        return self._mutable_mapping

    def __getitem__(self, key: str) -> Any:
        return self._mutable_mapping[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._mutable_mapping[key] = value

    def __delitem__(self, key: str) -> None:
        del self._mutable_mapping[key]

    def __contains__(self, key: object) -> bool:
        return key in self._mutable_mapping

    def getitems(self, keys: Iterable[str], *, contexts: Any = None) -> dict[str, Any]:
        return self._getitems(keys, contexts=contexts)

    def _getitems_fsmap(self, keys: Iterable[str], contexts: Any = None) -> dict[str, Any]:
        """An fsspec FSMap: one concurrent request for the batch. Its not-found errors come
        back as KeyError; any other error raises (never omitted as missing)."""
        try:
            found = self._mutable_mapping.getitems(list(keys), on_error="return")
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

    def _getitems_one_by_one(self, keys: Iterable[str], contexts: Any = None) -> dict[str, Any]:
        inner = self._mutable_mapping
        out = {}
        for k in keys:
            try:
                out[k] = inner[k]
            except KeyError:
                pass
        return out

    def setitems(self, values: Mapping[str, Any]) -> None:
        self._setitems(dict(values))

    def _set_each(self, values: Mapping[str, Any]) -> None:
        for k, v in values.items():
            self._mutable_mapping[k] = v

    def delitems(self, keys: Iterable[str]) -> None:
        self._delitems(list(keys))

    def _del_each(self, keys: Iterable[str]) -> None:
        for k in keys:
            try:
                del self._mutable_mapping[k]
            except KeyError:
                pass

    def keys(self) -> Any:
        return self._mutable_mapping.keys()

    def __iter__(self) -> Iterator[str]:
        return iter(self._mutable_mapping.keys())

    def __len__(self) -> int:
        return self._len()

    def close(self) -> None:
        """Close the wrapped mapping if it can be closed."""
        self._close()

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
    return Store._ensure_store(store)


def contains_array(store: Any, path: str = "") -> bool:
    """True if an array's metadata is at ``path``."""
    return prefix_of(normalize_storage_path(path)) + ".zarray" in store


def contains_group(store: Any, path: str = "") -> bool:
    """True if a group's metadata is at ``path``."""
    return prefix_of(normalize_storage_path(path)) + ".zgroup" in store


class ConstantMap(Mapping):
    """A read-only mapping of each of ``keys`` to the same ``constant``.

    >>> m = ConstantMap(['a', 'b'], 0)
    >>> dict(m)
    {'a': 0, 'b': 0}
    """

    def __init__(self, keys: Iterable[Any], constant: Any) -> None:
        self._keys = frozenset(keys)
        self._constant = constant

    def __getitem__(self, key: Any) -> Any:
        if key not in self._keys:
            raise KeyError(key)
        return self._constant

    def __iter__(self) -> Iterator[Any]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __repr__(self) -> str:
        return repr({k: self._constant for k in self._keys})
