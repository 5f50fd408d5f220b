"""A store in a SQLite database file (standard library ``sqlite3``)."""

from __future__ import annotations

import os
import pickle
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .base import LazyHandle, Store, normalize_storage_path, path_argument, prefix_of


class SQLiteStore(Store):
    """Keys and values in one table of a SQLite database.

    The connection opens lazily in the process that first uses it (so the store pickles to
    its path and works across processes) and is shared by threads behind a lock. Batched
    reads and writes run as single statements in one transaction.

    >>> import tempfile, os
    >>> s = SQLiteStore(os.path.join(tempfile.mkdtemp(), 'x.sqldb'))
    >>> s.setitems({'a': b'1', 'b/c': b'2'})
    >>> sorted(s.getitems(['a', 'b/c', 'missing']).items())
    [('a', b'1'), ('b/c', b'2')]
    >>> s.close()
    """

    _init_params = ("path", "dimension_separator", "**kwargs")

    def __init__(
        self, path: str | os.PathLike, dimension_separator: str | None = None, **kwargs: Any
    ) -> None:
        path = path_argument(path, f"{type(self).__name__} path")
        self.path = path if path == ":memory:" else os.path.abspath(path)
        self.kwargs = kwargs
        self._dimension_separator = dimension_separator
        self._lock = threading.RLock()
        self._conn = LazyHandle(self._connect)

    def _init_args(self) -> dict[str, Any]:
        if self.path == ":memory:":
            raise pickle.PicklingError("an in-memory SQLiteStore cannot be pickled")
        return super()._init_args()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, **self.kwargs)
        conn.execute("CREATE TABLE IF NOT EXISTS zarr(k TEXT PRIMARY KEY, v BLOB)")
        conn.commit()
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection (opened here, in this process, on first use)."""
        return self._conn.get()

    def __getitem__(self, key: str) -> bytes:
        with self._lock:
            row = self.conn.execute("SELECT v FROM zarr WHERE k = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return bytes(row[0])

    def __setitem__(self, key: str, value: Any) -> None:
        self.setitems({key: value})

    def __delitem__(self, key: str) -> None:
        with self._lock, self.conn:
            cur = self.conn.execute("DELETE FROM zarr WHERE k = ?", (key,))
        if cur.rowcount == 0:
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            row = self.conn.execute("SELECT 1 FROM zarr WHERE k = ?", (key,)).fetchone()
        return row is not None

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            keys = [r[0] for r in self.conn.execute("SELECT k FROM zarr ORDER BY k")]
        return iter(keys)

    def __len__(self) -> int:
        with self._lock:
            return self.conn.execute("SELECT COUNT(*) FROM zarr").fetchone()[0]

    def getitems(self, keys: Iterable[str], *, contexts: Any = None) -> dict[str, bytes]:
        keys = list(keys)
        out: dict[str, bytes] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = self.conn.execute(f"SELECT k, v FROM zarr WHERE k IN ({marks})", part)
                out.update((k, bytes(v)) for k, v in rows)
        return out

    def setitems(self, values: Mapping[str, Any]) -> None:
        rows = [
            (k, v if isinstance(v, bytes) else memoryview(v).tobytes()) for k, v in values.items()
        ]
        with self._lock, self.conn:
            self.conn.executemany("REPLACE INTO zarr(k, v) VALUES (?, ?)", rows)

    def delitems(self, keys: Iterable[str]) -> None:
        with self._lock, self.conn:
            self.conn.executemany("DELETE FROM zarr WHERE k = ?", [(k,) for k in keys])

    def keys_under(self, path: str = "") -> list[str]:
        prefix = prefix_of(normalize_storage_path(path))
        with self._lock:
            rows = self.conn.execute(
                "SELECT k FROM zarr WHERE substr(k, 1, ?) = ? ORDER BY k", (len(prefix), prefix)
            )
            return [r[0][len(prefix) :] for r in rows]

    def listdir(self, path: str = "") -> list[str]:
        return sorted({k.split("/", 1)[0] for k in self.keys_under(path)})

    def rmdir(self, path: str = "") -> None:
        path = normalize_storage_path(path)
        prefix = prefix_of(path)
        with self._lock, self.conn:
            if prefix:
                self.conn.execute(
                    "DELETE FROM zarr WHERE substr(k, 1, ?) = ?", (len(prefix), prefix)
                )
            else:
                self.conn.execute("DELETE FROM zarr")

    def getsize(self, path: str = "") -> int:
        path = normalize_storage_path(path)
        prefix = prefix_of(path)
        with self._lock:
            row = self.conn.execute(
                "SELECT COALESCE(SUM(LENGTH(v)), 0) FROM zarr WHERE k = ? OR "
                "(substr(k, 1, ?) = ? AND instr(substr(k, ?), '/') = 0)",
                (path, len(prefix), prefix, len(prefix) + 1),
            ).fetchone()
        return int(row[0])

    def size_below(self, path: str = "") -> int:
        path = normalize_storage_path(path)
        prefix = prefix_of(path)
        with self._lock:
            row = self.conn.execute(
                "SELECT COALESCE(SUM(LENGTH(v)), 0) FROM zarr WHERE k = ? OR substr(k, 1, ?) = ?",
                (path, len(prefix), prefix),
            ).fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the connection; it reopens on the next use."""
        with self._lock:
            self._conn.close()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SQLiteStore) and self.path == other.path

    __hash__ = None  # type: ignore[assignment]
