"""A store in an LMDB database (optional dependency: ``pip install 'zarrkit[lmdb]'``)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .base import LazyHandle, Store, normalize_storage_path, path_argument, prefix_of


def _import_lmdb() -> Any:
    try:
        import lmdb
    except ImportError:
        raise ImportError(
            "LMDBStore needs the 'lmdb' package: pip install 'zarrkit[lmdb]' (or pip install lmdb)"
        ) from None
    return lmdb


# LMDB forbids opening one environment twice in a process: stores of the same path share it
_envs: dict[tuple[str, int], list] = {}  # (path, pid) -> [environment, number of users]
_envs_lock = threading.Lock()


def _acquire_env(lmdb: Any, path: str, kwargs: dict) -> Any:
    with _envs_lock:
        entry = _envs.get((path, os.getpid()))
        if entry is None:
            # an environment inherited through fork cannot be used here, and lmdb refuses to
            # open the path again while it is open: close the inherited copy (the parent's
            # stays open; the child only drops its own mapping)
            for key in [k for k in _envs if k[0] == path]:
                _envs.pop(key)[0].close()
            entry = _envs[(path, os.getpid())] = [lmdb.open(path, **kwargs), 0]
        entry[1] += 1
        return entry[0]


def _release_env(path: str) -> None:
    with _envs_lock:
        entry = _envs.get((path, os.getpid()))
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del _envs[(path, os.getpid())]
            env = entry[0]
            if not env.flags().get("readonly"):
                env.sync(True)
            env.close()


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else memoryview(value).tobytes()


class LMDBStore(Store):
    """Keys and values in an `LMDB <https://lmdb.readthedocs.io>`_ memory-mapped database.

    Parameters
    ----------
    path : str
        Location of the database (a directory, unless ``subdir=False`` is passed).
    buffers : bool
        Accepted for zarr 2 compatibility; values are always returned as ``bytes`` (an LMDB
        buffer is only valid inside its transaction).
    **kwargs
        Passed to ``lmdb.open``. Defaults here: ``map_size`` 1 TiB on 64-bit systems (space is
        only used as written), ``sync``/``metasync`` off (call :meth:`flush`, or :meth:`close`,
        to make writes durable), ``max_spare_txns`` 0 (a cached read transaction would lose its
        reader slot when a forked child opens the database).

    The environment opens lazily in the process that first uses it, so the store pickles to
    its path and options; stores of one path in one process share its environment (LMDB
    forbids opening it twice). LMDB supports many reader and writer processes on one machine.
    Batched reads and writes (``getitems``/``setitems``/``delitems``) each run in one
    transaction.

    >>> import tempfile, os
    >>> s = LMDBStore(os.path.join(tempfile.mkdtemp(), 'x.lmdb'))
    >>> s.setitems({'a': b'1', 'b/c': b'2'})
    >>> sorted(s.getitems(['a', 'b/c', 'missing']).items())
    [('a', b'1'), ('b/c', b'2')]
    >>> s.close()
    """

    def __init__(
        self,
        path: str | os.PathLike,
        buffers: bool = True,
        dimension_separator: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._lmdb = _import_lmdb()
        self.path = os.path.abspath(path_argument(path, f"{type(self).__name__} path"))
        self.buffers = buffers
        kwargs.setdefault("map_size", 2**40 if sys.maxsize >= 2**32 else 2**28)
        kwargs.setdefault("sync", False)
        kwargs.setdefault("metasync", False)
        # a cached read transaction keeps its slot in LMDB's reader table, and a forked child
        # that closes the inherited environment (to open its own) frees that slot under
        # this process: no caching, so that the parent keeps working after a fork
        kwargs.setdefault("max_spare_txns", 0)
        self.kwargs = kwargs
        self._dimension_separator = dimension_separator
        self._read_only = bool(kwargs.get("readonly", False))
        self._env = LazyHandle(
            lambda: _acquire_env(self._lmdb, self.path, self.kwargs), self._release
        )

    _init_params = ("path", "buffers", "dimension_separator", "**kwargs")

    def _init_args(self) -> dict[str, Any]:
        self.flush()  # what the copy reads must be on disk
        return super()._init_args()

    @property
    def env(self) -> Any:
        """The LMDB environment (opened here, in this process, on first use)."""
        return self._env.get()

    def _release(self, env: Any) -> None:
        if not self._read_only:
            env.sync(True)
        _release_env(self.path)

    def __getitem__(self, key: str) -> bytes:
        with self.env.begin() as txn:
            value = txn.get(key.encode("utf-8"))
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self.setitems({key: value})

    def __delitem__(self, key: str) -> None:
        with self.env.begin(write=True) as txn:
            if not txn.delete(key.encode("utf-8")):
                raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        with self.env.begin() as txn, txn.cursor() as cursor:
            return cursor.set_key(key.encode("utf-8"))

    def __iter__(self) -> Iterator[str]:
        with self.env.begin() as txn, txn.cursor() as cursor:
            keys = [k.decode("utf-8") for k in cursor.iternext(keys=True, values=False)]
        return iter(keys)

    def __len__(self) -> int:
        return self.env.stat()["entries"]

    def getitems(self, keys: Iterable[str], *, contexts: Any = None) -> dict[str, bytes]:
        out = {}
        with self.env.begin() as txn:
            for k in keys:
                value = txn.get(k.encode("utf-8"))
                if value is not None:
                    out[k] = value
        return out

    def setitems(self, values: Mapping[str, Any]) -> None:
        with self.env.begin(write=True) as txn:
            for k, v in values.items():
                txn.put(k.encode("utf-8"), _bytes(v))

    def delitems(self, keys: Iterable[str]) -> None:
        with self.env.begin(write=True) as txn:
            for k in keys:
                txn.delete(k.encode("utf-8"))

    def _under(self, txn: Any, path: str, values: bool = False) -> Iterator[Any]:
        """(key, value) or keys (bytes) below ``path`` in key order, from a cursor."""
        prefix = prefix_of(normalize_storage_path(path)).encode("utf-8")
        cursor = txn.cursor()
        if not cursor.set_range(prefix):
            return
        for item in cursor.iternext(keys=True, values=values):
            key = item[0] if values else item
            if not key.startswith(prefix):
                break
            yield item

    def keys_under(self, path: str = "") -> list[str]:
        start = len(prefix_of(normalize_storage_path(path)))
        with self.env.begin() as txn:
            return [k[start:].decode("utf-8") for k in self._under(txn, path)]

    def listdir(self, path: str = "") -> list[str]:
        return sorted({k.split("/", 1)[0] for k in self.keys_under(path)})

    def rmdir(self, path: str = "") -> None:
        with self.env.begin(write=True) as txn:
            for key in list(self._under(txn, path)):
                txn.delete(key)

    def getsize(self, path: str = "") -> int:
        return self._size(path, deep=False)

    def size_below(self, path: str = "") -> int:
        return self._size(path, deep=True)

    def _size(self, path: str, deep: bool) -> int:
        """Bytes of the key ``path``, or of the keys below it (only the direct ones unless
        ``deep``)."""
        path = normalize_storage_path(path)
        start = len(prefix_of(path).encode("utf-8"))
        with self.env.begin() as txn:
            if path:
                value = txn.get(path.encode("utf-8"))
                if value is not None:
                    return len(value)
            return sum(
                len(v)
                for k, v in self._under(txn, path, values=True)
                if deep or b"/" not in bytes(k)[start:]
            )

    def flush(self) -> None:
        """Make written data durable (the environment is opened without syncing)."""
        if self._env.is_open and not self._read_only:
            self._env.get().sync(True)

    def close(self) -> None:
        """Flush and close the environment; it reopens on the next use."""
        self._env.close()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LMDBStore) and self.path == other.path

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"
