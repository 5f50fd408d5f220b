"""A store over any `fsspec <https://filesystem-spec.readthedocs.io>`_ file system.

``FSStore('s3://bucket/data.zarr')``, ``FSStore('memory://')``, chained URLs such as
``'simplecache::s3://...'`` or an existing file system object (``fs=``). Batches go to
fsspec's batched calls (``fs.cat`` of a list, ``fs.pipe`` of a dict, ``fs.rm`` of a list),
which concurrent file systems (s3fs, gcsfs, http) run as concurrent requests: fsspec
gathers up to 1280 of a batch at once, and the HTTP client's connection pool is what bounds
them. s3fs's (botocore's) holds 10 connections; for an ``s3://`` URL FSStore sizes it to
:data:`~zarrkit.storage.base.REQUESTS_IN_FLIGHT` (64) unless ``config_kwargs`` names
``max_pool_connections``. gcsfs and http hold 100.

Missing means missing: only a not-found error (``FileNotFoundError``, ``KeyError``, or the
``missing_exceptions`` you pass) reads as an absent key. Any other error on a read --
permissions, timeouts, a network failure -- raises, naming the store and the key, so it can
never come back as fill values.

After ``fork`` the child makes its own file system: an asynchronous one (s3fs, gcsfs, http)
is bound to its process's event loop and refuses to run in a child ("This class is not
fork-safe"). The file system is remade from the URL and storage options, or, for one given
as ``fs=``, from the recipe fsspec pickles it with.
"""

from __future__ import annotations

import inspect
import os
import pickle
import sys
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any, ClassVar, NamedTuple

from ..errors import StoreArgumentError
from .base import (
    REQUESTS_IN_FLIGHT,
    LazyHandle,
    Store,
    _is_fsspec_map,
    as_bytes,
    normalize_storage_path,
    path_argument,
    range_slice,
    read_error,
)
from .directory import DirectoryStore

__all__ = ["FSStore"]

# not-found errors, on top of the ones a user passes as ``missing_exceptions``
_NOT_FOUND: tuple[type[BaseException], ...] = (
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    KeyError,
)
_GLOB_CHARS = ("*", "?", "[")


def _import_fsspec() -> Any:
    try:
        import fsspec
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "FSStore needs fsspec; install it with: pip install 'zarrkit[fsspec]'"
        ) from e
    return fsspec


def _fresh_fsspec_lock() -> None:
    """In a forked child: drop fsspec's global loop lock (fsspec resets its loop after
    ``fork`` but keeps the lock, which another thread of the parent may have held)."""
    asyn = sys.modules.get("fsspec.asyn")
    if asyn is not None and hasattr(asyn, "reset_lock"):
        asyn.reset_lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_fsspec_lock)


def _keep(mapper: Any) -> None:
    """Mappers hold nothing to close."""


def _whole_object_reads(fs: Any, storage_options: Mapping[str, Any]) -> dict[str, Any]:
    """Options of whole-object reads for the file system ``fs``, chosen once.

    s3fs asks for an object's size (a ``HEAD``) before each ``GET``, to split objects larger
    than its block size into concurrent range requests: a second round trip per chunk. Chunks
    are read whole, so unless the user set ``max_concurrency`` it is 1 for chunk reads.
    """
    if type(fs).__module__.split(".")[0] != "s3fs" or "max_concurrency" in storage_options:
        return {}
    try:  # s3fs before 2024 has no such option (and no HEAD either)
        takes_it = "max_concurrency" in inspect.signature(type(fs)._cat_file).parameters
    except (AttributeError, TypeError, ValueError):
        takes_it = False
    return {"max_concurrency": 1} if takes_it else {}


def _s3_pool(url: str, storage_options: dict[str, Any]) -> dict[str, Any]:
    """``storage_options`` of an ``s3://`` URL with a connection pool of
    :data:`~zarrkit.storage.base.REQUESTS_IN_FLIGHT` (unless the user sized it): fsspec
    gathers a whole batch at once, but botocore's pool of 10 connections would let only ten
    requests of it be in flight."""
    protocol = url.split("://", 1)[0] if "://" in url else ""
    if protocol not in ("s3", "s3a"):
        return storage_options
    config = dict(storage_options.get("config_kwargs") or {})
    if "max_pool_connections" in config:
        return storage_options
    config["max_pool_connections"] = REQUESTS_IN_FLIGHT
    return {**storage_options, "config_kwargs": config}


class _Given(NamedTuple):
    """Where a store or mapper given as ``url`` keeps its keys, and how it keys them."""

    url: str
    fs: Any
    storage_options: dict[str, Any]
    normalize_keys: bool = False
    dimension_separator: str | None = None
    missing_exceptions: tuple[type[BaseException], ...] | None = None
    read_only: bool = False


def _same_value(a: Any, b: Any) -> bool:
    try:
        return a is b or bool(a == b)
    except Exception:  # arrays and other values without a plain truth value
        return False


def _merged_options(
    have: Mapping[str, Any], extra: Mapping[str, Any], given: object
) -> dict[str, Any]:
    """``have`` updated with ``extra``; a key set to another value in both is a ValueError."""
    clash = sorted(k for k in extra if k in have and not _same_value(have[k], extra[k]))
    if clash:
        shown = ", ".join(f"{k}={have[k]!r} (given {extra[k]!r})" for k in clash)
        raise ValueError(
            f"FSStore over {given!r}: storage options conflict with the ones it was made "
            f"with: {shown}"
        )
    return {**have, **extra}


def _fs_with_options(fs: Any, extra: Mapping[str, Any], given: object) -> Any:
    """``fs``, or a file system of its class made with its options and ``extra`` added."""
    have = dict(getattr(fs, "storage_options", None) or {})
    merged = _merged_options(have, extra, given)
    if merged == have:
        return fs
    return type(fs)(**merged)


def _given_location(given: Any, fs: Any, storage_options: dict[str, Any]) -> _Given:
    """The location of a store or an fsspec mapper passed to :class:`FSStore` as ``url``.

    An FSStore gives its URL (and options) or its file system and path; an fsspec mapper its
    file system and root; a :class:`DirectoryStore` its folder. ``storage_options`` are
    added to the ones the location was made with (a conflicting value is a ValueError).
    Anything else is a :class:`~zarrkit.errors.StoreArgumentError`.
    """
    what = type(given).__name__
    if isinstance(given, (FSStore, DirectoryStore)) or _is_fsspec_map(given):
        if fs is not None:
            raise ValueError(
                f"FSStore: url is a {what}, which has its own location; fs= cannot be given too"
            )
    if isinstance(given, FSStore):
        if given._given_fs is None:  # its URL, with its options and these
            url, fs = given.url, None
            options = _merged_options(given._storage_options, storage_options, given)
        else:  # its file system (with these options, a new one of the same kind)
            url, fs, options = given.url, _fs_with_options(given.fs, storage_options, given), {}
        return _Given(
            url,
            fs,
            options,
            normalize_keys=given.normalize_keys,
            dimension_separator=given._dimension_separator,
            missing_exceptions=given.missing_exceptions,
            read_only=given.read_only,
        )
    if _is_fsspec_map(given):
        return _Given(
            given.root,
            _fs_with_options(given.fs, storage_options, given),
            {},
            missing_exceptions=getattr(given, "missing_exceptions", None),
        )
    if isinstance(given, DirectoryStore):
        return _Given(
            given.path,
            None,
            dict(storage_options),
            normalize_keys=given.normalize_keys,
            dimension_separator=given._dimension_separator,
            read_only=given.read_only,
        )
    hint = ""
    if isinstance(given, MutableMapping):
        hint = (
            f"; to write into this {what}, pass the store itself where a store is taken "
            "(dask's to_zarr wraps url in an FSStore only when storage_options are given)"
        )
    raise StoreArgumentError(
        "FSStore url must be a path or URL (str or os.PathLike), an FSStore, a "
        f"DirectoryStore or an fsspec mapper, not {what}{hint}"
    )


class FSStore(Store):
    """Keys as files of an fsspec file system below ``url``.

    Parameters follow zarr 2's ``FSStore``: ``mode='r'`` makes the store read-only;
    ``dimension_separator`` (or its older name ``key_separator``) sets the chunk key
    separator of arrays created here -- an existing array always uses its own, and keys
    are never rewritten; ``normalize_keys`` lower-cases keys; ``fs`` is an existing file
    system (then ``url`` is a path in it and no ``storage_options`` may be given);
    ``check``/``create`` test for write access / create the root; ``missing_exceptions``
    adds exception classes that mean "not found"; other keywords go to the file system.

    ``url`` may also be a store or mapper, whose location is then used (what dask's
    ``to_zarr(x, url=group.store, storage_options=...)`` asks for): an ``FSStore`` (its URL
    and storage options, or its file system and path), an fsspec mapper (its file system
    and root) or a :class:`DirectoryStore` (its folder). The keywords given here are added to
    the options the location was made with (a conflicting value is a ``ValueError``); its
    key normalisation, separator and not-found exceptions are kept unless given here, and a
    read-only store stays read-only. Any other object is a
    :class:`~zarrkit.errors.StoreArgumentError` (a ``TypeError``): its ``str()`` is never
    taken as a path.

    ``exceptions`` is accepted for zarr 2 compatibility only: unlike zarr 2, zarrkit never
    turns errors other than not-found into missing keys.

    The store pickles to these arguments. In a forked child it makes its own file system
    (see the module's notes); ``fs``, ``map`` and ``path`` are those of the current process.

    >>> store = FSStore('memory://doc-example')
    >>> store['a/.zgroup'] = b'{}'
    >>> store.listdir('a')
    ['.zgroup']
    >>> store.clear()
    """

    def __init__(
        self,
        url: str | os.PathLike[str] | MutableMapping[str, Any],
        normalize_keys: bool = False,
        key_separator: str | None = None,
        mode: str = "w",
        exceptions: tuple[type[BaseException], ...] = (KeyError, PermissionError, IOError),
        dimension_separator: str | None = None,
        fs: Any = None,
        check: bool = False,
        create: bool = False,
        missing_exceptions: tuple[type[BaseException], ...] | None = None,
        **storage_options: Any,
    ) -> None:
        fsspec = _import_fsspec()
        if isinstance(url, (str, bytes, os.PathLike)):
            url = path_argument(url, "FSStore url")
        else:  # a store or mapper: its location, never its str()
            given = _given_location(url, fs, storage_options)
            url, fs, storage_options = given.url, given.fs, given.storage_options
            normalize_keys = normalize_keys or given.normalize_keys
            if dimension_separator is None and key_separator is None:
                dimension_separator = given.dimension_separator
            if missing_exceptions is None:
                missing_exceptions = given.missing_exceptions
            if given.read_only:
                mode = "r"
        if fs is None:
            protocol, _ = fsspec.core.split_protocol(url)
            if protocol in (None, "file"):
                storage_options.setdefault("auto_mkdir", True)  # create folders on write
            storage_options = _s3_pool(url, storage_options)
        elif storage_options:
            raise ValueError("Cannot specify both fs and storage_options")
        self.url = url
        self._given_fs = fs
        self._storage_options = storage_options
        self.missing_exceptions = missing_exceptions
        mapper = self._make_mapper(fs, check=check, create=create)
        self._mapper = LazyHandle(self._remake_mapper, _keep, value=mapper)
        self.path = mapper.root
        self._read_options = (
            {} if fs is not None else _whole_object_reads(mapper.fs, storage_options)
        )
        self.normalize_keys = normalize_keys
        self.mode = mode
        self._read_only = mode == "r"
        self.exceptions = exceptions
        self._missing = _NOT_FOUND + tuple(missing_exceptions or ())
        if dimension_separator is None:
            dimension_separator = key_separator
        if dimension_separator not in (None, ".", "/"):
            raise ValueError(f"dimension_separator must be '.' or '/', not {dimension_separator!r}")
        self._dimension_separator = dimension_separator
        self._separator_is_fixed = dimension_separator is not None
        self.key_separator = dimension_separator or "."

    # -- the file system of this process ---------------------------------------------------
    def _make_mapper(self, fs: Any, check: bool = False, create: bool = False) -> Any:
        """An fsspec mapper of the store's root on ``fs`` (None: made from the URL)."""
        options: dict[str, Any] = {"check": check, "create": create}
        if self.missing_exceptions is not None:
            options["missing_exceptions"] = tuple(self.missing_exceptions)
        if fs is None:
            return _import_fsspec().get_mapper(self.url, **options, **self._storage_options)
        return fs.get_mapper(fs._strip_protocol(self.url), **options)

    def _remake_mapper(self) -> Any:
        """The mapper of a process other than the one that made the store (a forked child:
        fsspec's instance cache is per process, so the URL gives a new file system)."""
        given = self._given_fs
        if given is None:
            return self._make_mapper(None)
        try:  # fsspec's own recipe, the one it pickles a file system with
            fs = pickle.loads(pickle.dumps(given))
        except Exception as e:
            if getattr(given, "async_impl", False):
                raise RuntimeError(
                    f"{self!r}: its file system, given as fs= ({type(given).__name__}), is "
                    f"bound to the process that made it and cannot be remade in this forked "
                    f"process ({type(e).__name__}: {e}). Give FSStore the URL and storage "
                    "options instead, or start processes with 'spawn' or 'forkserver'."
                ) from e
            fs = given  # a synchronous file system: the child's own copy works
        return self._make_mapper(fs)

    @property
    def map(self) -> Any:
        """The fsspec mapper of the store's root (this process's own)."""
        return self._mapper.get()

    @property
    def fs(self) -> Any:
        """The fsspec file system (this process's own)."""
        return self._mapper.get().fs

    # -- pickling: to the constructor's arguments -------------------------------------------
    _init_params: ClassVar[tuple[str, ...]] = (
        "url",
        "normalize_keys",
        "mode",
        "exceptions",
        "dimension_separator",
        "fs",
        "missing_exceptions",
        "**storage_options",
    )

    def _init_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {
            "url": self.url,
            "normalize_keys": self.normalize_keys,
            "mode": self.mode,
            "exceptions": self.exceptions,
            "dimension_separator": self._dimension_separator,
            "missing_exceptions": self.missing_exceptions,
        }
        if self._given_fs is not None:
            args["fs"] = self._given_fs
        return {**args, **self._storage_options}

    # -- keys and paths ------------------------------------------------------------------
    def _normalize_key(self, key: str) -> str:
        key = normalize_storage_path(key)
        return key.lower() if self.normalize_keys else key

    def _full(self, key: str) -> str:
        """The file system path of ``key`` (already normalised)."""
        return self.map._key_to_str(key) if key else self.map.root

    def dir_path(self, path: str | None = None) -> str:
        """The file system path of the hierarchy path ``path``."""
        return self._full(self._normalize_key(path or ""))

    # -- mapping -------------------------------------------------------------------------
    def __getitem__(self, key: str) -> bytes:
        path = self._full(self._normalize_key(key))
        try:
            return self.fs.cat_file(path, **self._read_options)
        except self._missing:
            raise KeyError(key) from None
        except Exception as e:
            raise read_error(self, key, e) from e

    def __setitem__(self, key: str, value: Any) -> None:
        self._check_writable()
        data = as_bytes(value)
        path = self._full(self._normalize_key(key))
        try:
            if self.fs.isdir(path):
                self.fs.rm(path, recursive=True)  # a key replaces a 'directory' of keys
            try:
                self.fs.pipe_file(path, data)
            except FileNotFoundError:  # folders first (object stores have none to make)
                self.fs.mkdirs(self.fs._parent(path), exist_ok=True)
                self.fs.pipe_file(path, data)
        except (NotADirectoryError, FileExistsError) as e:
            raise KeyError(f"{key!r}: a parent of it is a key in {self!r} ({e})") from None
        self.fs.invalidate_cache(self.fs._parent(path))

    def __delitem__(self, key: str) -> None:
        self._check_writable()
        path = self._full(self._normalize_key(key))
        try:
            # info() first: object stores delete absent objects without a word
            if self.fs.info(path).get("type") == "directory":
                self.fs.rm(path, recursive=True)
            else:
                self.fs.rm(path)
        except self._missing:
            raise KeyError(key) from None
        self.fs.invalidate_cache(self.fs._parent(path))

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            path = self._full(self._normalize_key(key))
        except ValueError:
            return False
        try:  # not fs.isfile: it answers False for any error, a failed check is not "absent"
            return self.fs.info(path).get("type") == "file"
        except self._missing:
            return False
        except Exception as e:
            raise read_error(self, key, e) from e

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys_under(""))

    def __len__(self) -> int:
        return len(self.keys_under(""))

    # -- batches -------------------------------------------------------------------------
    def getitems(self, keys: Iterable[str], *, contexts: Any = None) -> dict[str, bytes]:
        """Values of the present keys, fetched with one ``fs.cat`` call.

        A not-found key is left out; any other error raises, naming the key.
        """
        pairs = [(k, self._full(self._normalize_key(k))) for k in keys]
        if not pairs:
            return {}
        plain = sorted({p for _, p in pairs if not any(c in p for c in _GLOB_CHARS)})
        found: dict[str, Any] = (
            self.fs.cat(plain, on_error="return", **self._read_options) if plain else {}
        )
        out = {}
        for key, path in pairs:
            if path in found:
                value = found[path]
            else:  # glob characters in the key: fetch it alone, never as a pattern
                try:
                    value = self.fs.cat_file(path)
                except Exception as e:
                    value = e
            if isinstance(value, BaseException):
                if isinstance(value, self._missing):
                    continue
                raise read_error(self, key, value) from value
            out[key] = value
        return out

    # -- partial reads ---------------------------------------------------------------------
    partial_reads = True  # fsspec reads byte ranges (HTTP range requests on object stores)

    @property
    def requests_in_flight(self) -> int:  # type: ignore[override]
        """64 (``REQUESTS_IN_FLIGHT``) on an asynchronous file system (s3fs, gcsfs, adlfs,
        HTTP: network requests), 0 on a local or in-memory one."""
        return REQUESTS_IN_FLIGHT if getattr(self.fs, "async_impl", False) else 0

    def getrange(self, key: str, start: int = 0, length: int | None = None) -> bytes:
        range_slice(start, length)  # (checks the arguments)
        path = self._full(self._normalize_key(key))
        if length == 0:  # no request: S3 would answer an empty range with the whole value
            if not self.fs.exists(path):
                raise KeyError(key)
            return b""
        end = None if length is None else start + length
        try:
            return bytes(self.fs.cat_file(path, start=start, end=end))
        except self._missing:
            raise KeyError(key) from None
        except Exception as e:
            return self._range_again(key, path, start, length, e)

    def _range_again(
        self, key: str, path: str, start: int, length: int | None, e: BaseException
    ) -> bytes:
        """A range the file system refused (S3 answers 416 to a range that starts past the
        end, or a suffix longer than the object): read as the protocol says (``b""`` past
        the end, the whole value for a long suffix) when the value's size shows that was
        the reason; any other error raises, naming the key."""
        try:
            size = self.fs.size(path)
        except self._missing:
            raise KeyError(key) from None
        except Exception:
            raise read_error(self, key, e) from e
        if start >= 0 and start >= size:
            return b""
        if start < 0 and -start >= size:
            try:
                return bytes(self.fs.cat_file(path))
            except self._missing:
                raise KeyError(key) from None
            except Exception as again:
                raise read_error(self, key, again) from again
        raise read_error(self, key, e) from e

    def getranges(self, requests: Sequence[tuple[str, int, int | None]]) -> list[bytes | None]:
        """The ranges with one ``fs.cat_ranges`` call (concurrent on async file systems);
        None for a not-found key, any other error raises, naming the key."""
        if not requests:
            return []
        paths, starts, ends = [], [], []
        for key, start, length in requests:
            range_slice(start, length)
            paths.append(self._full(self._normalize_key(key)))
            starts.append(start)
            ends.append(None if length is None else start + length)
        empty = [i for i, (_, _, length) in enumerate(requests) if length == 0]
        if empty:  # asked as a whole-value read, answered b"" (or None if absent) below
            for i in empty:
                ends[i] = None
        found = self.fs.cat_ranges(paths, starts, ends, on_error="return")
        for i in empty:
            if not isinstance(found[i], BaseException):
                found[i] = b""
        out: list[bytes | None] = []
        for (key, start, length), path, value in zip(requests, paths, found):
            if isinstance(value, BaseException):
                if isinstance(value, self._missing):
                    out.append(None)
                    continue
                try:
                    value = self._range_again(key, path, start, length, value)
                except KeyError:
                    out.append(None)
                    continue
            out.append(bytes(value))
        return out

    def setitems(self, values: Mapping[str, Any]) -> None:
        """Store several values with one ``fs.pipe`` call."""
        self._check_writable()
        data = {self._full(self._normalize_key(k)): as_bytes(v) for k, v in values.items()}
        if not data:
            return
        try:
            self.fs.pipe(data)
        except FileNotFoundError:
            # a file system that does not create folders on write (local without auto_mkdir)
            for parent in {self.fs._parent(p) for p in data}:
                self.fs.mkdirs(parent, exist_ok=True)
            self.fs.pipe(data)

    def delitems(self, keys: Iterable[str]) -> None:
        """Delete several keys with one ``fs.rm`` call; absent keys are ignored."""
        self._check_writable()
        paths = sorted({self._full(self._normalize_key(k)) for k in keys})
        if not paths:
            return
        try:
            self.fs.rm(paths)
        except self._missing:
            # some were absent: the batch may have stopped there, so go key by key
            for path in paths:
                try:
                    self.fs.rm(path)
                except self._missing:
                    pass
        for parent in {self.fs._parent(p) for p in paths}:
            self.fs.invalidate_cache(parent)

    # -- hierarchy -----------------------------------------------------------------------
    def listdir(self, path: str = "") -> list[str]:
        """Names below ``path``; in the folder of an array of a store whose separator is '/',
        chunk keys rather than the folders of their first index (as NestedDirectoryStore)."""
        folder = self.dir_path(path)
        try:
            entries = self.fs.ls(folder, detail=True)
        except self._missing:
            return []
        names: dict[str, str] = {}
        for entry in entries:
            name = entry["name"].rstrip("/")
            if name == folder.rstrip("/"):  # ls of a file lists the file itself
                continue
            names[name.rsplit("/", 1)[-1]] = entry.get("type", "file")
        if self.key_separator != "/" or ".zarray" not in names:
            return sorted(names)
        out = [n for n, kind in names.items() if not (n.isdigit() and kind == "directory")]
        nested = [n for n, kind in names.items() if n.isdigit() and kind == "directory"]
        if nested:
            under = self.keys_under(path)
            out.extend(k for k in under if k.split("/", 1)[0] in nested)
        return sorted(out)

    def keys_under(self, path: str = "") -> list[str]:
        base = self.dir_path(path).rstrip("/")
        try:
            found = self.fs.find(base)
        except self._missing:
            return []
        # find() of a key lists the key itself: keep only what lies below the folder
        return sorted(p[len(base) :].lstrip("/") for p in found if p.startswith(base + "/"))

    def rmdir(self, path: str = "") -> None:
        self._check_writable()
        folder = self.dir_path(path)
        if self.fs.isdir(folder):
            self.fs.rm(folder, recursive=True)
            self.fs.invalidate_cache(folder)

    def getsize(self, path: str = "") -> int:
        """Bytes of the key ``path``, or of the keys directly in the folder ``path``."""
        target = self.dir_path(path)
        try:
            info = self.fs.info(target)
        except self._missing:
            return 0
        if info.get("type") != "directory":
            return int(info.get("size") or 0)
        return sum(
            int(e.get("size") or 0)
            for e in self.fs.ls(target, detail=True)
            if e.get("type") != "directory"
        )

    def size_below(self, path: str = "") -> int:
        """Bytes of the key ``path`` or of every key below it, from one listing (no reads)."""
        target = self.dir_path(path)
        try:
            info = self.fs.info(target)
        except self._missing:
            return 0
        if info.get("type") != "directory":
            return int(info.get("size") or 0)
        found = self.fs.find(target, detail=True)
        return sum(int(e.get("size") or 0) for e in found.values() if e.get("type") != "directory")

    def clear(self) -> None:
        self._check_writable()
        self.rmdir("")

    # -- identity ------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return (
            type(self) is type(other)
            and self.fs == other.fs
            and self.path == other.path
            and self.mode == other.mode
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"
