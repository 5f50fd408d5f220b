"""In-memory store: a flat dict of key -> bytes, safe for concurrent threads."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .base import Store, normalize_storage_path, prefix_of


class MemoryStore(Store):
    """Keeps every key in a dict in this process; pickles with its data.

    >>> s = MemoryStore()
    >>> s['foo/.zarray'] = b'{}'
    >>> s.listdir()
    ['foo']
    """

    def __init__(self, root: dict | None = None, dimension_separator: str | None = None) -> None:
        self._data: dict[str, Any] = {} if root is None else root
        self._dimension_separator = dimension_separator
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {"data": self._data, "sep": self._dimension_separator}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["data"], state["sep"])

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._check_writable()
        self._data[key] = _as_bytes(value)

    def __delitem__(self, key: str) -> None:
        self._check_writable()
        del self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def getitems(self, keys: Iterable[str], *, contexts: Any = None) -> dict[str, Any]:
        data = self._data
        return {k: data[k] for k in keys if k in data}

    def setitems(self, values: Mapping[str, Any]) -> None:
        self._check_writable()
        with self._lock:
            self._data.update({k: _as_bytes(v) for k, v in values.items()})

    def delitems(self, keys: Iterable[str]) -> None:
        self._check_writable()
        with self._lock:
            for k in keys:
                self._data.pop(k, None)

    def rmdir(self, path: str = "") -> None:
        self._check_writable()
        path = normalize_storage_path(path)
        prefix = prefix_of(path)
        with self._lock:
            for k in [k for k in self._data if k.startswith(prefix) or k == path]:
                del self._data[k]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MemoryStore) and self._data == other._data

    __hash__ = None  # type: ignore[assignment]


def _as_bytes(value: Any) -> Any:
    if isinstance(value, bytes):
        return value
    try:
        return memoryview(value).tobytes()
    except TypeError:
        return value
