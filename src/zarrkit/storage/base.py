"""The store protocol, written once.

A store is a ``MutableMapping[str, bytes]``. Backends implement the single-key methods;
everything else is here, once:

- batched ``getitems`` / ``setitems`` / ``delitems`` (one call per key; a backend overrides
  them only where it can do better);
- the read-only rule: every writing method a subclass defines (``__setitem__``,
  ``__delitem__``, ``setitems``, ``delitems``, ``rmdir``, ``rename``, ``clear``) raises
  :class:`~zarrkit.errors.ReadOnlyError` when ``store.read_only`` is true, checked here;
- pickling to constructor arguments: a backend lists its constructor parameters in
  ``_init_params`` and ``__reduce_ex__`` rebuilds the store from them (never from open
  handles);
- lazy handles (:class:`LazyHandle`): a connection or environment opened on first use in
  the process that uses it, reopened after ``fork`` or unpickling;
- declared capabilities, as class attributes: ``listable``, ``erasable``,
  ``partial_reads`` (``getrange`` reads part of a value), ``multiprocess_safe`` (writes
  from several processes are kept), ``fork_safe`` (usable in a forked child),
  ``requests_in_flight`` (a store over a network, and how many requests it keeps at once).

Any other mapping (a dict, an fsspec ``FSMap``, an object with the five mapping methods
zarr 2 asked for) is adapted by :func:`as_store` into a :class:`KVStore`, which picks how
batches reach the mapping once, at construction.

``getitems(keys, *, contexts=None)`` may be called with or without ``contexts``, whatever the
store's own signature (zarr 2.18 stores require it, older ones lack it): ``Store`` adapts each
subclass's method once, when the class is made.

``getsize(path)`` follows zarr 2 (a key's size, or the sizes of the keys directly below
``path``); ``size_below(path)`` counts every depth and is what ``Array.nbytes_stored`` uses.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from ..errors import MetadataError, ReadOnlyError, StoreArgumentError
from .files import LocalFiles

_T = TypeVar("_T")

__all__ = [
    "Store",
    "KVStore",
    "LazyHandle",
    "as_store",
    "path_argument",
    "normalize_storage_path",
    "join_path",
    "prefix_of",
]


def normalize_storage_path(path: str | bytes | None) -> str:
    """Clean a hierarchy path: no leading/trailing slashes, no empty, ``.`` or ``..`` segments.

    >>> normalize_storage_path('/foo//bar/')
    'foo/bar'
    """
    if type(path) is str and _NOT_NORMAL.search(path) is None:
        return path  # the common case: keys and member paths are normal already
    if path is None:
        return ""
    if isinstance(path, bytes):
        path = path.decode("ascii")
    elif not isinstance(path, str):
        if type(path).__str__ is object.__str__:  # its str() is its repr: never a path
            raise TypeError(
                f"a hierarchy path must be a str (e.g. 'a/b'), not {type(path).__name__}"
            )
        path = str(path)  # an object that names itself (its own __str__), as zarr 2 takes it
    path = path.replace("\\", "/").strip("/")
    while "//" in path:
        path = path.replace("//", "/")
    if path:
        for seg in path.split("/"):
            if seg in (".", ".."):
                raise ValueError(f"path {path!r} contains '.' or '..' segments")
    return path


# what normalize_storage_path changes or refuses: a leading or trailing '/', '//', a
# backslash, a '.' or '..' segment
_NOT_NORMAL = re.compile(r"\A/|/\Z|//|\\|(?:\A|/)\.\.?(?:/|\Z)")


def prefix_of(path: str) -> str:
    """``'foo/bar'`` -> ``'foo/bar/'``; ``''`` -> ``''``."""
    return path + "/" if path else ""


def join_path(path: str, key: str) -> str:
    return prefix_of(path) + key


def range_slice(start: int, length: int | None) -> slice:
    """The slice of a value that ``getrange(key, start, length)`` reads (a negative
    ``start``: the last ``-start`` bytes, with no ``length``).

    >>> b"0123456789"[range_slice(-3, None)], b"0123456789"[range_slice(2, 3)]
    (b'789', b'234')
    """
    if length is not None and length < 0:
        raise ValueError(f"a range's length must not be negative, not {length}")
    if start < 0:
        if length is not None:
            raise ValueError("a suffix range (negative start) takes no length")
        return slice(start, None)
    return slice(start, None if length is None else start + length)


def parse_json(raw: Any, key: str = "") -> Any:
    """Parse a JSON metadata document, naming ``key`` in the error when it is not valid JSON."""
    try:
        if isinstance(raw, (bytes, bytearray, memoryview)):
            raw = bytes(raw).decode("utf-8")
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise MetadataError(f"metadata at {key!r} is not valid JSON: {e}") from None
    except RecursionError:
        raise MetadataError(
            f"metadata at {key!r} is not valid metadata: it nests containers deeper than "
            "the JSON parser goes"
        ) from None


#: requests a store over a network keeps in flight for one batch (``getitems``,
#: ``setitems``, ``getranges``): ``ObjectStore``'s default ``concurrency`` and the size of
#: ``FSStore``'s s3fs connection pool (botocore's default, 10, would hold a batch to ten).
#: At a latency ``t`` a batch of ``n`` objects takes about ``ceil(n / 64) * t`` plus the
#: transfer; the bytes of a batch are bounded by the chunk pipeline (``pipeline/chunks.py``:
#: 128 MB read, 32 MB written), never by this number.
REQUESTS_IN_FLIGHT = 64

_DECODED: dict[tuple[Callable, bytes], Any] = {}
_DECODED_BUDGET = 32 << 20  # bytes of documents remembered, at most
_decoded_bytes = 0


def decoded(raw: Any, key: str, decode: Callable[[Any, str], _T]) -> _T:
    """``decode(parse_json(raw), key)``, remembered by ``raw``'s bytes (the one memo of
    decoded metadata: the result must be immutable and depend on the document only).
    The memo holds documents of at most 32 MB in all and starts afresh when full."""
    global _decoded_bytes
    data = raw if type(raw) is bytes else bytes(memoryview(raw).cast("B"))
    memo = (decode, data)
    try:
        return _DECODED[memo]
    except KeyError:
        pass
    value = decode(parse_json(data, key), key)
    if len(data) <= _DECODED_BUDGET // 8:
        if _decoded_bytes + len(data) > _DECODED_BUDGET:
            _DECODED.clear()
            _decoded_bytes = 0
        _DECODED[memo] = value
        _decoded_bytes += len(data)
    return value


class Store(MutableMapping):
    """Base class of zarrkit stores.

    Subclasses implement ``__getitem__``, ``__setitem__``, ``__delitem__``, ``__iter__`` and
    ``__len__``; everything else has a default here. A subclass that pickles to its
    constructor arguments names them in ``_init_params`` (see :meth:`_init_args`).
    """

    _read_only = False
    _dimension_separator: str | None = None
    #: True when the store was told its chunk key separator: arrays may not ask for another
    _separator_is_fixed = False
    #: the Zarr format version the store holds (zarr 2 code checks ``store._store_version``)
    _store_version = 2
    # -- declared capabilities -----------------------------------------------------------
    #: keys can be enumerated (``iter``, ``listdir``, ``len``)
    listable: ClassVar[bool] = True
    #: a value read back is exactly the value written (no translation of keys or values, as
    #: N5 does): creating an array then keeps the metadata record it wrote instead of
    #: reading the document back
    verbatim: ClassVar[bool] = False
    #: keys can be deleted (``del``, ``delitems``, ``rmdir``) when the store is writable
    erasable: ClassVar[bool] = True
    #: :meth:`getrange` reads part of a value without reading all of it
    partial_reads: ClassVar[bool] = False
    #: requests the store keeps in flight when each pays a network latency (an object
    #: store); 0 for a local store (the default). Above 0, a read or write of many chunks
    #: overlaps its requests with the codec work (``pipeline/chunks.py``: ``_Requests``),
    #: in concurrent ``getitems``/``setitems`` calls whose keys add up to this many
    requests_in_flight: int = 0
    #: writes from several processes reach one store and lose nothing. False for an in-memory
    #: store (each process would write to its own copy), a single-file archive (``ZipStore``)
    #: and DBM files: an array refuses to write to such a store from a process other than the
    #: one that opened it (a forked child, or a process-based dask worker it was pickled to)
    multiprocess_safe: ClassVar[bool] = True
    #: the store works in a child forked from a process that already used it (its handles
    #: are reopened there, see :class:`LazyHandle`). False where a library cannot: the store
    #: then raises a clear error in such a child rather than hang, and says why in its
    #: docstring (``ObjectStore``: obstore's Rust runtime does not survive ``fork``). Pickling
    #: the store to a process started with 'spawn' or 'forkserver' works either way.
    fork_safe: ClassVar[bool] = True

    #: constructor parameters that rebuild the store when unpickled, in order. Each value is
    #: read from the attribute of that name, or of that name with a leading underscore; an
    #: entry ``'**name'`` is a dict of further keyword arguments. Empty: pickle the
    #: instance's ``__dict__`` (or its own ``__getstate__``) instead.
    _init_params: ClassVar[tuple[str, ...]] = ()

    _WRITERS: ClassVar[tuple[str, ...]] = (
        "__setitem__",
        "__delitem__",
        "setitems",
        "delitems",
        "rmdir",
        "rename",
        "clear",
    )

    #: batch and helper methods, each with the mapping methods it stands for. A subclass
    #: written outside zarrkit that overrides one of those mapping methods (to count, log,
    #: cache, decrypt or refuse keys) but not the method standing for it inherits this
    #: class's default of it, which goes through the subclass's own mapping methods: a
    #: backend's shortcut (reading files in a batch, walking folders) never goes around a
    #: method a user's subclass overrides.
    _STANDS_FOR: ClassVar[dict[str, tuple[str, ...]]] = {
        "getitems": ("__getitem__",),
        "getrange": ("__getitem__",),
        "getranges": ("__getitem__", "getrange"),
        "getjson": ("__getitem__",),
        "getdecoded": ("__getitem__",),
        "getdecoded_many": ("__getitem__", "getitems", "getdecoded"),
        "setitems": ("__setitem__",),
        "delitems": ("__delitem__",),
        "keys_under": ("__iter__", "keys"),
    }

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Adapt, once per class: shortcuts back to the protocol's defaults where the class
        overrides what they stand for (``_STANDS_FOR``), the read-only check on every
        writing method the class defines, and its own ``getitems`` to the protocol's
        signature.

        Stores written for zarr 2 declare ``getitems(keys, *, contexts)`` with ``contexts``
        required, older ones have no ``contexts`` at all; callers of this protocol may always
        pass it, or leave it out.
        """
        super().__init_subclass__(**kwargs)
        if not cls.__module__.startswith("zarrkit."):  # (zarrkit's own stores pair them)
            for name, basics in Store._STANDS_FOR.items():
                if name not in cls.__dict__ and any(b in cls.__dict__ for b in basics):
                    setattr(cls, name, Store.__dict__[name])
            if cls.getrange is Store.getrange and "partial_reads" not in cls.__dict__:
                cls.partial_reads = False  # its ranges read whole values now
        own = cls.__dict__.get("getitems")
        if own is not None:
            cls.getitems = _with_optional_contexts(own)  # type: ignore[method-assign]
        for name in cls._WRITERS:
            method = cls.__dict__.get(name)
            if callable(method) and not getattr(method, "_checks_read_only", False):
                setattr(cls, name, _refusing_when_read_only(method))

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
        raise StoreArgumentError(
            "a store must be a path or URL (str or os.PathLike), a zarrkit Store, a "
            f"MutableMapping (dict-like) or an object with {', '.join(_MAPPING_METHODS)}, "
            f"not {type(store).__name__}"
        )

    @property
    def _metadata_class(self) -> Any:
        """zarr 2's codec of metadata documents as dicts (``zarrkit.meta.Metadata2``)."""
        # a zarr 2 compatibility name; the codec lives above the stores, so it is looked up
        # when asked for
        from ..compat.meta import Metadata2

        return Metadata2

    # -- capabilities ------------------------------------------------------------------
    @property
    def read_only(self) -> bool:
        """True when every write raises :class:`~zarrkit.errors.ReadOnlyError`."""
        return self._read_only

    def is_readable(self) -> bool:
        return True

    def is_writeable(self) -> bool:
        return not self.read_only

    def is_listable(self) -> bool:
        return self.listable

    def is_erasable(self) -> bool:
        return self.erasable and not self.read_only

    #: what a read-only error names (default: the store's class)
    _read_only_what = ""

    def _check_writable(self) -> None:
        """Raise :class:`~zarrkit.errors.ReadOnlyError` if the store is read-only (the
        writing methods of every subclass already call this)."""
        if self.read_only:
            raise ReadOnlyError(self._read_only_what or f"{type(self).__name__} store")

    # -- pickling to constructor arguments ---------------------------------------------
    def _init_args(self) -> dict[str, Any]:
        """The constructor keywords that rebuild this store (from ``_init_params``).

        Override to adjust a value (a ``mode='w'`` that must not empty the data again) or to
        flush buffered writes before the store is copied to another process.
        """
        kwargs: dict[str, Any] = {}
        for name in self._init_params:
            if name.startswith("**"):
                kwargs.update(_attribute(self, name[2:]) or {})
            else:
                kwargs[name] = _attribute(self, name)
        return kwargs

    @classmethod
    def _from_init_args(cls, kwargs: dict[str, Any]) -> Store:
        """The store an unpickled copy is: ``cls(**kwargs)`` unless overridden."""
        return cls(**kwargs)

    def __reduce_ex__(self, protocol: Any) -> Any:
        cls = type(self)
        if not cls._init_params or cls.__reduce__ is not object.__reduce__:
            return super().__reduce_ex__(protocol)  # the instance's state, or its own reduce
        return (_rebuild, (cls, self._init_args(), self.read_only))

    # -- local files -------------------------------------------------------------------
    def local_files_at(self, path: str) -> LocalFiles | None:
        """The keys below the hierarchy path ``path`` as plain files the chunk pipeline
        reads and writes itself, from its per-chunk pool tasks (fetch, decode and scatter
        fused per chunk; uncompressed chunks read straight into the output), or None (the
        default): chunks then go through the store's own methods, in batches.

        A declared capability: only a store whose keys *are* the files of a folder offers
        them (``DirectoryStore``, and no subclass of it that overrides how keys map to
        files or wants to see every access).
        """
        return None

    # -- partial reads -----------------------------------------------------------------
    def getrange(self, key: str, start: int = 0, length: int | None = None) -> bytes:
        """``length`` bytes of the value of ``key`` from ``start`` (to the end if None); a
        negative ``start`` reads the last ``-start`` bytes (a suffix: all of the value if
        it is shorter; ``length`` must then be None). A range past the end is cut short
        (``b""`` beyond it); ``KeyError`` if the key is absent.

        Stores that declare ``partial_reads`` read only those bytes; the default reads the
        whole value.
        """
        return bytes(memoryview(self[key]).cast("B")[range_slice(start, length)])

    def getranges(self, requests: Sequence[tuple[str, int, int | None]]) -> list[bytes | None]:
        """The ranges ``(key, start, length)`` (as :meth:`getrange` reads them), in order;
        None for a request whose key is absent. The default makes one :meth:`getrange` call
        each; a backend that batches requests overrides it."""
        out: list[bytes | None] = []
        for key, start, length in requests:
            try:
                out.append(self.getrange(key, start, length))
            except KeyError:
                out.append(None)
        return out

    def getjson(self, key: str) -> Any:
        """The JSON document at ``key``, parsed (``KeyError`` if it is absent).

        Metadata are read through it: a store that holds the documents already parsed
        (consolidated metadata) hands them over without a serialise/parse round trip.
        Callers must not change the result.
        """
        return parse_json(self[key], key)

    def getdecoded(self, key: str, decode: Callable[[Any, str], _T]) -> _T:
        """``decode(document, key)`` of the JSON document at ``key`` (``KeyError`` if absent).

        ``decode`` turns a parsed document into an immutable record (a format's checker and
        translator, such as ``formats.v2.decode_array_meta``); its results are remembered by
        the document's bytes, so opening the same metadata again (every member of a group,
        a group opened anew) neither parses nor checks it twice. Errors are not remembered.

        >>> from zarrkit.storage import MemoryStore
        >>> s = MemoryStore(); s["k"] = b'{"a": [1, 2]}'
        >>> s.getdecoded("k", lambda doc, key: tuple(doc["a"]))
        (1, 2)
        """
        return decoded(self[key], key, decode)

    def getdecoded_many(self, requests: Mapping[str, Callable[[Any, str], Any]]) -> dict[str, Any]:
        """:meth:`getdecoded` of several documents at once: ``{key: decode}`` ->
        ``{key: record}`` for the keys present (absent keys are left out). The documents are
        fetched with one :meth:`getitems` call (concurrent requests on an object store), so
        opening the members of a group pays one round trip, not one per member.

        A document that does not decode comes back as its exception (not raised), so that a
        caller raises it only when that document is used; an error of the store itself
        raises. A ``KeyError`` from ``decode`` means "not of this kind": the key is left out.
        A store that overrides :meth:`getdecoded` (consolidated metadata) is asked key by key.

        >>> from zarrkit.storage import MemoryStore
        >>> s = MemoryStore(); s["a"] = b'[1, 2]'; s["b"] = b'not json'
        >>> got = s.getdecoded_many({"a": lambda d, k: tuple(d), "b": lambda d, k: d, "c": None})
        >>> got["a"], type(got["b"]).__name__, "c" in got
        ((1, 2), 'MetadataError', False)
        """
        out: dict[str, Any] = {}
        if type(self).getdecoded is not Store.getdecoded:
            for key, decode in requests.items():
                try:
                    out[key] = self.getdecoded(key, decode)
                except KeyError:
                    pass
                except Exception as e:
                    out[key] = e
            return out
        for key, raw in self.getitems(list(requests)).items():
            try:
                out[key] = decoded(raw, key, requests[key])
            except KeyError:
                pass  # the decoder's "not of this kind" (a group's zarr.json read as an array)
            except Exception as e:
                out[key] = e
        return out

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
    def claim_empty(self, path: str) -> bool:
        """Prepare the place of a new node at ``path`` (not the root) when that also tells
        that nothing was there: True means no key was below ``path``, so no array or group
        is there and creation can skip looking. False (the default) tells nothing; the
        caller looks key by key. ``DirectoryStore`` makes the node's folder: one system call
        instead of a look for ``.zarray`` and ``.zgroup`` and a folder made later."""
        return False

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


def _rebuild(cls: type[Store], kwargs: dict[str, Any], read_only: bool) -> Store:
    """Unpickle a store from its constructor arguments (made read-only if it was)."""
    store = cls._from_init_args(kwargs)
    if read_only and not store.read_only:
        store._read_only = True
    return store


def _attribute(obj: object, name: str) -> Any:
    """``obj.name``, else ``obj._name``."""
    try:
        return getattr(obj, name)
    except AttributeError:
        return getattr(obj, "_" + name)


def _refusing_when_read_only(method: Callable) -> Callable:
    """``method``, raising :class:`ReadOnlyError` first when its store is read-only."""

    @functools.wraps(method)
    def checked(self: Store, *args: Any, **kwargs: Any) -> Any:
        if self.read_only:
            raise ReadOnlyError(self._read_only_what or f"{type(self).__name__} store")
        return method(self, *args, **kwargs)

    checked._checks_read_only = True  # type: ignore[attr-defined]
    return checked


# the base class's own writing methods get the same check as those of its subclasses
for _name in Store._WRITERS:
    if _name in Store.__dict__:
        setattr(Store, _name, _refusing_when_read_only(Store.__dict__[_name]))


class LazyHandle(Generic[_T]):
    """A handle (connection, environment, open database) opened on first use, in the
    process that uses it.

    ``get()`` opens it with ``open()`` the first time, and again in a forked child (a
    handle inherited through ``fork`` is never used: it belongs to the parent). ``close()``
    closes it with ``close(handle)`` if this process opened it; the next ``get()`` reopens.
    ``value`` is a handle already open in this process (made by the caller, or given by a
    user): used here, never in a forked child. Stores hold one and pickle to their
    parameters, so an unpickled store opens its own.

    >>> h = LazyHandle(lambda: object(), lambda handle: None)
    >>> h.is_open
    False
    >>> h.get() is h.get()
    True
    >>> h.close(); h.is_open
    False
    """

    def __init__(
        self,
        open: Callable[[], _T],
        close: Callable[[_T], Any] | None = None,
        *,
        value: _T | None = None,
    ) -> None:
        self._open = open
        self._close = close if close is not None else _close_handle
        self._value: _T | None = value
        self._pid: int | None = None if value is None else os.getpid()
        self._lock = threading.Lock()
        self._lock_pid = os.getpid()

    def _guard(self) -> threading.Lock:
        """The lock, replaced in a forked child (where another thread may have held it)."""
        if self._lock_pid != os.getpid():
            self._lock, self._lock_pid = threading.Lock(), os.getpid()
        return self._lock

    @property
    def is_open(self) -> bool:
        """True when this process holds an open handle."""
        return self._value is not None and self._pid == os.getpid()

    def get(self) -> _T:
        """The handle, opened now if this process has none."""
        value = self._value
        if value is not None and self._pid == os.getpid():
            return value
        with self._guard():
            if self._value is None or self._pid != os.getpid():
                self._value = self._open()
                self._pid = os.getpid()
            return self._value

    def close(self) -> None:
        """Close the handle if this process opened it (an inherited one is only dropped)."""
        with self._guard():
            value, pid = self._value, self._pid
            self._value = self._pid = None
        if value is not None and pid == os.getpid():
            self._close(value)

    def __reduce__(self) -> Any:
        raise TypeError("a LazyHandle is not pickled: pickle the store that holds it")


def _close_handle(handle: Any) -> None:
    handle.close()


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

    _init_params = ("mutablemapping",)

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

    def _init_args(self) -> dict[str, Any]:
        return {"mutablemapping": self._mutable_mapping}

    @property
    def multiprocess_safe(self) -> bool:  # type: ignore[override]
        inner = self._mutable_mapping
        if isinstance(inner, Store):
            return inner.multiprocess_safe
        return not isinstance(inner, dict)  # a dict lives in one process

    @property
    def verbatim(self) -> bool:  # type: ignore[override]
        inner = self._mutable_mapping
        return inner.verbatim if isinstance(inner, Store) else type(inner) is dict

    @property
    def fork_safe(self) -> bool:  # type: ignore[override]
        inner = self._mutable_mapping
        return inner.fork_safe if isinstance(inner, Store) else True

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


def path_argument(value: Any, what: str = "path") -> str:
    """``value``, a file system path or URL, as a ``str``.

    A ``str`` is returned as it is; an ``os.PathLike`` (``pathlib.Path``) or ``bytes`` goes
    through ``os.fspath`` / ``os.fsdecode``. Anything else is a
    :class:`~zarrkit.errors.StoreArgumentError` (a ``TypeError``) naming ``what`` and the
    type: an object's ``str()`` or ``repr`` never becomes a path.

    >>> import pathlib
    >>> path_argument(pathlib.PurePosixPath('/data/x.zarr'))
    '/data/x.zarr'
    >>> path_argument(3, 'DirectoryStore path')
    Traceback (most recent call last):
    ...
    zarrkit.errors.StoreArgumentError: DirectoryStore path must be a path or URL (str or os.PathLike), not int
    """
    if isinstance(value, str):
        return str(value)  # a subclass (numpy.str_) as a plain str
    if isinstance(value, (bytes, os.PathLike)):
        return os.fsdecode(value)
    raise StoreArgumentError(
        f"{what} must be a path or URL (str or os.PathLike), not {type(value).__name__}"
    )


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


def as_bytes(value: Any) -> bytes:
    """A store value as ``bytes``; a value without the buffer protocol is a ``TypeError``."""
    if isinstance(value, bytes):
        return value
    try:
        return memoryview(value).tobytes()
    except TypeError:
        raise TypeError(
            f"a store value must be bytes or a buffer, not {type(value).__name__}"
        ) from None
