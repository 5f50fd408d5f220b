"""A store on `obstore <https://developmentseed.org/obstore>`_, the Python binding of Rust's
``object_store`` (S3, GCS, Azure, HTTP, local files).

``ObjectStore('s3://bucket/data.zarr', endpoint=..., region=...)`` builds the client with
``obstore.store.from_url``; ``ObjectStore(S3Store(...))`` wraps one made by hand. Batches run
concurrently: ``getitems``/``setitems`` gather obstore's async requests on one background
event loop (at most ``concurrency`` in flight), ``delitems`` is one bulk delete (S3's
``DeleteObjects``). obstore ships wheels for CPython >= 3.11 only: ``pip install
'zarrkit[obstore]'``.

Missing means missing: only obstore's not-found error reads as an absent key; any other error
(permissions, credentials, timeouts) raises, naming the store and the key.

Not fork-safe (``ObjectStore.fork_safe`` is False): obstore runs its requests on a Rust
(tokio) runtime that is global to the process and started on first use; ``fork`` copies it
without its threads, and a request in the child then waits forever (obstore cannot start a
second runtime there, nor can we). So an ObjectStore used in a process raises a
:class:`RuntimeError` that says so in a child forked from it, instead of hanging. A store
pickled to a process started with 'spawn' or 'forkserver' (dask's process workers,
``multiprocessing.get_context('spawn')``) works, as does a child forked before the parent's
first request.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from ..errors import StoreArgumentError
from .base import (
    REQUESTS_IN_FLIGHT,
    Store,
    normalize_storage_path,
    path_argument,
    prefix_of,
    range_slice,
    read_error,
)

__all__ = ["ObjectStore"]


def _import_obstore() -> Any:
    try:
        import obstore
        import obstore.store
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "ObjectStore needs obstore (wheels for CPython >= 3.11); install it with: "
            "pip install 'zarrkit[obstore]'"
        ) from e
    return obstore


# -- one event loop in a background thread runs the batches -----------------------------------
_loop_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


def _event_loop() -> asyncio.AbstractEventLoop:
    """The process's batch loop, started on first use (and again in a forked child)."""
    global _loop, _loop_pid
    with _loop_lock:
        if _loop is None or _loop_pid != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="zarrkit-obstore", daemon=True).start()
            _loop, _loop_pid = loop, os.getpid()
        return _loop


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` on the batch loop and wait for it (works inside a running loop too, as in
    Jupyter, since the loop is another thread's)."""
    return asyncio.run_coroutine_threadsafe(coro, _event_loop()).result()


#: the process in which ObjectStore first used obstore's runtime (None: not yet)
_runtime_pid: int | None = None


def _runtime_here(store: object) -> None:
    """Raise if obstore's runtime was started in the process this one was forked from."""
    global _runtime_pid
    pid = os.getpid()
    if _runtime_pid == pid:
        return
    if _runtime_pid is None:
        _runtime_pid = pid
        return
    raise RuntimeError(
        f"{store!r} cannot be used in this process ({pid}): it was forked from process "
        f"{_runtime_pid} after obstore's Rust runtime started there, and that runtime does not "
        "survive fork (its requests would hang). Start processes with 'spawn' or "
        "'forkserver' (the store pickles to its arguments), or fork before the first request."
    )


# values up to this size go up as one PUT: atomic, one request; obstore's default would cut
# anything above 5 MB into a multipart upload (four requests and three round trips one
# after the other for a 6 MB shard, and parts left behind if the upload is cut off)
_SINGLE_PUT_MAX = 256 * 2**20


def _put_options(value: Any) -> dict[str, Any]:
    """Keyword arguments of obstore's ``put`` for ``value`` (from :func:`_buffer`)."""
    size = value.nbytes if isinstance(value, memoryview) else len(value)
    return {"use_multipart": False} if size <= _SINGLE_PUT_MAX else {}


def _buffer(value: Any) -> Any:
    """``value`` as something obstore can upload; anything without the buffer protocol is a
    ``TypeError``."""
    if isinstance(value, bytes):
        return value
    try:
        view = memoryview(value)
    except TypeError:
        raise TypeError(
            f"store values must be bytes-like (buffer protocol), not {type(value).__name__}"
        ) from None
    return view if view.c_contiguous else view.tobytes()


class ObjectStore(Store):
    """Keys as objects of an obstore store, below ``path``.

    ``store`` is a URL (``'s3://bucket/prefix'``, ``'gs://...'``, ``'az://...'``,
    ``'file:///...'``, ``'memory:///'``) given with its ``options`` to
    ``obstore.store.from_url``, or an obstore store object (then no ``options``).
    ``mode='r'`` makes the store read-only; ``dimension_separator`` sets the chunk key
    separator of arrays created here; ``concurrency`` bounds the requests in flight per batch
    (default :data:`~zarrkit.storage.base.REQUESTS_IN_FLIGHT`, 64: a batch of ``n`` objects
    takes about ``ceil(n / concurrency)`` request latencies).

    The store pickles to these parameters (obstore's stores pickle to their configuration),
    so it can travel to other processes. It is not fork-safe (see the module's notes): in a
    child forked after the parent's first request it raises a ``RuntimeError`` saying so.

    >>> store = ObjectStore('memory:///')
    >>> store.setitems({'a/.zgroup': b'{}', 'a/b': b'1'})
    >>> store.listdir('a'), store.getitems(['a/b', 'missing'])
    (['.zgroup', 'b'], {'a/b': b'1'})
    """

    def __init__(
        self,
        store: Any,
        *,
        path: str = "",
        mode: str = "w",
        dimension_separator: str | None = None,
        concurrency: int = REQUESTS_IN_FLIGHT,
        **options: Any,
    ) -> None:
        obstore = _import_obstore()
        if isinstance(store, (str, bytes, os.PathLike)):
            store = path_argument(store, "ObjectStore store")
        elif not any(c.__module__.split(".")[0] == "obstore" for c in type(store).__mro__):
            raise StoreArgumentError(
                "ObjectStore store must be a URL (str or os.PathLike) or an obstore store "
                f"object, not {type(store).__name__}"
            )
        if isinstance(store, str):
            self._store = obstore.store.from_url(store, **options)
        elif options:
            raise ValueError("options are for a URL; an obstore store object is already made")
        else:
            self._store = store
        if dimension_separator not in (None, ".", "/"):
            raise ValueError(f"dimension_separator must be '.' or '/', not {dimension_separator!r}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency!r}")
        self._obstore = obstore
        self._params = {
            "store": store,
            "path": path,
            "mode": mode,
            "dimension_separator": dimension_separator,
            "concurrency": concurrency,
            **options,
        }
        self.url = store if isinstance(store, str) else None
        self.path = normalize_storage_path(path)
        self.mode = mode
        self._read_only = mode == "r"
        self.concurrency = concurrency
        self._dimension_separator = dimension_separator
        self._separator_is_fixed = dimension_separator is not None
        self.key_separator = dimension_separator or "."

    fork_safe = False  # obstore's runtime does not survive fork (see the module's notes)
    #: byte ranges of one key at most this far apart are fetched with one request
    RANGE_GAP: ClassVar[int] = 64 * 2**10

    @property
    def store(self) -> Any:
        """The obstore store object (a ``RuntimeError`` in a child forked after the
        parent's first request, where any request would hang)."""
        _runtime_here(self)
        return self._store

    #: pickled to ``ObjectStore(**store._params)``, the constructor's arguments
    _init_params = ("**params",)

    # -- keys ------------------------------------------------------------------------
    def _full(self, key: str) -> str:
        """The object path of ``key`` (a hierarchy path; '..' and the like are refused)."""
        return prefix_of(self.path) + normalize_storage_path(key)

    def _folder(self, path: str) -> str:
        """The object prefix of the hierarchy path ``path``, '' or ending in '/'."""
        return prefix_of(self._full(path)) if path else prefix_of(self.path)

    def _list(self, prefix: str) -> list[dict[str, Any]]:
        """Every object below ``prefix`` (a folder, '' or ending in '/')."""
        out: list[dict[str, Any]] = []
        for batch in self._obstore.list(self.store, prefix.rstrip("/") or None):
            out.extend(batch)
        return out

    # -- mapping -----------------------------------------------------------------------
    def __getitem__(self, key: str) -> bytes:
        path, store = self._full(key), self.store
        try:
            return bytes(self._obstore.get(store, path).bytes())
        except FileNotFoundError:  # obstore's NotFoundError
            raise KeyError(key) from None
        except Exception as e:
            raise read_error(self, key, e) from e

    def __setitem__(self, key: str, value: Any) -> None:
        self._check_writable()
        value = _buffer(value)
        self._obstore.put(self.store, self._full(key), value, **_put_options(value))

    def __delitem__(self, key: str) -> None:
        self._check_writable()
        if key not in self:  # an object store deletes absent objects without a word
            raise KeyError(key)
        self._obstore.delete(self.store, self._full(key))

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            if not normalize_storage_path(key):
                return False
            path = self._full(key)
        except ValueError:
            return False
        store = self.store
        try:
            self._obstore.head(store, path)
        except FileNotFoundError:
            return False
        except Exception as e:
            raise read_error(self, key, e) from e
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys_under(""))

    def __len__(self) -> int:
        return len(self.keys_under(""))

    # -- batches -------------------------------------------------------------------------
    def getitems(self, keys: Iterable[str], *, contexts: Any = None) -> dict[str, bytes]:
        """Values of the present keys, fetched concurrently; a not-found key is left out, any
        other error raises, naming the key."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        paths = [self._full(k) for k in keys]
        results = _run(self._gather(self._get_one, paths))
        out = {}
        for key, value in zip(keys, results):
            if isinstance(value, FileNotFoundError):
                continue
            if isinstance(value, BaseException):
                raise read_error(self, key, value) from value
            out[key] = value
        return out

    def setitems(self, values: Mapping[str, Any]) -> None:
        """Store several values with concurrent uploads."""
        self._check_writable()
        items = [(self._full(k), _buffer(v)) for k, v in values.items()]
        if not items:
            return
        for result in _run(self._gather(self._put_one, items)):
            if isinstance(result, BaseException):
                raise result

    def delitems(self, keys: Iterable[str]) -> None:
        """Delete several keys with obstore's bulk delete; absent keys are ignored."""
        self._check_writable()
        paths = sorted({self._full(k) for k in keys})
        if paths:
            self._obstore.delete(self.store, paths)

    async def _gather(self, one: Any, items: list[Any]) -> list[Any]:
        limit = asyncio.Semaphore(self.concurrency)

        async def bounded(item: Any) -> Any:
            async with limit:
                try:
                    return await one(item)
                except Exception as e:
                    return e

        return await asyncio.gather(*(bounded(item) for item in items))

    async def _get_one(self, path: str) -> bytes:
        result = await self._obstore.get_async(self.store, path)
        return bytes(await result.bytes_async())

    async def _put_one(self, item: tuple[str, Any]) -> None:
        await self._obstore.put_async(self.store, item[0], item[1], **_put_options(item[1]))

    # -- partial reads ---------------------------------------------------------------------
    partial_reads = True  # range requests (a suffix too: ``bytes=-n``)

    @property
    def requests_in_flight(self) -> int:  # type: ignore[override]
        return self.concurrency  # (per batch: the chunk pipeline's calls add up to it)

    def getrange(self, key: str, start: int = 0, length: int | None = None) -> bytes:
        data = self.getranges([(key, start, length)])[0]
        if data is None:
            raise KeyError(key)
        return data

    def getranges(self, requests: Sequence[tuple[str, int, int | None]]) -> list[bytes | None]:
        """The ranges, fetched concurrently: the bounded ranges of a key that lie at most
        ``RANGE_GAP`` bytes apart are merged into one request (then cut apart), suffixes
        and open ranges take one request each. ``None`` for a not-found key; any other
        error raises, naming the key."""
        for _, start, length in requests:
            range_slice(start, length)
        if not requests:
            return []
        # jobs: (key, start, length, [(request index, offset in the job's bytes)])
        jobs: list[tuple[str, int, int | None, list[tuple[int, int]]]] = []
        bounded: dict[str, list[int]] = {}
        for i, (key, start, length) in enumerate(requests):
            if start >= 0 and length:
                bounded.setdefault(key, []).append(i)
            else:
                jobs.append((key, start, length, [(i, 0)]))
        for key, where in bounded.items():
            where.sort(key=lambda i: requests[i][1])
            first, end = -1, -1
            parts: list[tuple[int, int]] = []
            for i in where:
                start, length = requests[i][1], requests[i][2]
                assert length is not None
                if parts and start <= end + self.RANGE_GAP:
                    end = max(end, start + length)
                else:
                    if parts:
                        jobs.append((key, first, end - first, parts))
                    first, end, parts = start, start + length, []
                parts.append((i, start - first))
            jobs.append((key, first, end - first, parts))

        async def one(job: tuple[str, int, int | None, list[tuple[int, int]]]) -> bytes:
            return await self._range_one((self._full(job[0]), job[1], job[2]))

        results = _run(self._gather(one, jobs))
        out: list[bytes | None] = [None] * len(requests)
        for (key, _, _, parts), value in zip(jobs, results):
            if isinstance(value, FileNotFoundError):
                continue
            if isinstance(value, BaseException):
                raise read_error(self, key, value) from value
            if (
                len(parts) == 1
                and parts[0][1] == 0
                and requests[parts[0][0]][2] in (None, len(value))
            ):
                out[parts[0][0]] = value
                continue
            view = memoryview(value)
            for i, at in parts:
                length = requests[i][2]
                out[i] = bytes(view[at : None if length is None else at + length])
        return out

    async def _range_one(self, item: tuple[str, int, int | None]) -> bytes:
        path, start, length = item
        obstore = self._obstore
        store = self.store
        if start < 0:
            rng: Any = {"suffix": -start}
        elif length is None:
            rng = {"offset": start}
        else:
            rng = (start, start + length)
        try:
            if length == 0:
                raise ValueError("an empty range")
            result = await obstore.get_async(store, path, options={"range": rng})
            return bytes(await result.bytes_async())
        except FileNotFoundError:
            raise
        except Exception:
            # obstore refuses empty ranges and ranges starting at or past the end: those
            # read b"" (as a slice would) when the object is there
            size = (await obstore.head_async(store, path))["size"]
            if start >= 0 and (length == 0 or start >= size):
                return b""
            raise

    # -- hierarchy -----------------------------------------------------------------------
    def listdir(self, path: str = "") -> list[str]:
        """Names directly below ``path``; in the folder of an array of a store whose separator
        is '/', chunk keys rather than the folders of their first index (as FSStore)."""
        folder = self._folder(path)
        found = self._obstore.list_with_delimiter(self.store, folder.rstrip("/") or None)
        files = {o["path"].rsplit("/", 1)[-1] for o in found["objects"]}
        dirs = {p.rstrip("/").rsplit("/", 1)[-1] for p in found["common_prefixes"]}
        if self.key_separator != "/" or ".zarray" not in files:
            return sorted(files | dirs)
        nested = {d for d in dirs if d.isdigit()}
        chunks = [k for k in self.keys_under(path) if k.split("/", 1)[0] in nested]
        return sorted((files | dirs) - nested | set(chunks))

    def keys_under(self, path: str = "") -> list[str]:
        folder = self._folder(path)
        return sorted(o["path"][len(folder) :] for o in self._list(folder))

    def rmdir(self, path: str = "") -> None:
        self._check_writable()
        paths = [o["path"] for o in self._list(self._folder(path))]
        if paths:
            self._obstore.delete(self.store, paths)

    def getsize(self, path: str = "") -> int:
        """Bytes of the key ``path``, or of the keys directly in the folder ``path``."""
        if normalize_storage_path(path):
            try:
                return int(self._obstore.head(self.store, self._full(path))["size"])
            except FileNotFoundError:
                pass
        folder = self._folder(path)
        found = self._obstore.list_with_delimiter(self.store, folder.rstrip("/") or None)
        return sum(int(o["size"]) for o in found["objects"])

    def size_below(self, path: str = "") -> int:
        """Bytes of the key ``path`` or of every key below it, from one listing (no reads)."""
        if normalize_storage_path(path):
            try:
                return int(self._obstore.head(self.store, self._full(path))["size"])
            except FileNotFoundError:
                pass
        return sum(int(o["size"]) for o in self._list(self._folder(path)))

    def clear(self) -> None:
        self.rmdir("")

    # -- identity ------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ObjectStore):
            return False
        if self.url is not None:
            return self._params == other._params
        return self._store is other._store and self.path == other.path and self.mode == other.mode

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        where = repr(self.url) if self.url is not None else repr(self._store)
        path = f", path={self.path!r}" if self.path else ""
        return f"{type(self).__name__}({where}{path})"
