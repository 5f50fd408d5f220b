"""An in-memory least-recently-used cache in front of another store."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from .base import Store, as_store, normalize_storage_path, prefix_of, range_slice
from .base import _size_of as _stored_size


def _size_of(value: Any) -> int:
    """What a cached value counts against ``max_size`` (0 for a value that is no buffer)."""
    return max(_stored_size(value), 0)


class LRUStoreCache(Store):
    """Cache the values (and key listings) of ``store`` in memory, up to ``max_size`` bytes.

    Reads are answered from the cache when possible; a batched read (``getitems``) fetches
    all of its misses from ``store`` in one call. When the values held exceed ``max_size``
    the least recently used are dropped (a value larger than ``max_size`` is never cached;
    ``max_size=None`` means no limit). Writes and deletions go to ``store`` at once and
    update or drop what the cache holds (a key written or deleted by two threads at once, or
    by a failed write, is dropped: the cache never holds what the store may not). Listings
    (``keys()``, ``listdir``, ``in``) are cached until the next write through this cache;
    changes made to ``store`` by others are not seen until :meth:`invalidate` (or
    :meth:`invalidate_keys` / :meth:`invalidate_values`). Safe to use from several threads.

    ``hits`` and ``misses`` count the value reads answered from the cache and from ``store``.

    >>> from zarrkit.storage import MemoryStore
    >>> cache = LRUStoreCache(MemoryStore(), max_size=2**20)
    >>> cache['a'] = b'xyz'
    >>> cache.invalidate_values()
    >>> cache['a'], cache['a'], (cache.hits, cache.misses)
    (b'xyz', b'xyz', (1, 1))
    """

    _init_params = ("store", "max_size")

    def __init__(self, store: Any, max_size: int | None) -> None:
        self._store = as_store(store)
        self._max_size = max_size
        self._lock = threading.Lock()
        self._values: OrderedDict[str, Any] = OrderedDict()
        self._current_size = 0
        self._keys: list[str] | None = None
        self._contains: dict[str, bool] = {}
        self._listdirs: dict[str, list[str]] = {}
        self._generation = 0  # bumped by every write: fetches that overlap one are not cached
        # writes and deletions in flight, per key; a key written by two at once is 'contended'
        # and is then forgotten rather than cached (which write reached the store last is
        # not known here)
        self._in_flight: dict[str, int] = {}
        self._contended: set[str] = set()
        self.hits = 0
        self.misses = 0

    # -- cache bookkeeping ---------------------------------------------------------------
    @property
    def _dimension_separator(self) -> str | None:  # type: ignore[override]
        return self._store._dimension_separator

    @property
    def read_only(self) -> bool:
        return self._store.read_only

    @property
    def erasable(self) -> bool:  # type: ignore[override]
        return self._store.erasable

    @property
    def partial_reads(self) -> bool:  # type: ignore[override]
        return self._store.partial_reads

    def getrange(self, key: str, start: int = 0, length: int | None = None) -> bytes:
        part = range_slice(start, length)
        with self._lock:
            value = self._values.get(key)
        if value is None:
            return self._store.getrange(key, start, length)
        return bytes(memoryview(value).cast("B")[part])

    def getranges(self, requests: Sequence[tuple[str, int, int | None]]) -> list[bytes | None]:
        """Ranges of cached values from the cache, the others from ``store`` in one call."""
        out: list[bytes | None] = [None] * len(requests)
        misses = []
        with self._lock:
            for i, (key, start, length) in enumerate(requests):
                value = self._values.get(key)
                if value is None:
                    misses.append(i)
                else:
                    out[i] = bytes(memoryview(value).cast("B")[range_slice(start, length)])
        if misses:
            for i, data in zip(misses, self._store.getranges([requests[i] for i in misses])):
                out[i] = data
        return out

    @property
    def multiprocess_safe(self) -> bool:  # type: ignore[override]
        return self._store.multiprocess_safe

    @property
    def fork_safe(self) -> bool:  # type: ignore[override]
        return self._store.fork_safe

    def _put(self, key: str, value: Any) -> None:
        """Cache ``value`` (the lock is held)."""
        size = _size_of(value)
        self._drop(key)
        if self._max_size is not None:
            if size > self._max_size:
                return
            while self._current_size + size > self._max_size:
                _old, old = self._values.popitem(last=False)
                self._current_size -= _size_of(old)
        self._values[key] = value
        self._current_size += size

    def _drop(self, key: str) -> None:
        """Forget the cached value of ``key`` (the lock is held)."""
        old = self._values.pop(key, None)
        if old is not None:
            self._current_size -= _size_of(old)

    def _begin(self, keys: Iterable[str]) -> None:
        """Note writes or deletions of ``keys`` starting (the lock is held)."""
        for k in keys:
            n = self._in_flight.get(k, 0)
            if n:
                self._contended.add(k)
            self._in_flight[k] = n + 1

    def _end(self, keys: Iterable[str]) -> list[str]:
        """Note them done (the lock is held); returns the keys whose outcome is known: those
        no other write or deletion overlapped."""
        known = []
        for k in keys:
            n = self._in_flight[k] - 1
            if n:
                self._in_flight[k] = n
            else:
                del self._in_flight[k]
            if k in self._contended:
                if not n:
                    self._contended.discard(k)
            else:
                known.append(k)
        return known

    def _wrote(self, keys: Iterable[str], present: bool | None) -> None:
        """Listings after writes (``present``), deletions or failures (None) of ``keys``
        (the lock is held)."""
        self._generation += 1
        self._keys = None
        self._listdirs.clear()
        for k in keys:
            if present is None:
                self._contains.pop(k, None)
            else:
                self._contains[k] = present

    def invalidate(self) -> None:
        """Forget everything cached."""
        with self._lock:
            self._values.clear()
            self._current_size = 0
            self._invalidate_keys()

    def invalidate_values(self) -> None:
        """Forget the cached values."""
        with self._lock:
            self._generation += 1
            self._values.clear()
            self._current_size = 0

    def invalidate_keys(self) -> None:
        """Forget the cached listings and ``in`` answers."""
        with self._lock:
            self._invalidate_keys()

    def _invalidate_keys(self) -> None:
        self._generation += 1
        self._keys = None
        self._contains.clear()
        self._listdirs.clear()

    # -- reads ---------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                self.hits += 1
                return self._values[key]
            self.misses += 1
            generation = self._generation
        value = self._store[key]
        with self._lock:
            if generation == self._generation:
                self._put(key, value)
        return value

    def getitems(self, keys: Iterable[str], *, contexts: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        missing = []
        with self._lock:
            for k in keys:
                if k in self._values:
                    self._values.move_to_end(k)
                    out[k] = self._values[k]
                else:
                    missing.append(k)
            self.hits += len(out)
            self.misses += len(missing)
            generation = self._generation
        if missing:
            fetched = self._store.getitems(missing, contexts=contexts)
            with self._lock:
                if generation == self._generation:
                    for k, v in fetched.items():
                        self._put(k, v)
            out.update(fetched)
        return out

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        with self._lock:
            if key in self._values:
                return True
            if key in self._contains:
                return self._contains[key]
            generation = self._generation
        present = key in self._store
        with self._lock:
            if generation == self._generation:
                self._contains[key] = present
        return present

    def _key_list(self) -> list[str]:
        with self._lock:
            if self._keys is not None:
                return self._keys
            generation = self._generation
        keys = list(self._store.keys())
        with self._lock:
            if generation == self._generation:
                self._keys = keys
        return keys

    def keys(self) -> Any:
        return list(self._key_list())  # a copy: callers must not change the cached listing

    def __iter__(self) -> Iterator[str]:
        return iter(self._key_list())

    def __len__(self) -> int:
        return len(self._key_list())

    def listdir(self, path: str = "") -> list[str]:
        path = normalize_storage_path(path)
        with self._lock:
            if path in self._listdirs:
                return list(self._listdirs[path])
            generation = self._generation
        names = self._store.listdir(path)
        with self._lock:
            if generation == self._generation:
                self._listdirs[path] = list(names)
        return names

    def keys_under(self, path: str = "") -> list[str]:
        return self._store.keys_under(path)

    def getsize(self, path: str = "") -> int:
        return self._store.getsize(path)

    def size_below(self, path: str = "") -> int:
        return self._store.size_below(path)

    # -- writes --------------------------------------------------------------------------
    def __setitem__(self, key: str, value: Any) -> None:
        self.setitems({key: value})

    def setitems(self, values: Mapping[str, Any]) -> None:
        values = dict(values)
        for k, v in values.items():
            if _stored_size(v) < 0:
                raise TypeError(f"value of {k!r} is not bytes or a buffer: {type(v).__name__}")
        with self._lock:
            self._begin(values)
        ok = False
        try:
            self._store.setitems(values)
            ok = True
        finally:
            with self._lock:
                ended = self._end(values)  # always: the keys are no longer in flight
                known = set(ended) if ok else set()
                for k in values:
                    self._drop(k)
                self._wrote(known, present=True)
                self._wrote(set(values) - known, present=None)
                for k in known:
                    v = values[k]
                    if isinstance(v, bytes):  # not a buffer the caller may reuse
                        self._put(k, v)

    def __delitem__(self, key: str) -> None:
        self._delete([key], lambda: self._store.__delitem__(key))

    def delitems(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        self._delete(keys, lambda: self._store.delitems(keys))

    def _delete(self, keys: list[str], delete: Callable[[], None]) -> None:
        with self._lock:
            self._begin(keys)
        ok = False
        try:
            delete()
            ok = True
        finally:
            with self._lock:
                ended = self._end(keys)
                known = set(ended) if ok else set()
                for k in keys:
                    self._drop(k)
                self._wrote(known, present=False)
                self._wrote(set(keys) - known, present=None)

    def rmdir(self, path: str = "") -> None:
        path = normalize_storage_path(path)
        prefix = prefix_of(path)
        try:
            self._store.rmdir(path)
        finally:
            with self._lock:
                for k in [k for k in self._values if k.startswith(prefix) or k == path]:
                    self._drop(k)
                self._invalidate_keys()

    def rename(self, src_path: str, dst_path: str) -> None:
        try:
            self._store.rename(src_path, dst_path)
        finally:
            self.invalidate()

    def close(self) -> None:
        self._store.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._store!r}, max_size={self._max_size})"
