"""In-memory store: a flat dict of key -> bytes, safe for concurrent threads."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from .base import Store, as_bytes, normalize_storage_path, prefix_of, range_slice


def _parents(key: str) -> Iterator[str]:
    """``'a/b/c'`` -> ``'a'``, ``'a/b'``."""
    i = key.find("/")
    while i != -1:
        yield key[:i]
        i = key.find("/", i + 1)


class MemoryStore(Store):
    """Keeps every key in a dict in this process; pickles with its data.

    Keys form a hierarchy as files do in a :class:`DirectoryStore`: a key cannot also be a
    'directory' of other keys (``'a/b'`` blocks ``'a/b/c'`` and the other way round, with a
    ``KeyError``); deleting a 'directory' deletes what is below it. Values are stored as
    ``bytes``; a value that is not a buffer is a ``TypeError``.

    >>> s = MemoryStore()
    >>> s['foo/.zarray'] = b'{}'
    >>> s.listdir()
    ['foo']
    """

    _init_params = ("root", "dimension_separator")
    multiprocess_safe = False  # writes from another process are lost or corrupt
    verbatim = True
    partial_reads = True  # a range is sliced from the value, the rest is not copied

    def __init__(self, root: dict | None = None, dimension_separator: str | None = None) -> None:
        self._data: dict[str, bytes] = {} if root is None else root
        self._dimension_separator = dimension_separator
        self._lock = threading.RLock()
        # number of keys below each 'directory' ('a' and 'a/b' for the key 'a/b/c')
        self._dirs: dict[str, int] = {}
        for k in self._data:
            self._count(k, 1)

    @property
    def root(self) -> dict[str, bytes]:
        """The dict of keys and values (zarr 2's name); it pickles with the store."""
        return self._data

    def _count(self, key: str, step: int) -> None:
        dirs = self._dirs
        for p in _parents(key):
            n = dirs.get(p, 0) + step
            if n:
                dirs[p] = n
            else:
                del dirs[p]

    def _add(self, key: str) -> None:
        """Check that the new key ``key`` fits the hierarchy and count it (the lock is held)."""
        if key in self._dirs:
            # zarr 2 silently dropped everything below; refuse instead (as DirectoryStore)
            raise KeyError(f"{key!r} holds other keys; delete them first")
        data = self._data
        for p in _parents(key):
            if p in data:
                raise KeyError(f"{key!r}: {p!r} is a key, not a directory")
        self._count(key, 1)

    def _remove_below(self, path: str) -> None:
        """Delete every key below ``path`` (the lock is held)."""
        prefix = prefix_of(path)
        for k in [k for k in self._data if k.startswith(prefix)]:
            del self._data[k]
            self._count(k, -1)

    def __getitem__(self, key: str) -> bytes:
        return self._data[key]

    def getrange(self, key: str, start: int = 0, length: int | None = None) -> bytes:
        return self._data[key][range_slice(start, length)]

    def getranges(self, requests: Sequence[tuple[str, int, int | None]]) -> list[bytes | None]:
        data = self._data
        out: list[bytes | None] = []
        for key, start, length in requests:
            value = data.get(key)  # one lookup: safe against a deletion
            out.append(None if value is None else value[range_slice(start, length)])
        return out

    def __setitem__(self, key: str, value: Any) -> None:
        value = as_bytes(value)
        with self._lock:
            if key not in self._data:
                self._add(key)
            self._data[key] = value

    def __delitem__(self, key: str) -> None:
        with self._lock:
            if key in self._data:
                del self._data[key]
                self._count(key, -1)
            elif key in self._dirs:
                self._remove_below(key)
            else:
                raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def getitems(self, keys: Iterable[str], *, contexts: Any = None) -> dict[str, Any]:
        data = self._data
        found = ((k, data.get(k)) for k in keys)  # one lookup: safe against a deletion
        return {k: v for k, v in found if v is not None}

    def setitems(self, values: Mapping[str, Any]) -> None:
        values = {k: as_bytes(v) for k, v in values.items()}
        with self._lock:
            data = self._data
            for k in values:
                if k not in data:
                    self._add(k)
                    data[k] = values[k]  # a later key of the batch may depend on this one
            data.update(values)

    def delitems(self, keys: Iterable[str]) -> None:
        with self._lock:
            for k in keys:
                if self._data.pop(k, None) is not None:
                    self._count(k, -1)

    def listdir(self, path: str = "") -> list[str]:
        path = normalize_storage_path(path)
        with self._lock:
            if path and path not in self._dirs:
                return []
        return super().listdir(path)

    def rmdir(self, path: str = "") -> None:
        path = normalize_storage_path(path)
        with self._lock:
            if not path:
                self._data.clear()
                self._dirs.clear()
            elif path in self._dirs:
                self._remove_below(path)

    def clear(self) -> None:
        self.rmdir()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MemoryStore) and self._data == other._data

    __hash__ = None  # type: ignore[assignment]


class DictStore(MemoryStore):
    """zarr 2's old name of :class:`MemoryStore` (deprecated)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn(
            "DictStore has been renamed MemoryStore in zarr 2.4.0 and will be removed; "
            "use MemoryStore",
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__(*args, **kwargs)  # unpickling warns too, as zarr 2 did
