"""A store in a DBM-style database (``dbm``, ``dbm.dumb``, ``dbm.gnu``, Berkeley DB's
``berkeleydb.btopen`` / ``bsddb3.btopen``, ...)."""

from __future__ import annotations

import atexit
import dbm
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from .base import Store, path_argument, read_error

_DEFAULT_OPEN = dbm.open


class _Handle:
    """One open database of this process, shared by every store of its path (two handles
    on one DBM file would each keep their own index and overwrite each other's)."""

    def __init__(self, db: Any, writable: bool, locked: bool) -> None:
        self.db = db
        self.writable = writable
        self.lock: Any = threading.RLock() if locked else _NoLock()
        self.users = 0


_handles: dict[tuple[str, Any, int], _Handle] = {}
_handles_lock = threading.Lock()


@atexit.register
def _close_all() -> None:
    """Close the databases still open at exit (dbm.dumb writes its index on close)."""
    with _handles_lock:
        for (_path, _open, pid), handle in list(_handles.items()):
            if pid == os.getpid():
                try:
                    handle.db.close()
                except Exception:  # noqa: BLE001 - exit goes on for the other databases
                    pass
        _handles.clear()


class DBMStore(Store):
    """Keys and values in a database opened by any DBM-style ``open`` function.

    Parameters
    ----------
    path : str
        Database file (some modules add suffixes such as ``.dat``/``.dir``).
    flag : str
        ``'r'`` read only, ``'w'`` read/write an existing database, ``'c'`` (default)
        read/write and create if missing, ``'n'`` always start empty.
    mode : int
        Permission bits of a new database file.
    open : callable
        ``open(path, flag, mode, **open_kwargs)`` returning a mapping of bytes to bytes;
        ``dbm.open`` by default (which picks what this Python has, maybe only ``dbm.dumb``).
        Berkeley DB B-trees: ``berkeleydb.btopen`` (``pip install 'zarrkit[berkeleydb]'``,
        which builds against the Berkeley DB headers, Debian's ``libdb-dev``) or the older
        ``bsddb3.btopen`` of zarr 2's tutorial.
    write_lock : bool
        Serialise the use of the database by the threads of this process (default True;
        DBM modules are generally not thread-safe).

    The database opens lazily, in the process that first uses the store, so a store pickles
    to its parameters. DBM databases are not safe for several processes writing at once:
    writing from a process other than the one that created the store emits a
    ``RuntimeWarning``; use :class:`LMDBStore` or :class:`SQLiteStore` for that. Only a
    ``KeyError`` of the database reads as a missing key; any other error raises, naming the
    store and the key. Call
    :meth:`flush` or :meth:`close` (or use ``with``) so that writes reach the disk.

    >>> import dbm.dumb, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), 'x.db')
    >>> with DBMStore(path, open=dbm.dumb.open) as s:
    ...     s['foo/.zgroup'] = b'{}'
    >>> DBMStore(path, open=dbm.dumb.open, flag='r')['foo/.zgroup']
    b'{}'
    """

    multiprocess_safe = False  # writes from another process are lost or corrupt

    def __init__(
        self,
        path: str | os.PathLike,
        flag: str = "c",
        mode: int = 0o666,
        open: Callable[..., Any] | None = None,
        write_lock: bool = True,
        dimension_separator: str | None = None,
        **open_kwargs: Any,
    ) -> None:
        self.path = os.path.abspath(path_argument(path, f"{type(self).__name__} path"))
        self.flag = flag
        self.mode = mode
        self.open: Callable[..., Any] = _DEFAULT_OPEN if open is None else open
        self.write_lock = write_lock
        self.open_kwargs = open_kwargs
        self._dimension_separator = dimension_separator
        self._read_only = flag.startswith("r")
        self._handle: _Handle | None = None
        self._pid: int | None = None
        self._owner_pid = os.getpid()
        self._warned = False
        self._reopen_flag = flag

    def __getstate__(self) -> dict:
        self.flush()
        return {
            "path": self.path,
            "flag": self._reopen_flag,
            "mode": self.mode,
            "open": self.open,
            "write_lock": self.write_lock,
            "sep": self._dimension_separator,
            "open_kwargs": self.open_kwargs,
            "owner": self._owner_pid,
        }

    def __setstate__(self, state: dict) -> None:
        DBMStore.__init__(
            self,
            state["path"],
            state["flag"],
            state["mode"],
            state["open"],
            state["write_lock"],
            state["sep"],
            **state["open_kwargs"],
        )
        self._owner_pid = state["owner"]

    @property
    def _lock(self) -> Any:
        return self._open().lock

    @property
    def db(self) -> Any:
        """The open database (opened here, in this process, on first use)."""
        return self._open().db

    def _open(self) -> _Handle:
        handle = self._handle
        if handle is not None and self._pid == os.getpid():
            return handle
        pid = os.getpid()
        with _handles_lock:
            handle = _handles.get((self.path, self.open, pid))
            if handle is None:
                db = self.open(self.path, self._reopen_flag, self.mode, **self.open_kwargs)
                handle = _Handle(db, not self._read_only, self.write_lock)
                _handles[(self.path, self.open, pid)] = handle
            elif not handle.writable and not self._read_only:
                raise ValueError(
                    f"{self.path!r} is open read-only in this process; close that store first"
                )
            handle.users += 1
            self._handle, self._pid = handle, pid
            if self._reopen_flag == "n":
                self._reopen_flag = "c"  # reopening must not empty it again
        return handle

    def _check_write(self) -> None:
        self._check_writable()
        if os.getpid() != self._owner_pid and not self._warned:
            self._warned = True
            warnings.warn(
                f"DBMStore({self.path!r}) written from a second process: DBM databases are "
                "not safe for concurrent writers; use LMDBStore or SQLiteStore instead",
                RuntimeWarning,
                stacklevel=3,
            )

    def __getitem__(self, key: str) -> bytes:
        with self._lock:
            return self._get(self.db, key)

    def _get(self, db: Any, key: str) -> bytes:
        """The value of ``key``: ``KeyError`` when it is absent, any other error of the
        database raised naming the store and the key (never read as "missing")."""
        try:
            return bytes(db[key.encode("utf-8")])
        except KeyError:
            raise
        except Exception as e:
            raise read_error(self, key, e) from e

    def __setitem__(self, key: str, value: Any) -> None:
        self.setitems({key: value})

    def __delitem__(self, key: str) -> None:
        self._check_write()
        with self._lock:
            del self.db[key.encode("utf-8")]

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        with self._lock:
            return key.encode("utf-8") in self.db

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            keys = [k.decode("utf-8") if isinstance(k, bytes) else k for k in self.db.keys()]
        return iter(keys)

    def __len__(self) -> int:
        with self._lock:
            return len(self.db)

    def getitems(self, keys: Iterable[str], *, contexts: Any = None) -> dict[str, bytes]:
        out = {}
        with self._lock:
            db = self.db
            for k in keys:
                try:
                    out[k] = self._get(db, k)
                except KeyError:
                    pass
        return out

    def setitems(self, values: Mapping[str, Any]) -> None:
        self._check_write()
        with self._lock:
            db = self.db
            for k, v in values.items():
                db[k.encode("utf-8")] = v if isinstance(v, bytes) else memoryview(v).tobytes()

    def delitems(self, keys: Iterable[str]) -> None:
        self._check_write()
        with self._lock:
            db = self.db
            for k in keys:
                try:
                    del db[k.encode("utf-8")]
                except KeyError:
                    pass

    def flush(self) -> None:
        """Write buffered changes to disk (where the DBM module buffers any)."""
        handle = self._handle
        if handle is None or self._pid != os.getpid() or not handle.writable:
            return
        with handle.lock:
            for name in ("sync", "_commit"):
                method = getattr(handle.db, name, None)
                if method is not None:
                    method()
                    return

    def close(self) -> None:
        """Flush and close the database (once no other store of this process uses it); it
        reopens on the next use."""
        handle = self._handle
        if handle is None or self._pid != os.getpid():
            self._handle = None
            return
        self.flush()
        with _handles_lock:
            self._handle = None
            handle.users -= 1
            if handle.users <= 0:
                _handles.pop((self.path, self.open, self._pid), None)
                with handle.lock:
                    handle.db.close()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DBMStore) and (self.path, self.open) == (other.path, other.open)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
